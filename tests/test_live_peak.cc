// LivePeak against a record of every value it was told: the peak it gives
// is never below a value told within the last window, and never above the
// largest one it has not yet had two turns of the window to forget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "live_peak.h"

namespace {

using uvm::LivePeak;

TEST(LivePeakTest, RaisesHoldForAWindowThenGo) {
  LivePeak p;
  EXPECT_EQ(p.get(5, 1000, 100), 5u);
  p.raise(40);
  p.raise(20);  // not a new peak
  EXPECT_EQ(p.get(10, 1050, 100), 40u);
  EXPECT_EQ(p.get(10, 1120, 100), 40u);  // the last window's peak
  EXPECT_EQ(p.get(7, 1230, 100), 10u);   // two windows on: this window's and the last's
  EXPECT_EQ(p.get(3, 1340, 100), 7u);
  EXPECT_EQ(p.get(3, 1450, 100), 3u);
}

TEST(LivePeakTest, ModelOfRandomSteps) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    const uint64_t window = 1 + rng() % 50;
    LivePeak p;
    std::vector<std::pair<uint64_t, size_t>> seen;  // (time, live) told
    std::vector<uint64_t> gets;                     // times of get()
    uint64_t now = 1 + rng() % 1000;
    for (int step = 0; step < 3000; ++step) {
      now += rng() % 4 == 0 ? rng() % (3 * window) : rng() % 3;
      size_t live = rng() % 1000;
      if (rng() % 2 == 0) {
        p.raise(live);
        seen.emplace_back(now, live);
        continue;
      }
      size_t got = p.get(live, now, window);
      // A value told less than a window ago is kept. One told at t is gone
      // once a get() at least a window after t was followed by a window
      // more (two turns of the window since).
      size_t low = live, high = live;
      for (const auto& [t, v] : seen) {
        if (t + window > now) low = std::max(low, v);
        auto g1 = std::lower_bound(gets.begin(), gets.end(), t + window);
        if (g1 == gets.end() || now < *g1 + window) high = std::max(high, v);
      }
      ASSERT_GE(got, low) << "seed " << seed << " step " << step;
      ASSERT_LE(got, high) << "seed " << seed << " step " << step;
      seen.emplace_back(now, live);
      gets.push_back(now);
    }
  }
}

// Raises from several threads: the peak is the largest of them.
TEST(LivePeakTest, ConcurrentRaisesKeepTheLargest) {
  LivePeak p;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&p, t] {
      for (size_t i = 0; i < 100000; ++i) p.raise(i * 4 + t);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(p.get(0, 1, 1000), 99999u * 4 + 3);
}

}  // namespace
