// PagePool tests: runs of memfd offsets, warm and cold pages, punch hole,
// decay, the pool limit and io_uring refill. Every test runs with io_uring on
// and off (the synchronous fallback). Data is checked through mappings of the
// pool's memfd made here, as the vmalloc layer would.
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "page_pool.h"
#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

constexpr size_t P = pal::kPageSize;
constexpr size_t MiB = size_t{1} << 20;

// Whether this machine lets a process set up an io_uring at all.
bool uring_works() {
  io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

// A read-write shared mapping of one run of the pool's memfd.
class RunMap {
 public:
  RunMap(int fd, page_run run) : len_(run.len) {
    void* p =
        mmap(nullptr, run.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(run.off));
    p_ = p == MAP_FAILED ? nullptr : static_cast<unsigned char*>(p);
  }
  RunMap(const RunMap&) = delete;
  RunMap& operator=(const RunMap&) = delete;
  ~RunMap() {
    if (p_ != nullptr) munmap(p_, len_);
  }
  unsigned char* data() const { return p_; }
  size_t size() const { return len_; }

  // One 64-bit word per page (and the page's last word) carrying `tag`.
  void fill(uint64_t tag) {
    for (size_t off = 0; off < len_; off += P) {
      uint64_t v = tag ^ off;
      memcpy(p_ + off, &v, sizeof v);
      memcpy(p_ + off + P - sizeof v, &v, sizeof v);
    }
  }
  // Offset of the first page that does not carry `tag`, or len.
  size_t verify(uint64_t tag) const {
    for (size_t off = 0; off < len_; off += P) {
      uint64_t v = tag ^ off, a, b;
      memcpy(&a, p_ + off, sizeof a);
      memcpy(&b, p_ + off + P - sizeof b, sizeof b);
      if (a != v || b != v) return off;
    }
    return len_;
  }
  bool all_zero() const {
    for (size_t i = 0; i < len_; ++i)
      if (p_[i] != 0) return false;
    return true;
  }

 private:
  unsigned char* p_ = nullptr;
  size_t len_;
};

class PagePoolTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    cfg.uring = GetParam();
    cfg.refill = 0;  // tests that want refill turn it on
  }

  // Create the pool with `cfg` as the test left it.
  void start() {
    ASSERT_EQ(pool.init(cfg), UVM_OK);
    ASSERT_GE(pool.fd(), 0);
    ASSERT_EQ(pool.check(), "");
  }

  page_run alloc(size_t len, bool* warm = nullptr) {
    page_run run{~size_t{0}, 0};
    bool w = false;
    EXPECT_EQ(pool.alloc(len, &run, &w), UVM_OK);
    if (warm != nullptr) *warm = w;
    return run;
  }

  // Tick until no io_uring work is in flight. Bounded: false if it never ends.
  bool settle() {
    for (int i = 0; i < 10000; ++i) {
      pool.tick();
      if (pool.stats().in_flight == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  pool_config cfg;
  PagePool pool;
};

// Where io_uring is missing, its test variants cover only the synchronous
// fallback: ctest reports this test (io_uring_available) as skipped then.
TEST(Uring, Available) {
  if (!uring_works())
    GTEST_SKIP() << "io_uring is not available: the uring:1 tests ran the fallback";
}

TEST_P(PagePoolTest, AsyncIsUsedExactlyWhenAskedAndAvailable) {
  start();
  pool_stats s = pool.stats();
  if (GetParam())
    EXPECT_EQ(s.async, uring_works());
  else
    EXPECT_FALSE(s.async);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.pooled, 0u);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST_P(PagePoolTest, FreshRunsAreColdPageAlignedAndZero) {
  start();
  bool warm = true;
  page_run a = alloc(3 * P, &warm);
  EXPECT_FALSE(warm);
  EXPECT_EQ(a.off % P, 0u);
  EXPECT_EQ(a.len, 3 * P);
  page_run b = alloc(5 * P, &warm);
  EXPECT_FALSE(warm);
  EXPECT_EQ(b.off % P, 0u);
  EXPECT_TRUE(a.off + a.len <= b.off || b.off + b.len <= a.off);
  RunMap m(pool.fd(), b);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_TRUE(m.all_zero());
  pool_stats s = pool.stats();
  EXPECT_EQ(s.in_use, 8 * P);
  EXPECT_EQ(s.cold_allocs, 2u);
  EXPECT_EQ(s.warm_hits, 0u);
  EXPECT_GE(s.file_size, b.off + b.len);
  pool.free(a);
  pool.free(b);
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.check(), "");
}

TEST_P(PagePoolTest, FreedPagesComeBackWarmWithTheirData) {
  start();
  bool warm = true;
  page_run a = alloc(4 * P, &warm);
  ASSERT_FALSE(warm);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    m.fill(0x5eed);
  }
  pool.free(a);
  EXPECT_EQ(pool.stats().pooled, 4 * P);
  page_run b = alloc(4 * P, &warm);
  EXPECT_TRUE(warm);
  EXPECT_EQ(b.off, a.off);  // the only warm run
  EXPECT_EQ(pool.stats().warm_hits, 1u);
  EXPECT_EQ(pool.stats().pooled, 0u);
  RunMap m(pool.fd(), b);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(m.verify(0x5eed), b.len);  // warm pages are the very same pages
  // A smaller request is served from part of a warm run, still warm.
  pool.free(b);
  page_run c = alloc(P, &warm);
  EXPECT_TRUE(warm);
  EXPECT_GE(c.off, a.off);
  EXPECT_LT(c.off, a.off + a.len);
  pool.free(c);
  EXPECT_EQ(pool.check(), "");
}

TEST_P(PagePoolTest, ReleasedPagesComeBackColdAndReadAsZeros) {
  start();
  page_run a = alloc(16 * P);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 0xa5, m.size());
  }
  pool.free(a);
  pool.release_all();
  pool_stats s = pool.stats();
  EXPECT_EQ(s.pooled, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.released, 16 * P);
  EXPECT_EQ(pool.check(), "");
  bool warm = true;
  page_run b = alloc(16 * P, &warm);
  EXPECT_FALSE(warm);
  EXPECT_EQ(b.off, a.off);  // lowest hole: the punched run
  RunMap m(pool.fd(), b);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_TRUE(m.all_zero());
  pool.free(b);
}

TEST_P(PagePoolTest, ReleaseAllPunchesTheMemfd) {
  cfg.live_floor = 16 * MiB;  // keep all 16 MiB warm with nothing live
  start();
  size_t base = pool.file_allocated();
  page_run a = alloc(16 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  EXPECT_GE(pool.file_allocated(), base + 16 * MiB);
  pool.free(a);
  // Warm: still held by the memfd.
  EXPECT_GE(pool.file_allocated(), base + 16 * MiB);
  EXPECT_EQ(pool.stats().pooled, 16 * MiB);
  pool.release_all();
  EXPECT_LE(pool.file_allocated(), base);
  EXPECT_EQ(pool.stats().released, 16 * MiB);
  EXPECT_EQ(pool.stats().pooled, 0u);
  EXPECT_EQ(pool.check(), "");
}

TEST_P(PagePoolTest, PoolMaxPunchesTheExcess) {
  cfg.pool_max = MiB;
  start();
  page_run a = alloc(8 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  ASSERT_GE(pool.file_allocated(), 8 * MiB);
  pool.free(a);
  ASSERT_TRUE(settle());
  pool_stats s = pool.stats();
  EXPECT_EQ(s.pooled, MiB);
  EXPECT_EQ(s.released, 7 * MiB);
  EXPECT_LE(pool.file_allocated(), MiB);
  EXPECT_EQ(pool.check(), "");
  // The kept megabyte is the lowest one (punching starts at the top).
  bool warm = false;
  page_run b = alloc(MiB, &warm);
  EXPECT_TRUE(warm);
  EXPECT_EQ(b.off, a.off);
  pool.free(b);
}

// Lowering pool_max with configure() punches the excess too.
TEST_P(PagePoolTest, ConfigureLowerPoolMaxPunchesTheExcess) {
  cfg.live_floor = 8 * MiB;  // all 8 MiB stay warm with nothing live
  start();
  page_run a = alloc(8 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  ASSERT_EQ(pool.stats().pooled, 8 * MiB);
  cfg.pool_max = MiB;
  pool.configure(cfg);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().pooled, MiB);
  EXPECT_LE(pool.file_allocated(), MiB);
  EXPECT_EQ(pool.check(), "");
}

// Warm pages are capped by a share of what is live (the bytes handed out by
// default): a small live set keeps max(live_floor, live_share% of it).
TEST_P(PagePoolTest, WarmPagesAreCappedByTheLiveShare) {
  cfg.live_share = 25;
  cfg.live_floor = MiB;
  start();
  page_run keep = alloc(16 * MiB);  // live, never touched: holes
  page_run a = alloc(32 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  ASSERT_TRUE(settle());
  pool_stats s = pool.stats();
  EXPECT_EQ(s.pool_cap, 4 * MiB);  // a quarter of 16 MiB
  EXPECT_EQ(s.pooled, 4 * MiB);
  EXPECT_EQ(s.released, 28 * MiB);
  // Nothing live any more: the floor is all that stays.
  pool.free(keep);
  ASSERT_TRUE(settle());
  s = pool.stats();
  EXPECT_EQ(s.pool_cap, MiB);
  EXPECT_EQ(s.pooled, MiB);
  EXPECT_LE(pool.file_allocated(), MiB);
  EXPECT_EQ(pool.check(), "");
}

// pool_max still bounds the cap from above, whatever is live.
TEST_P(PagePoolTest, PoolMaxBoundsTheLiveShare) {
  cfg.pool_max = 2 * MiB;
  cfg.live_share = 100;
  cfg.live_floor = 0;
  start();
  page_run keep = alloc(64 * MiB);
  page_run a = alloc(8 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().pool_cap, 2 * MiB);
  EXPECT_EQ(pool.stats().pooled, 2 * MiB);
  pool.free(keep);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().pooled, 0u);  // no floor and nothing live: nothing kept
  EXPECT_EQ(pool.check(), "");
}

// The owner may say what is live (vmalloc: mapped less lazily freed bytes)
// and its recent peak: the cap is what live is below the peak, at most the
// share of live, at least the floor.
TEST_P(PagePoolTest, LiveSourceSetsTheCap) {
  static size_t now[2];  // live, peak
  cfg.live_share = 25;
  cfg.live_floor = MiB;
  start();
  pool.set_live_source(
      [](const void* p, size_t* live, size_t* peak) {
        *live = static_cast<const size_t*>(p)[0];
        *peak = static_cast<const size_t*>(p)[1];
      },
      now);
  now[0] = 40 * MiB;
  now[1] = 80 * MiB;
  EXPECT_EQ(pool.stats().pool_cap, 10 * MiB);  // the share
  page_run a = alloc(12 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().pooled, 10 * MiB);
  now[1] = 46 * MiB;
  EXPECT_EQ(pool.stats().pool_cap, 6 * MiB);  // the dip below the peak
  now[1] = 40 * MiB;
  EXPECT_EQ(pool.stats().pool_cap, MiB);  // at the peak: the floor
  now[0] = 0;
  EXPECT_EQ(pool.stats().pool_cap, MiB);
  EXPECT_EQ(live_cap(256 * MiB, 2 * MiB, 64 * MiB, cfg), MiB);  // the floor
  EXPECT_EQ(live_cap(256 * MiB, 100 * MiB, 200 * MiB, cfg), 25 * MiB);
  EXPECT_EQ(live_cap(256 * MiB, 100 * MiB, 103 * MiB, cfg), 3 * MiB);
  EXPECT_EQ(live_cap(256 * MiB, 100 * MiB, 90 * MiB, cfg), MiB);  // a stale peak
  EXPECT_EQ(live_cap(8 * MiB, 100 * MiB, 200 * MiB, cfg), 8 * MiB);
  pool.set_live_source(nullptr, nullptr);
}

// configure() followed directly by release_all() (or the destructor) must not
// hang on the punches configure() queued. Run in a child with an alarm so a
// hang fails the test instead of stalling it.
TEST_P(PagePoolTest, ReleaseAllRightAfterConfigureDoesNotHang) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  start();
  EXPECT_EXIT(
      {
        alarm(10);
        page_run a = alloc(8 * MiB);
        {
          RunMap m(pool.fd(), a);
          memset(m.data(), 1, m.size());
        }
        pool.free(a);
        cfg.pool_max = MiB;
        pool.configure(cfg);
        pool.release_all();
        bool ok = pool.stats().pooled == 0 && pool.file_allocated() == 0;
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_P(PagePoolTest, DecayReleasesIdleWarmPages) {
  cfg.decay_ms = 40;
  start();
  page_run a = alloc(4 * MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  EXPECT_EQ(pool.stats().pooled, 4 * MiB);
  // Bounded wait for decay (every tick after decay_ms may run it).
  for (int i = 0; i < 500 && (pool.stats().pooled != 0 || pool.stats().in_flight != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pool.tick();
  }
  pool_stats s = pool.stats();
  EXPECT_EQ(s.pooled, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.released, 4 * MiB);
  EXPECT_EQ(pool.file_allocated(), 0u);
  EXPECT_EQ(pool.check(), "");
}

TEST_P(PagePoolTest, NoDecayBeforeDecayMs) {
  cfg.decay_ms = 3600 * 1000;  // an hour: never within this test
  start();
  page_run a = alloc(MiB);
  {
    RunMap m(pool.fd(), a);
    ASSERT_NE(m.data(), nullptr);
    memset(m.data(), 1, m.size());
  }
  pool.free(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().pooled, MiB);
  EXPECT_EQ(pool.stats().released, 0u);
  EXPECT_GE(pool.file_allocated(), MiB);
}

// Warm pages split into pieces still serve a request, as several runs
// (largest first), before any hole is taken; never more than max_runs.
TEST_P(PagePoolTest, FragmentedWarmPagesServeAsSeveralRuns) {
  start();
  page_run r[5];
  for (page_run& x : r) x = alloc(MiB);
  pool.free(r[0]);
  pool.free(r[2]);
  pool.free(r[4]);  // warm: 1 MiB, 1 MiB and the tail run, apart
  page_run out[4];
  unsigned warm = 0;
  size_t cold = pool.stats().cold_allocs;
  // Too few runs for the warm pieces: as many as fit, holes for the rest.
  unsigned n = pool.alloc_runs(3 * MiB, 2, out, &warm);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(warm, 1u);
  EXPECT_EQ(out[0].len, MiB);
  EXPECT_EQ(out[1].len, 2 * MiB);
  EXPECT_EQ(pool.stats().cold_allocs, cold + 1);
  EXPECT_EQ(pool.stats().pooled, 2 * MiB);
  EXPECT_EQ(pool.stats().in_use, 5 * MiB);
  pool.free(out[0]);
  pool.free_cold(out[1]);
  n = pool.alloc_runs(3 * MiB, 4, out, &warm);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(warm, 7u);
  size_t total = 0;
  for (unsigned i = 0; i < n; ++i) {
    total += out[i].len;
    EXPECT_TRUE(out[i].off == r[0].off || out[i].off == r[2].off || out[i].off == r[4].off);
  }
  EXPECT_EQ(total, 3 * MiB);
  EXPECT_EQ(pool.stats().pooled, 0u);
  EXPECT_EQ(pool.stats().in_use, 5 * MiB);
  EXPECT_EQ(pool.check(), "");
  n = pool.alloc_runs(MiB, 4, out + 3, &warm);  // one run when one fits
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(warm, 0u);
  for (page_run x : {out[0], out[1], out[2], out[3], r[1], r[3]}) pool.free(x);
  EXPECT_EQ(pool.check(), "");
}

// Warm pieces too small to be worth a VMA of their own are left alone: the
// request is one run of holes.
TEST_P(PagePoolTest, TinyWarmPiecesAreNotWorthARun) {
  start();
  page_run r[4];
  for (page_run& x : r) x = alloc(4 * P);
  pool.free(r[0]);
  pool.free(r[2]);  // two 16 KiB pieces, apart
  page_run out[4];
  unsigned warm = 1;
  unsigned n = pool.alloc_runs(MiB, 4, out, &warm);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(warm, 0u);
  EXPECT_EQ(out[0].len, MiB);
  EXPECT_EQ(pool.stats().pooled, 8 * P);
  for (page_run x : {out[0], r[1], r[3]}) pool.free(x);
  EXPECT_EQ(pool.check(), "");
}

// Refill follows demand: once 8 allocations had to take holes, each such
// one makes twice its size ready (up to `refill`), so the next finds pages.
TEST_P(PagePoolTest, RefillMakesLaterAllocationsWarm) {
  cfg.refill = 4 * MiB;
  start();
  bool warm = true;
  page_run early[7];
  for (page_run& r : early) {
    r = alloc(P, &warm);
    EXPECT_FALSE(warm);
  }
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().refilled, 0u);  // a few buffers: no refill yet
  page_run first = alloc(MiB, &warm);
  EXPECT_FALSE(warm);
  ASSERT_TRUE(settle());
  pool_stats s = pool.stats();
  if (s.async) {
    EXPECT_EQ(s.refilled, 2 * MiB);
    EXPECT_EQ(s.pooled, 2 * MiB);
    EXPECT_GE(pool.file_allocated(), 2 * MiB);
    page_run second = alloc(2 * MiB, &warm);
    EXPECT_TRUE(warm);
    EXPECT_EQ(pool.stats().warm_hits, 1u);
    // A larger cold request raises the demand to the cap.
    page_run third = alloc(3 * MiB, &warm);
    EXPECT_FALSE(warm);
    ASSERT_TRUE(settle());
    EXPECT_EQ(pool.stats().pooled, 4 * MiB);
    pool.free(third);
    // Pre-allocated pages were never written: they read as zeros.
    RunMap m(pool.fd(), second);
    ASSERT_NE(m.data(), nullptr);
    EXPECT_TRUE(m.all_zero());
    pool.free(second);
  } else {
    // Without io_uring there is no refill: it would cost the caller the same.
    EXPECT_FALSE(GetParam() && uring_works());
    EXPECT_EQ(s.refilled, 0u);
    EXPECT_EQ(s.pooled, 0u);
    page_run second = alloc(2 * MiB, &warm);
    EXPECT_FALSE(warm);
    pool.free(second);
  }
  pool.free(first);
  for (page_run r : early) pool.free(r);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.check(), "");
  pool.release_all();
  EXPECT_EQ(pool.file_allocated(), 0u);
}

TEST_P(PagePoolTest, RefillIsCappedByPoolMax) {
  cfg.refill = 8 * MiB;
  cfg.pool_max = 2 * MiB;
  start();
  page_run a[8];
  for (page_run& r : a) r = alloc(MiB);
  ASSERT_TRUE(settle());
  pool_stats s = pool.stats();
  EXPECT_LE(s.pooled, 2 * MiB);
  EXPECT_EQ(s.refilled, s.async ? 2 * MiB : 0u);
  for (page_run r : a) pool.free(r);
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.check(), "");
}

// Randomised alloc/free against a model of the runs in use: page aligned,
// exactly the size asked, never overlapping, the trees consistent after
// every step. A small pool limit, refill and decay keep punches and
// pre-allocations in flight meanwhile.
TEST_P(PagePoolTest, RandomRunsNeverOverlap) {
  cfg.pool_max = 256 * 1024;
  cfg.refill = 128 * 1024;
  cfg.decay_ms = 5;
  start();
  std::mt19937_64 rng(GetParam() ? 12345 : 54321);
  std::map<size_t, size_t> used;  // off -> len
  size_t used_bytes = 0;
  for (int step = 0; step < 3000; ++step) {
    unsigned op = rng() % 100;
    if (op < 55 || used.empty()) {
      size_t pages = rng() % 8 == 0 ? 1 + rng() % 128 : 1 + rng() % 8;
      page_run run{};
      bool warm;
      ASSERT_EQ(pool.alloc(pages * P, &run, &warm), UVM_OK) << "step " << step;
      ASSERT_EQ(run.off % P, 0u);
      ASSERT_EQ(run.len, pages * P);
      auto next = used.lower_bound(run.off);
      if (next != used.end()) {
        ASSERT_LE(run.off + run.len, next->first) << "step " << step;
      }
      if (next != used.begin()) {
        auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second, run.off) << "step " << step;
      }
      used.emplace(run.off, run.len);
      used_bytes += run.len;
    } else if (op < 97) {
      auto it = used.begin();
      std::advance(it, static_cast<long>(rng() % used.size()));
      pool.free({it->first, it->second});
      used_bytes -= it->second;
      used.erase(it);
    } else if (op < 99) {
      pool.tick();
    } else {
      pool.release_all();
      EXPECT_EQ(pool.stats().pooled, 0u);
    }
    ASSERT_EQ(pool.check(), "") << "step " << step;
    ASSERT_EQ(pool.stats().in_use, used_bytes) << "step " << step;
  }
  for (auto [off, len] : used) pool.free({off, len});
  ASSERT_TRUE(settle());
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.check(), "");
}

// Runs in use keep their data while other runs are freed, trimmed, decayed,
// released and handed out again.
TEST_P(PagePoolTest, DataSurvivesOtherRunsBeingFreedAndReleased) {
  cfg.pool_max = 64 * 1024;
  cfg.refill = 256 * 1024;
  start();
  struct Live {
    page_run run;
    std::unique_ptr<RunMap> map;
    uint64_t tag;
  };
  std::vector<Live> keep, churn;
  std::mt19937_64 rng(7);
  uint64_t next_tag = 0x1000;
  auto make = [&](std::vector<Live>& into) {
    size_t pages = 1 + rng() % 24;
    page_run run = alloc(pages * P);
    auto m = std::make_unique<RunMap>(pool.fd(), run);
    ASSERT_NE(m->data(), nullptr);
    uint64_t tag = next_tag++ * 0x9e3779b97f4a7c15ull;
    m->fill(tag);
    into.push_back({run, std::move(m), tag});
  };
  for (int i = 0; i < 16; ++i) make(i % 2 ? churn : keep);
  for (int round = 0; round < 20; ++round) {
    for (Live& l : churn) {
      l.map.reset();
      pool.free(l.run);
    }
    churn.clear();
    if (round % 3 == 0) pool.release_all();
    if (round % 3 == 1) {
      ASSERT_TRUE(settle());
    }
    for (int i = 0; i < 8; ++i) make(churn);
    ASSERT_EQ(pool.check(), "");
    for (const Live& l : keep)
      ASSERT_EQ(l.map->verify(l.tag), l.run.len) << "round " << round << " run at " << l.run.off;
  }
  for (std::vector<Live>* v : {&keep, &churn})
    for (Live& l : *v) {
      EXPECT_EQ(l.map->verify(l.tag), l.run.len);
      l.map.reset();
      pool.free(l.run);
    }
  pool.release_all();
  EXPECT_EQ(pool.file_allocated(), 0u);
  EXPECT_EQ(pool.check(), "");
}

INSTANTIATE_TEST_SUITE_P(Uring, PagePoolTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "uring" : "sync";
                         });

}  // namespace
}  // namespace uvm
