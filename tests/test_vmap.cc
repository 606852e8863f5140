// VmSpace unit tests: fit types, alignment, windows, merging, bad input.
// The space is pure bookkeeping, so most tests manage a made-up range.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <thread>
#include <vector>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmap.h"

namespace uvm {
namespace {

constexpr uintptr_t kBase = uintptr_t{1} << 44;
constexpr size_t P = pal::kPageSize;

class VmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(vs.init_range(kBase, 1024 * P), UVM_OK); }
  void TearDown() override { EXPECT_EQ(vs.check(), ""); }

  uintptr_t alloc(size_t size, size_t align = P) {
    vmap_area* va;
    EXPECT_EQ(vs.alloc(size, align, &va), UVM_OK);
    return va == nullptr ? 0 : va->va_start;
  }

  VmSpace vs;
};

TEST_F(VmapTest, FirstAllocationIsAtTheBase) {
  EXPECT_EQ(alloc(P), kBase);
  EXPECT_EQ(alloc(3 * P), kBase + P);
  vmap_stats s = vs.stats();
  EXPECT_EQ(s.busy_areas, 2u);
  EXPECT_EQ(s.busy_bytes, 4 * P);
  EXPECT_EQ(s.free_areas, 1u);
}

TEST_F(VmapTest, SizeIsRoundedUpToPages) {
  vmap_area* va;
  ASSERT_EQ(vs.alloc(1, 1, &va), UVM_OK);
  EXPECT_EQ(va->size(), P);
  ASSERT_EQ(vs.alloc(P + 1, 1, &va), UVM_OK);
  EXPECT_EQ(va->size(), 2 * P);
}

TEST_F(VmapTest, FullFitTakesTheWholeArea) {
  // FL_FIT_TYPE: the free area is exactly the request.
  alloc(P);
  uintptr_t hole = alloc(4 * P);
  alloc(P);
  ASSERT_EQ(vs.free(hole), UVM_OK);
  size_t before = vs.stats().free_areas;
  EXPECT_EQ(alloc(4 * P), hole);
  EXPECT_EQ(vs.stats().free_areas, before - 1);
}

TEST_F(VmapTest, LeftEdgeFitShrinksFromTheLeft) {
  uintptr_t a = alloc(8 * P);
  alloc(P);
  ASSERT_EQ(vs.free(a), UVM_OK);
  EXPECT_EQ(alloc(2 * P), a);  // LE_FIT_TYPE
  EXPECT_EQ(alloc(2 * P), a + 2 * P);
}

TEST_F(VmapTest, RightEdgeFitShrinksFromTheRight) {
  // RE_FIT_TYPE: a window that ends where the free area ends.
  uintptr_t end = kBase + 1024 * P;
  vmap_area* va;
  ASSERT_EQ(vs.alloc(2 * P, P, end - 2 * P, end, &va), UVM_OK);
  EXPECT_EQ(va->va_start, end - 2 * P);
  EXPECT_EQ(vs.stats().free_areas, 1u);
}

TEST_F(VmapTest, MiddleFitSplitsTheArea) {
  // NE_FIT_TYPE: alignment pushes the start into the middle of the area.
  alloc(P);
  uintptr_t a = alloc(P, 16 * P);
  EXPECT_EQ(a, kBase + 16 * P);
  EXPECT_EQ(vs.stats().free_areas, 2u);
}

TEST_F(VmapTest, AlignmentIsHonoured) {
  alloc(P);
  for (size_t align = P; align <= 256 * P; align *= 2) {
    uintptr_t a = alloc(P, align);
    EXPECT_EQ(a % align, 0u) << align;
  }
}

TEST_F(VmapTest, SubPageAlignmentMeansPageAlignment) {
  vmap_area* va;
  ASSERT_EQ(vs.alloc(P, 8, &va), UVM_OK);
  EXPECT_EQ(va->va_start % P, 0u);
}

TEST_F(VmapTest, LowestFitSkipsHolesThatAreTooSmall) {
  uintptr_t a = alloc(2 * P);
  alloc(P);
  uintptr_t b = alloc(5 * P);
  alloc(P);
  ASSERT_EQ(vs.free(a), UVM_OK);
  ASSERT_EQ(vs.free(b), UVM_OK);
  EXPECT_EQ(alloc(3 * P), b);  // a's hole is too small
  EXPECT_EQ(alloc(2 * P), a);  // the lowest hole that fits
}

TEST_F(VmapTest, WindowIsRespected) {
  uintptr_t lo = kBase + 100 * P, hi = kBase + 110 * P;
  vmap_area* va;
  ASSERT_EQ(vs.alloc(4 * P, P, lo, hi, &va), UVM_OK);
  EXPECT_EQ(va->va_start, lo);
  ASSERT_EQ(vs.alloc(4 * P, P, lo, hi, &va), UVM_OK);
  EXPECT_EQ(va->va_start, lo + 4 * P);
  EXPECT_EQ(vs.alloc(4 * P, P, lo, hi, &va), UVM_ENOSPC);  // 2 pages left
  EXPECT_EQ(va, nullptr);
  ASSERT_EQ(vs.alloc(2 * P, P, lo, hi, &va), UVM_OK);
  EXPECT_EQ(va->va_end, hi);
}

TEST_F(VmapTest, FreeMergesWithBothNeighbours) {
  uintptr_t a = alloc(P), b = alloc(P), c = alloc(P);
  alloc(P);
  ASSERT_EQ(vs.free(a), UVM_OK);
  ASSERT_EQ(vs.free(c), UVM_OK);
  EXPECT_EQ(vs.stats().free_areas, 3u);  // a, c, the tail
  ASSERT_EQ(vs.free(b), UVM_OK);         // joins a and c
  EXPECT_EQ(vs.stats().free_areas, 2u);
  EXPECT_EQ(alloc(3 * P), a);
}

TEST_F(VmapTest, FreeMergesWithLeftOrRightOnly) {
  uintptr_t a = alloc(P), b = alloc(P), c = alloc(P), d = alloc(P);
  alloc(P);
  ASSERT_EQ(vs.free(a), UVM_OK);
  ASSERT_EQ(vs.free(b), UVM_OK);  // merges left
  EXPECT_EQ(vs.stats().free_areas, 2u);
  ASSERT_EQ(vs.free(d), UVM_OK);  // not adjacent to a+b
  EXPECT_EQ(vs.stats().free_areas, 3u);
  ASSERT_EQ(vs.free(c), UVM_OK);  // merges both
  EXPECT_EQ(vs.stats().free_areas, 2u);
}

TEST_F(VmapTest, FreeingEverythingRestoresOneArea) {
  std::vector<uintptr_t> v;
  for (int i = 0; i < 100; ++i) v.push_back(alloc((i % 5 + 1) * P));
  for (size_t i = 0; i < v.size(); i += 2) ASSERT_EQ(vs.free(v[i]), UVM_OK);
  for (size_t i = 1; i < v.size(); i += 2) ASSERT_EQ(vs.free(v[i]), UVM_OK);
  vmap_stats s = vs.stats();
  EXPECT_EQ(s.busy_areas, 0u);
  EXPECT_EQ(s.free_areas, 1u);
  EXPECT_EQ(s.largest_free, 1024 * P);
}

TEST_F(VmapTest, ExhaustionIsENOSPC) {
  vmap_area* va;
  ASSERT_EQ(vs.alloc(1024 * P, P, &va), UVM_OK);
  EXPECT_EQ(vs.alloc(P, P, &va), UVM_ENOSPC);
  EXPECT_EQ(vs.stats().free_areas, 0u);
}

TEST_F(VmapTest, BadSizesAndAlignments) {
  vmap_area* va;
  EXPECT_EQ(vs.alloc(0, P, &va), UVM_EINVAL);
  EXPECT_EQ(vs.alloc(P, 3 * P, &va), UVM_EINVAL);
  EXPECT_EQ(vs.alloc(P, 0, &va), UVM_EINVAL);
  EXPECT_EQ(vs.alloc(SIZE_MAX, P, &va), UVM_EOVERFLOW);
  EXPECT_EQ(vs.alloc(SIZE_MAX - P + 2, P, &va), UVM_EOVERFLOW);
  EXPECT_EQ(vs.alloc(2048 * P, P, &va), UVM_ENOSPC);  // larger than the space
  // Alignment so large that no aligned start exists in the space.
  EXPECT_EQ(vs.alloc(P, size_t{1} << 62, &va), UVM_ENOSPC);
  EXPECT_EQ(vs.stats().busy_areas, 0u);
}

TEST_F(VmapTest, BadWindows) {
  vmap_area* va;
  EXPECT_EQ(vs.alloc(P, P, kBase + 10 * P, kBase + 10 * P, &va), UVM_EINVAL);  // empty
  EXPECT_EQ(vs.alloc(P, P, kBase + 10 * P, kBase, &va), UVM_EINVAL);           // inverted
  EXPECT_EQ(vs.alloc(4 * P, P, kBase, kBase + 2 * P, &va), UVM_ENOSPC);        // too small
  EXPECT_EQ(vs.alloc(P, P, 0, kBase, &va), UVM_EINVAL);  // entirely below the space
  EXPECT_EQ(vs.alloc(P, 64 * P, kBase + P, kBase + 63 * P, &va), UVM_ENOSPC);  // no aligned start
}

TEST_F(VmapTest, BadFrees) {
  uintptr_t a = alloc(4 * P);
  EXPECT_EQ(vs.free(a + P), UVM_EINTERIOR);
  EXPECT_EQ(vs.free(a + 1), UVM_EINTERIOR);
  EXPECT_EQ(vs.free(kBase + 500 * P), UVM_ENOTALLOC);  // never allocated
  EXPECT_EQ(vs.free(kBase - P), UVM_EFOREIGN);
  EXPECT_EQ(vs.free(kBase + 1024 * P), UVM_EFOREIGN);
  EXPECT_EQ(vs.free(0), UVM_EFOREIGN);
  ASSERT_EQ(vs.free(a), UVM_OK);
  EXPECT_EQ(vs.free(a), UVM_ENOTALLOC);  // double free
  EXPECT_EQ(vs.stats().busy_areas, 0u);
}

TEST_F(VmapTest, FindAndClassify) {
  alloc(P);
  uintptr_t a = alloc(4 * P);
  EXPECT_EQ(vs.find(a + 3 * P + 17)->va_start, a);
  EXPECT_EQ(vs.find(a + 4 * P), nullptr);
  vmap_area copy;
  EXPECT_EQ(vs.classify(a + 5, &copy), UVM_EINTERIOR);
  EXPECT_EQ(copy.va_start, a);
  EXPECT_EQ(copy.va_end, a + 4 * P);
  EXPECT_EQ(vs.classify(a, nullptr), UVM_OK);
}

TEST_F(VmapTest, UnlinkedAreasAreInNeitherTree) {
  uintptr_t a = alloc(2 * P);
  vmap_area* va;
  ASSERT_EQ(vs.unlink_busy(a, &va), UVM_OK);
  EXPECT_EQ(vs.check(false), "");
  EXPECT_NE(vs.check(true), "");  // the unlinked range is a hole
  EXPECT_EQ(vs.free(a), UVM_ENOTALLOC);
  vs.free_area(va);
}

TEST(Vmap, InitRejectsBadRanges) {
  VmSpace vs;
  EXPECT_EQ(vs.init_range(kBase + 1, P), UVM_EINVAL);
  EXPECT_EQ(vs.init_range(kBase, 0), UVM_EINVAL);
  EXPECT_EQ(vs.init_range(kBase, P + 1), UVM_EINVAL);
  EXPECT_EQ(vs.init_range(UINTPTR_MAX - P + 1, 2 * P), UVM_EOVERFLOW);
  ASSERT_EQ(vs.init_range(kBase, P), UVM_OK);
  EXPECT_EQ(vs.init_range(kBase, P), UVM_EINVAL);  // twice
}

TEST(Vmap, ReserveMakesAProtNoneRange) {
  VmSpace vs;
  ASSERT_EQ(vs.reserve(size_t{1} << 30, size_t{1} << 20, size_t{1} << 21), UVM_OK);
  EXPECT_EQ(vs.size(), size_t{1} << 30);
  EXPECT_EQ(vs.start() % (size_t{1} << 21), 0u);
  // The range is ours and inaccessible: mincore succeeds (it is mapped) ...
  unsigned char vec;
  EXPECT_EQ(mincore(reinterpret_cast<void*>(vs.start()), P, &vec), 0);
  // ... and a fixed-noreplace mapping over it is refused.
  void* p = mmap(reinterpret_cast<void*>(vs.start()), P, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  EXPECT_EQ(p, MAP_FAILED);
  vmap_area* va;
  ASSERT_EQ(vs.alloc(size_t{1} << 29, size_t{1} << 29, &va), UVM_OK);
  EXPECT_EQ(va->va_start % (size_t{1} << 29), 0u);
}

TEST(Vmap, ReserveFallsBackToSmallerSizes) {
  // Ask for more address space than x86-64 user space has (128 TiB): the
  // reservation halves until the kernel accepts it.
  VmSpace vs;
  ASSERT_EQ(vs.reserve(size_t{1} << 48, size_t{1} << 20, P), UVM_OK);
  EXPECT_LT(vs.size(), size_t{1} << 48);
  EXPECT_GE(vs.size(), size_t{1} << 20);
  VmSpace none;
  EXPECT_EQ(none.reserve(size_t{1} << 62, size_t{1} << 61, P), UVM_ENOMEM);
}

TEST(Vmap, TwoThreadsKeepTheTreesIntact) {
  VmSpace vs;
  ASSERT_EQ(vs.init_range(kBase, 1 << 30), UVM_OK);
  auto work = [&](unsigned seed) {
    std::vector<uintptr_t> live;
    for (int i = 0; i < 20000; ++i) {
      seed = seed * 1103515245 + 12345;
      if (live.size() < 200 && (seed >> 16) % 3 != 0) {
        vmap_area* va;
        ASSERT_EQ(vs.alloc(((seed >> 8) % 16 + 1) * P, P, &va), UVM_OK);
        live.push_back(va->va_start);
      } else if (!live.empty()) {
        size_t k = (seed >> 4) % live.size();
        ASSERT_EQ(vs.free(live[k]), UVM_OK);
        live[k] = live.back();
        live.pop_back();
      }
    }
    for (uintptr_t a : live) ASSERT_EQ(vs.free(a), UVM_OK);
  };
  std::thread t1(work, 1u), t2(work, 2u);
  t1.join();
  t2.join();
  EXPECT_EQ(vs.check(), "");
  EXPECT_EQ(vs.stats().free_areas, 1u);
}

}  // namespace
}  // namespace uvm
