// FreeAreaTree against a reference model: a page-by-page map of what is
// free and when it was freed, with and without a merge window.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>

#include "free_tree.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kPages = 512;
constexpr uintptr_t kHi = kPages * kPage;

// page index -> the stamp it was freed with.
using Model = std::map<uintptr_t, uint64_t>;

bool all_free(const Model& m, uintptr_t first, uintptr_t n) {
  for (uintptr_t i = first; i < first + n; ++i)
    if (m.count(i) == 0) return false;
  return true;
}

bool none_free(const Model& m, uintptr_t first, uintptr_t n) {
  for (uintptr_t i = first; i < first + n; ++i)
    if (m.count(i) != 0) return false;
  return true;
}

// The tree holds exactly the model's pages, and no page's area is stamped
// younger than the page itself (no page outlives its decay); without a
// window, touching free pages are one area.
void expect_matches(const FreeAreaTree& t, const Model& m, uint64_t window) {
  ASSERT_EQ(t.check(0, kHi), "");
  ASSERT_EQ(t.bytes(), m.size() * kPage);
  size_t pages = 0;
  for (const vmap_area* va = t.first(); va != nullptr; va = va->next) {
    for (uintptr_t a = va->va_start; a < va->va_end; a += kPage, ++pages) {
      auto it = m.find(a / kPage);
      ASSERT_NE(it, m.end()) << "page " << a / kPage << " is free in the tree only";
      ASSERT_LE(va->stamp, it->second) << "page " << a / kPage << " looks younger than it is";
    }
    if (window == UINT64_MAX && va->next != nullptr) {
      ASSERT_LT(va->va_end, va->next->va_start) << "touching areas were not merged";
    }
  }
  ASSERT_EQ(pages, m.size());
}

void run_model(uint64_t window, unsigned seed) {
  FreeAreaTree t;
  t.set_merge_window(window);
  Model m;
  std::mt19937_64 rng(seed);
  uint64_t now = 0;
  for (int step = 0; step < 6000; ++step) {
    now += rng() % 4;  // time moves forward, by zero or more
    uintptr_t first = rng() % kPages;
    uintptr_t n = 1 + rng() % std::min<uintptr_t>(16, kPages - first);
    switch (rng() % 3) {
      case 0:  // free a range that is not free
        if (!none_free(m, first, n)) break;
        ASSERT_EQ(t.insert_range(first * kPage, (first + n) * kPage, now), UVM_OK);
        for (uintptr_t i = first; i < first + n; ++i) m[i] = now;
        break;
      case 1: {  // take a fixed range: works exactly when every page is free
        int rc = t.alloc_fixed(first * kPage, n * kPage);
        ASSERT_EQ(rc == UVM_OK, all_free(m, first, n)) << "alloc_fixed " << first << "+" << n;
        if (rc == UVM_OK)
          for (uintptr_t i = first; i < first + n; ++i) m.erase(i);
        break;
      }
      default: {  // take the lowest fit
        uintptr_t out = 0;
        int rc = t.alloc(n * kPage, kPage, 0, kHi, &out);
        if (rc != UVM_OK) {
          // Without a window, a failure means no run of n free pages at all.
          if (window == UINT64_MAX) {
            for (uintptr_t i = 0; i + n <= kPages; ++i) ASSERT_FALSE(all_free(m, i, n));
          }
          break;
        }
        ASSERT_TRUE(all_free(m, out / kPage, n)) << "alloc handed out pages that are not free";
        for (uintptr_t i = out / kPage; i < out / kPage + n; ++i) m.erase(i);
        break;
      }
    }
    expect_matches(t, m, window);
    if (::testing::Test::HasFatalFailure()) return;
  }
  while (vmap_area* va = t.first()) {
    t.erase(va);
    vmap_area_cache().free(va);
  }
}

TEST(FreeTree, ModelWithoutWindow) {
  for (unsigned seed = 1; seed <= 4; ++seed) run_model(UINT64_MAX, seed);
}

TEST(FreeTree, ModelWithWindow) {
  for (unsigned seed = 1; seed <= 4; ++seed) run_model(8, seed);
}

TEST(FreeTree, ModelWithZeroWindow) {
  for (unsigned seed = 1; seed <= 2; ++seed) run_model(0, seed);
}

// The case the window is for: one page reused over and over does not keep
// its long idle neighbours young, and the neighbours do not age it.
TEST(FreeTree, ReusedPageNeitherKeepsNorAgesItsNeighbours) {
  FreeAreaTree t;
  t.set_merge_window(10);
  ASSERT_EQ(t.insert_range(0, 32 * kPage, 0), UVM_OK);  // freed at 0, idle since
  for (uint64_t now = 100; now <= 1000; now += 100) {
    ASSERT_EQ(t.alloc_fixed(0, kPage), UVM_OK);
    ASSERT_EQ(t.insert_range(0, kPage, now), UVM_OK);
  }
  const vmap_area* first = t.first();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->va_end, kPage);
  EXPECT_EQ(first->stamp, 1000u);
  ASSERT_NE(first->next, nullptr);
  EXPECT_EQ(first->next->stamp, 0u);
  // Both still make one contiguous run for a fixed request.
  EXPECT_EQ(t.alloc_fixed(0, 32 * kPage), UVM_OK);
  EXPECT_EQ(t.bytes(), 0u);
}

}  // namespace
}  // namespace uvm
