// SizeBins: the bins are monotonic in size and a sixteenth wide, and find()
// against a model: random inserts and removes, then the result of every
// query is in range, passes the filter and is in the lowest bin that holds
// an area in range.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "size_bins.h"
#include "test_util.h"

namespace uvm {
namespace {

constexpr size_t P = 4096;

struct Node {
  size_t size;
  Node* bin_prev;
  Node* bin_next;
  bool odd;  // what the filter looks at
};

using Bins = SizeBins<Node>;

TEST(SizeBins, BinsAreMonotonicAndASixteenthWide) {
  unsigned prev = 0;
  size_t first_of_bin = P;
  for (size_t pages = 1; pages <= (size_t{1} << 20); pages += pages < 4096 ? 1 : pages / 61) {
    unsigned b = Bins::bin_of(pages * P);
    ASSERT_GE(b, prev) << pages;
    if (b != prev) first_of_bin = pages * P;
    // Two sizes in one bin differ by at most a sixteenth (or a page).
    EXPECT_LE(pages * P - first_of_bin, std::max(first_of_bin / 16, P)) << pages;
    prev = b;
  }
  EXPECT_EQ(Bins::bin_of(0), Bins::bin_of(P));
  EXPECT_EQ(Bins::bin_of(~size_t{0}), Bins::kBins - 1);
}

TEST(SizeBins, FindAgreesWithAModel) {
  test::Rng rng{42};
  std::vector<Node> pool(600);
  std::vector<Node*> in, out;
  for (Node& n : pool) out.push_back(&n);
  Bins bins;
  for (int step = 0; step < 20000; ++step) {
    if (!out.empty() && (in.empty() || rng.below(3) != 0)) {
      size_t i = rng.below(out.size());
      Node* n = out[i];
      out.erase(out.begin() + static_cast<long>(i));
      n->size = (1 + rng.below(rng.below(4) == 0 ? 4096 : 64)) * P;
      n->odd = rng.below(2) == 1;
      bins.insert(n);
      in.push_back(n);
    } else {
      size_t i = rng.below(in.size());
      bins.remove(in[i]);
      out.push_back(in[i]);
      in.erase(in.begin() + static_cast<long>(i));
    }
    size_t size = (1 + rng.below(2048)) * P, limit = 2 * size;
    bool want_odd = rng.below(2) == 1;
    auto ok = [&](const Node* n) { return n->odd == want_odd; };
    Node* got = bins.find(size, limit, 1 << 20, ok);
    unsigned lowest = Bins::kBins;
    for (Node* n : in)
      if (n->size >= size && n->size <= limit && ok(n))
        lowest = std::min(lowest, Bins::bin_of(n->size));
    if (lowest == Bins::kBins) {
      ASSERT_EQ(got, nullptr) << "step " << step;
    } else {
      ASSERT_NE(got, nullptr) << "step " << step;
      EXPECT_GE(got->size, size);
      EXPECT_LE(got->size, limit);
      EXPECT_TRUE(ok(got));
      EXPECT_EQ(Bins::bin_of(got->size), lowest) << "step " << step;
    }
    size_t count, bytes, want_bytes = 0;
    ASSERT_EQ(bins.check(&count, &bytes), "") << "step " << step;
    for (Node* n : in) want_bytes += n->size;
    ASSERT_EQ(count, in.size());
    ASSERT_EQ(bytes, want_bytes);
  }
  // A probe budget bounds the walk.
  bins.clear();
  size_t count, bytes;
  EXPECT_EQ(bins.check(&count, &bytes), "");
  EXPECT_EQ(count, 0u);
  for (Node& n : pool) {
    n.size = 8 * P;
    n.odd = false;
  }
  for (int i = 0; i < 10; ++i) bins.insert(&pool[i]);
  pool[0].odd = true;  // inserted first: last in its bin
  auto odd = [](const Node* n) { return n->odd; };
  EXPECT_EQ(bins.find(8 * P, 16 * P, 9, odd), nullptr);
  EXPECT_EQ(bins.find(8 * P, 16 * P, 10, odd), &pool[0]);
}

}  // namespace
}  // namespace uvm
