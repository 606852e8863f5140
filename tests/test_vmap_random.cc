// Randomized property test: VmSpace against a reference model (a std::map of
// busy ranges, free space found by a linear scan). After every step the trees'
// invariants are checked and every allocation must be the model's lowest fit.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmap.h"

namespace uvm {
namespace {

constexpr uintptr_t kBase = uintptr_t{3} << 40;
constexpr size_t P = pal::kPageSize;

struct Model {
  uintptr_t start, end;
  std::map<uintptr_t, uintptr_t> busy;  // va_start -> va_end

  // Lowest aligned start of `size` in [vstart, vend), by scanning every gap.
  bool lowest_fit(size_t size, size_t align, uintptr_t vstart, uintptr_t vend,
                  uintptr_t* out) const {
    uintptr_t gap = start;
    auto try_gap = [&](uintptr_t lo, uintptr_t hi) {
      uintptr_t base = std::max(lo, vstart);
      uintptr_t a = (base + align - 1) & ~(align - 1);
      if (a < base || a + size < a) return false;
      if (a + size <= hi && a + size <= vend) {
        *out = a;
        return true;
      }
      return false;
    };
    for (auto [s, e] : busy) {
      if (s > gap && try_gap(gap, s)) return true;
      gap = e;
    }
    return gap < end && try_gap(gap, end);
  }
};

class VmapRandom : public ::testing::TestWithParam<unsigned> {};

TEST_P(VmapRandom, MatchesModelAfterEveryStep) {
  std::mt19937_64 rng(GetParam());
  const size_t pages = 1 << 14;  // 64 MiB of space keeps it crowded
  VmSpace vs;
  ASSERT_EQ(vs.init_range(kBase, pages * P), UVM_OK);
  Model m{kBase, kBase + pages * P, {}};
  std::vector<uintptr_t> live;
  size_t fits = 0, misses = 0;

  for (int step = 0; step < 12000; ++step) {
    unsigned op = rng() % 100;
    if (op < 55 || live.empty()) {
      // Sizes: mostly small, sometimes large; alignments up to 2 MiB.
      size_t size = (rng() % 8 == 0) ? (rng() % 2048 + 1) * P : (rng() % 16 + 1) * P;
      if (rng() % 4 == 0) size -= rng() % P;  // not page multiple: rounded up
      size_t align = P << (rng() % 4 == 0 ? rng() % 10 : 0);
      uintptr_t vstart = kBase, vend = m.end;
      if (rng() % 3 == 0) {  // random window
        vstart = kBase + (rng() % pages) * P;
        vend = vstart + (rng() % (pages / 4) + 1) * P;
        if (vend > m.end) vend = m.end;
      }
      size_t rounded = (size + P - 1) & ~(P - 1);
      uintptr_t want = 0;
      bool fit = rounded <= vend - vstart && m.lowest_fit(rounded, align, vstart, vend, &want);
      vmap_area* va;
      int rc = vs.alloc(size, align, vstart, vend, &va);
      if (fit) {
        ASSERT_EQ(rc, UVM_OK) << "step " << step;
        ASSERT_EQ(va->va_start, want) << "not the lowest fit, step " << step;
        ASSERT_EQ(va->size(), rounded);
        m.busy[va->va_start] = va->va_end;
        live.push_back(va->va_start);
        ++fits;
      } else {
        ASSERT_EQ(rc, UVM_ENOSPC) << "step " << step;
        ASSERT_EQ(va, nullptr);
        ++misses;
      }
    } else if (op < 95) {
      size_t k = rng() % live.size();
      ASSERT_EQ(vs.free(live[k]), UVM_OK);
      m.busy.erase(live[k]);
      live[k] = live.back();
      live.pop_back();
    } else {
      // Bad frees leave everything as it was.
      uintptr_t a = live[rng() % live.size()];
      uintptr_t end = m.busy[a];
      if (end - a > P) {
        ASSERT_EQ(vs.free(a + P), UVM_EINTERIOR);
      }
      ASSERT_EQ(vs.free(a + 8), UVM_EINTERIOR);
      ASSERT_EQ(vs.free(kBase - P), UVM_EFOREIGN);
      uintptr_t probe = kBase + (rng() % pages) * P;
      auto it = m.busy.upper_bound(probe);
      bool inside = it != m.busy.begin() && std::prev(it)->second > probe;
      if (!inside) {
        ASSERT_EQ(vs.free(probe), UVM_ENOTALLOC);
      }
    }
    std::string why = vs.check();
    ASSERT_EQ(why, "") << "step " << step;
    vmap_stats s = vs.stats();
    ASSERT_EQ(s.busy_areas, m.busy.size());
  }
  // Both outcomes must have been exercised for the test to mean anything.
  EXPECT_GT(fits, 1000u);
  EXPECT_GT(misses, 10u);
  for (uintptr_t a : live) ASSERT_EQ(vs.free(a), UVM_OK);
  EXPECT_EQ(vs.stats().free_areas, 1u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, VmapRandom, ::testing::Values(1u, 2u, 3u, 42u, 20261125u));

}  // namespace
}  // namespace uvm
