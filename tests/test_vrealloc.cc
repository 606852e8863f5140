// uvm_vrealloc / Vmalloc::realloc: growth in place, moves by re-mapping the
// same memfd pages, shrinking, the copy fallback once a block has as many
// page runs as it may (kMaxRuns), failures that leave the old block as it
// was, guard pages after growth and bad pointers.
//
// The instance tests (VreallocTest) run on a fresh uvm::Vmalloc each, with
// io_uring on and off. The VreallocApi tests use the process-wide instance
// through the C API; CTest runs them a second time with UVMALLOC_CONF=uring:0.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pal.h"
#include "test_util.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"
#include "vmalloc_fixture.h"

namespace uvm {
namespace {

using uvm::test::fill;
using uvm::test::GiB;
using uvm::test::MiB;
using uvm::test::P;
using uvm::test::poke;
using uvm::test::Rng;
using uvm::test::round_up;
using uvm::test::verify;

void random_bytes(unsigned char* dst, size_t n, Rng& rng) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<unsigned char>(rng());
}

// Offset of the first byte of [p, p + n) that is not `c`, or n.
size_t first_not(const char* p, size_t n, unsigned char c) {
  static unsigned char ref[64 * 1024];
  memset(ref, c, sizeof ref);
  for (size_t i = 0; i < n; i += sizeof ref) {
    size_t len = std::min(sizeof ref, n - i);
    if (memcmp(p + i, ref, len) == 0) continue;
    for (size_t j = i; j < i + len; ++j)
      if (static_cast<unsigned char>(p[j]) != c) return j;
  }
  return n;
}

class VreallocTest : public ::testing::TestWithParam<bool>, protected test::VmallocOwner {
 protected:
  bool uring() const { return GetParam(); }

  vm_config config() const {
    vm_config c;
    c.reserve = 8 * GiB;
    c.min_reserve = 2 * GiB;
    c.pool.uring = uring();
    c.pool.refill = MiB;
    c.pool.pool_max = 64 * MiB;
    return c;
  }

  using VmallocOwner::start;
  void start() { start(config()); }
  void TearDown() override { check_at_end(); }
  // realloc that must succeed.
  char* resize(void* p, size_t size) {
    int status = -1;
    void* q = vm->realloc(p, size, nullptr, &status);
    EXPECT_NE(q, nullptr) << "size " << size << " status " << status;
    EXPECT_EQ(status, UVM_OK);
    return static_cast<char*>(q);
  }
  // realloc that must fail; returns its status.
  int resize_fails(void* p, size_t size) {
    int status = UVM_OK;
    void* q = vm->realloc(p, size, nullptr, &status);
    EXPECT_EQ(q, nullptr) << "size " << size;
    return status;
  }
  vm_struct area(const void* p) const {
    vm_struct s{};
    EXPECT_EQ(vm->find(p, &s), UVM_OK);
    return s;
  }
  // Allocate one-page blockers (lowest fit fills the holes below first)
  // until one sits right after p's area, so p cannot grow in place.
  std::vector<char*> block_after(const void* p) {
    std::vector<char*> blockers;
    vm_struct s{};
    if (vm->find(p, &s) != UVM_OK || s.va == nullptr) {
      ADD_FAILURE() << "no area starts at " << p;
      return blockers;
    }
    uintptr_t end = s.va->va_end;
    for (int i = 0; i < 100000; ++i) {
      char* b = alloc(P);
      if (b == nullptr) break;
      blockers.push_back(b);
      if (reinterpret_cast<uintptr_t>(b) == end) return blockers;
    }
    ADD_FAILURE() << "no blocker landed right after the area";
    return blockers;
  }
  void free_all(std::vector<char*>& v) {
    for (char* b : v) EXPECT_EQ(vm->free(b), UVM_OK);
    v.clear();
  }
};

INSTANTIATE_TEST_SUITE_P(Uring, VreallocTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "uring" : "sync";
                         });

// Random grow/shrink steps against a byte model of the content. Blockers
// allocated now and then make some growths move, and some steps shrink.
TEST_P(VreallocTest, RandomResizesPreserveContents) {
  start();
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    Rng rng{seed * 7919};
    std::vector<unsigned char> model;
    std::vector<char*> blockers;
    char* p = nullptr;
    for (int step = 0; step < 32; ++step) {
      // Log-uniform between 1 byte and 64 MiB.
      size_t size = size_t{1} << rng.below(27);
      size = std::max<size_t>(1, std::min(64 * MiB, size + rng.below(size)));
      char* q = resize(p, size);
      ASSERT_NE(q, nullptr) << "step " << step;
      size_t keep = std::min(model.size(), size);
      ASSERT_TRUE(keep == 0 || memcmp(q, model.data(), keep) == 0)
          << "step " << step << " size " << size;
      EXPECT_EQ(area(q).size, round_up(size));
      EXPECT_EQ(area(q).requested, size);
      model.resize(size);
      random_bytes(model.data() + keep, size - keep, rng);
      for (int k = 0; k < 8; ++k) model[rng.below(size)] = static_cast<unsigned char>(rng());
      memcpy(q, model.data(), size);
      p = q;
      if (rng.below(3) == 0) blockers.push_back(alloc((1 + rng.below(4)) * P));
      if (blockers.size() > 8) free_all(blockers);
    }
    ASSERT_EQ(memcmp(p, model.data(), model.size()), 0);
    EXPECT_EQ(vm->free(p), UVM_OK);
    free_all(blockers);
  }
  vm_stats st = vm->stats();
  EXPECT_GT(st.grown_in_place, 0u);
  EXPECT_GT(st.moved, 0u);
  EXPECT_EQ(st.areas, 0u);
}

TEST_P(VreallocTest, GrowsInPlaceWhenTheRangeAfterIsFree) {
  start();
  char* a = alloc(4 * P);
  ASSERT_NE(a, nullptr);
  fill(a, 4 * P, 11);
  vm_stats before = vm->stats();
  char* q = resize(a, 64 * P + 3);
  EXPECT_EQ(q, a);
  vm_stats after = vm->stats();
  EXPECT_EQ(after.grown_in_place, before.grown_in_place + 1);
  EXPECT_EQ(after.moved, before.moved);
  EXPECT_EQ(after.copied, before.copied);
  EXPECT_EQ(after.mapped, before.mapped + 61 * P);
  EXPECT_EQ(verify(a, 4 * P, 11), 4 * P);
  EXPECT_EQ(area(a).size, 65 * P);
  memset(a + 4 * P, 0x77, 61 * P);  // the new part is writable
  EXPECT_EQ(verify(a, 4 * P, 11), 4 * P);
  EXPECT_EQ(vm->free(a), UVM_OK);
}

TEST_P(VreallocTest, MovesWithoutCopyingWhenBlocked) {
  start();
  char* a = alloc(4 * P);
  char* b = alloc(P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b, a + 5 * P);  // lowest fit: right after a's guard page
  fill(a, 4 * P, 21);
  fill(b, P, 22);
  uvm_page_info before_page{};
  ASSERT_EQ(vm->to_page(a + 2 * P + 5, &before_page), UVM_OK);
  vm_stats before = vm->stats();
  char* q = resize(a, 64 * P);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, a);
  vm_stats after = vm->stats();
  EXPECT_EQ(after.moved, before.moved + 1);
  EXPECT_EQ(after.copied, 0u);
  EXPECT_EQ(after.grown_in_place, before.grown_in_place);
  EXPECT_EQ(verify(q, 4 * P, 21), 4 * P);
  EXPECT_EQ(verify(b, P, 22), P);
  // The very pages moved: same memfd offsets at the new address.
  uvm_page_info moved_page{};
  ASSERT_EQ(vm->to_page(q + 2 * P + 5, &moved_page), UVM_OK);
  EXPECT_EQ(moved_page.file_offset, before_page.file_offset);
  // The old address starts nothing any more.
  vm_struct s{};
  EXPECT_NE(vm->find(a, &s), UVM_OK);
  memset(q + 4 * P, 0x11, 60 * P);
  // The moved area keeps room to grow: the next growth stays in place.
  char* r = resize(q, 100 * P);
  EXPECT_EQ(r, q);
  EXPECT_EQ(vm->stats().grown_in_place, after.grown_in_place + 1);
  EXPECT_EQ(verify(r, 4 * P, 21), 4 * P);
  EXPECT_EQ(first_not(r + 4 * P, 60 * P, 0x11), 60 * P);
  EXPECT_EQ(vm->free(r), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
}

TEST_P(VreallocTest, ShrinkInPlaceReturnsPages) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  start();
  char* a = alloc(64 * P);
  ASSERT_NE(a, nullptr);
  fill(a, 64 * P, 31);
  EXPECT_EQ(vm->pool().in_use, 64 * P);
  char* q = resize(a, 16 * P + 1);
  EXPECT_EQ(q, a);
  EXPECT_EQ(vm->pool().in_use, 17 * P);
  EXPECT_EQ(vm->stats().mapped, 17 * P);
  EXPECT_EQ(area(a).size, 17 * P);
  EXPECT_EQ(area(a).requested, 16 * P + 1);
  EXPECT_EQ(verify(a, 17 * P, 31), 17 * P);
  // The tail is gone from the mapping.
  EXPECT_EXIT(poke(a + 17 * P), ::testing::KilledBySignal(SIGSEGV), "");
  // Same page count: nothing changes.
  EXPECT_EQ(resize(a, 17 * P), a);
  EXPECT_EQ(vm->pool().in_use, 17 * P);
  // And back: in place (the area kept its range), the prefix intact.
  EXPECT_EQ(resize(a, 64 * P), a);
  EXPECT_GE(vm->pool().in_use, 64 * P);  // plus the spare kept for growth
  EXPECT_EQ(verify(a, 17 * P, 31), 17 * P);
  memset(a + 17 * P, 1, 47 * P);
  EXPECT_EQ(vm->free(a), UVM_OK);
}

TEST_P(VreallocTest, AlignmentIsKeptAcrossMoves) {
  start();
  char* filler = alloc(3 * P);  // so that aligned starts leave holes
  char* a = alloc(MiB, 2 * MiB);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(a) % (2 * MiB), 0u);
  fill(a, MiB, 41);
  std::vector<char*> blockers;
  size_t size = MiB;
  size_t moves = 0;
  for (int i = 0; i < 3; ++i) {
    auto b = block_after(a);
    blockers.insert(blockers.end(), b.begin(), b.end());
    size_t new_size = size * 3 + 3 * P;  // beyond the room a moved area keeps
    char* q = resize(a, new_size);
    ASSERT_NE(q, nullptr);
    EXPECT_NE(q, a);
    moves += q != a;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % (2 * MiB), 0u) << "move " << i;
    EXPECT_EQ(area(q).align, 2 * MiB);
    ASSERT_EQ(verify(q, MiB, 41), MiB);
    a = q;
    size = new_size;
  }
  EXPECT_EQ(vm->stats().moved, moves);
  EXPECT_EQ(vm->stats().copied, 0u);
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(filler), UVM_OK);
  free_all(blockers);
}

TEST_P(VreallocTest, NullAllocatesAndZeroFrees) {
  start();
  char* p = resize(nullptr, 5000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(area(p).size, 2 * P);
  EXPECT_EQ(vm->stats().allocs, 1u);
  int status = -1;
  EXPECT_EQ(vm->realloc(p, 0, nullptr, &status), nullptr);
  EXPECT_EQ(status, UVM_OK);
  EXPECT_EQ(vm->stats().frees, 1u);
  EXPECT_EQ(vm->stats().areas, 0u);
  EXPECT_EQ(vm->free(p), UVM_ENOTALLOC);  // already freed
}

TEST_P(VreallocTest, OverflowFailsAndKeepsTheBlock) {
  start();
  char* a = alloc(3 * P);
  ASSERT_NE(a, nullptr);
  fill(a, 3 * P, 51);
  vm_stats before = vm->stats();
  size_t in_use = vm->pool().in_use;
  EXPECT_EQ(resize_fails(a, SIZE_MAX), UVM_EOVERFLOW);
  EXPECT_EQ(resize_fails(a, SIZE_MAX - P + 2), UVM_EOVERFLOW);  // rounding wraps
  EXPECT_EQ(resize_fails(a, SIZE_MAX - P + 1), UVM_EOVERFLOW);  // the guard page wraps
  EXPECT_EQ(resize_fails(a, size_t{1} << 62), UVM_ENOSPC);      // more than the space
  vm_stats after = vm->stats();
  EXPECT_EQ(after.mapped, before.mapped);
  EXPECT_EQ(after.moved + after.grown_in_place + after.copied, 0u);
  EXPECT_EQ(vm->pool().in_use, in_use);
  EXPECT_EQ(area(a).size, 3 * P);
  EXPECT_EQ(verify(a, 3 * P, 51), 3 * P);
  EXPECT_EQ(vm->free(a), UVM_OK);
}

// A space of 64 MiB: growths that fit neither in place nor elsewhere fail
// and leave the block (pages, mapping, size, data) as it was.
TEST_P(VreallocTest, FailureForLackOfSpaceLeavesTheBlockUntouched) {
  vm_config c = config();
  c.reserve = c.min_reserve = 64 * MiB;
  start(c);
  char* a = alloc(16 * MiB);
  ASSERT_NE(a, nullptr);
  fill(a, 16 * MiB, 61);
  size_t in_use = vm->pool().in_use;
  size_t mapped = vm->stats().mapped;
  EXPECT_EQ(resize_fails(a, 128 * MiB), UVM_ENOSPC);
  EXPECT_EQ(area(a).size, 16 * MiB);
  EXPECT_EQ(vm->pool().in_use, in_use);
  EXPECT_EQ(vm->stats().mapped, mapped);
  EXPECT_EQ(verify(a, 16 * MiB, 61), 16 * MiB);
  // Blocked after, and too big to move into what is left.
  char* b = alloc(P);
  ASSERT_EQ(b, a + 16 * MiB + P);
  EXPECT_EQ(resize_fails(a, 50 * MiB), UVM_ENOSPC);
  EXPECT_EQ(area(a).size, 16 * MiB);
  EXPECT_EQ(vm->pool().in_use, in_use + P);
  EXPECT_EQ(verify(a, 16 * MiB, 61), 16 * MiB);
  a[0] = a[0];  // still mapped and writable
  // Something that fits moves.
  char* q = resize(a, 20 * MiB);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, a);
  EXPECT_EQ(verify(q, 16 * MiB, 61), 16 * MiB);
  EXPECT_EQ(vm->free(q), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
}

// Out of VMAs: the move is refused before anything changes.
TEST_P(VreallocTest, FailureForLackOfVmasLeavesTheBlockUntouched) {
  vm_config c = config();
  c.vma_max = 4;
  c.lazy_max = 0;  // b's range is free again as soon as it is freed
  start(c);
  char* a = alloc(4 * P);
  char* b = alloc(P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b, a + 5 * P);
  fill(a, 4 * P, 71);
  EXPECT_EQ(resize_fails(a, 64 * P), UVM_ENOMEM);
  EXPECT_EQ(area(a).size, 4 * P);
  EXPECT_EQ(verify(a, 4 * P, 71), 4 * P);
  EXPECT_EQ(vm->stats().moved, 0u);
  EXPECT_EQ(vm->free(b), UVM_OK);
  // With b gone, a grows in place (no new VMA needed for that).
  char* q = resize(a, 64 * P);
  EXPECT_EQ(q, a);
  EXPECT_EQ(verify(a, 4 * P, 71), 4 * P);
  EXPECT_EQ(vm->free(q), UVM_OK);
}

// Out of pages (RLIMIT_FSIZE stops the page memfd from growing), in a child
// process so the limit stays there. Exit code: which check failed.
int grow_beyond_file_limit(Vmalloc* vm) {
  signal(SIGXFSZ, SIG_IGN);
  int status;
  auto* a = static_cast<char*>(vm->alloc(4 * MiB, 1, 0, nullptr, &status));
  if (a == nullptr) return 10;
  fill(a, 4 * MiB, 81);
  size_t file = vm->pool().file_size;
  rlimit rl{file, file};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 11;
  size_t in_use = vm->pool().in_use;
  // Far beyond the file: neither extension nor a new run can be had.
  if (vm->realloc(a, file + 8 * MiB, nullptr, &status) != nullptr) return 12;
  if (status != UVM_ENOMEM) return 13;
  vm_struct s{};
  if (vm->find(a, &s) != UVM_OK || s.size != 4 * MiB) return 14;
  if (vm->pool().in_use != in_use) return 15;
  if (verify(a, 4 * MiB, 81) != 4 * MiB) return 16;
  if (!vm->check().empty()) return 17;
  if (vm->free(a) != UVM_OK) return 18;
  return 0;
}

TEST_P(VreallocTest, FailureForLackOfPagesLeavesTheBlockUntouched) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  vm_config c = config();
  c.pool.refill = 0;  // no warm pages to fall back on
  start(c);
  EXPECT_EXIT(_exit(grow_beyond_file_limit(vm.get())), ::testing::ExitedWithCode(0), "");
}

TEST_P(VreallocTest, GuardPageAfterGrowthStillFaults) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  start();
  char* a = alloc(3 * P);
  ASSERT_NE(a, nullptr);
  char* q = resize(a, 10 * P + 5);  // in place: 11 pages
  ASSERT_EQ(q, a);
  q[11 * P - 1] = 1;
  EXPECT_EXIT(poke(q + 11 * P), ::testing::KilledBySignal(SIGSEGV), "");
  // Moved: the new area's guard (and unmapped tail) faults too.
  auto blockers = block_after(q);
  char* r = resize(q, 40 * P);
  ASSERT_NE(r, nullptr);
  ASSERT_NE(r, q);
  r[40 * P - 1] = 1;
  EXPECT_EXIT(poke(r + 40 * P), ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(poke(q), ::testing::KilledBySignal(SIGSEGV), "");  // the old address
  EXPECT_EQ(vm->free(r), UVM_OK);
  free_all(blockers);
}

TEST_P(VreallocTest, GrowsByMiBStepsTo256MiB) {
  start();
  char* p = alloc(MiB);
  ASSERT_NE(p, nullptr);
  memset(p, 1, MiB);
  for (size_t m = 2; m <= 256; ++m) {
    char* q = resize(p, m * MiB);
    ASSERT_NE(q, nullptr) << m << " MiB";
    memset(q + (m - 1) * MiB, static_cast<int>(m), MiB);  // touch the new part only
    p = q;
  }
  for (size_t m = 1; m <= 256; ++m)
    ASSERT_EQ(first_not(p + (m - 1) * MiB, MiB, static_cast<unsigned char>(m)), MiB) << m;
  vm_stats st = vm->stats();
  EXPECT_EQ(st.grown_in_place + st.moved + st.copied, 255u);
  EXPECT_EQ(st.copied, 0u);
  EXPECT_LE(area(p).nr_runs, kMaxRuns);
  EXPECT_EQ(vm->free(p), UVM_OK);
}

TEST_P(VreallocTest, GrowsByDoublingTo512MiB) {
  start();
  char* p = alloc(MiB);
  ASSERT_NE(p, nullptr);
  memset(p, 0, MiB);
  int gen = 1;
  for (size_t size = 2 * MiB; size <= 512 * MiB; size *= 2, ++gen) {
    char* q = resize(p, size);
    ASSERT_NE(q, nullptr) << size;
    memset(q + size / 2, gen, size / 2);
    p = q;
  }
  EXPECT_EQ(first_not(p, MiB, 0), MiB);
  gen = 1;
  for (size_t size = 2 * MiB; size <= 512 * MiB; size *= 2, ++gen)
    ASSERT_EQ(first_not(p + size / 2, size / 2, static_cast<unsigned char>(gen)), size / 2) << size;
  EXPECT_EQ(vm->stats().copied, 0u);
  EXPECT_EQ(vm->free(p), UVM_OK);
}

// A block whose last run can never be extended: before each growth its last
// page goes back to the pool and a one-page blocker takes it, so every
// growth needs a new run. Once kMaxRuns are used up, growths copy.
TEST_P(VreallocTest, GrowthBeyondMaxRunsCopies) {
  vm_config c = config();
  c.pool.refill = 0;     // the freed page is the only warm one
  c.pool.uring = false;  // prefaulted spares would come back warm and feed the blockers
  c.lazy_max = 0;
  start(c);
  Rng rng{5};
  std::vector<unsigned char> model(8 * P);
  random_bytes(model.data(), model.size(), rng);
  char* p = alloc(model.size());
  ASSERT_NE(p, nullptr);
  memcpy(p, model.data(), model.size());
  std::vector<char*> blockers;
  unsigned max_runs = 0;
  for (int i = 0; i < 40; ++i) {
    SCOPED_TRACE(i);
    size_t size = model.size();
    p = resize(p, size - P);  // gives back the last page (and the spare)
    ASSERT_NE(p, nullptr);
    char* b = alloc(P);  // takes that page (lowest warm)
    ASSERT_NE(b, nullptr);
    blockers.push_back(b);
    vm_stats before = vm->stats();
    size_t new_size = size + (1 + rng.below(4)) * P;
    char* q = resize(p, new_size);
    ASSERT_NE(q, nullptr);
    vm_stats after = vm->stats();
    EXPECT_EQ(after.grown_in_place + after.moved + after.copied,
              before.grown_in_place + before.moved + before.copied + 1);
    ASSERT_EQ(memcmp(q, model.data(), size - P), 0);
    model.resize(new_size);
    random_bytes(model.data() + size - P, new_size - (size - P), rng);
    memcpy(q, model.data(), new_size);
    vm_struct s = area(q);
    EXPECT_LE(s.nr_runs, kMaxRuns);
    max_runs = std::max(max_runs, s.nr_runs);
    p = q;
  }
  EXPECT_EQ(memcmp(p, model.data(), model.size()), 0);
  vm_stats st = vm->stats();
  EXPECT_EQ(max_runs, kMaxRuns);
  EXPECT_GT(st.copied, 0u);
  EXPECT_EQ(vm->free(p), UVM_OK);
  free_all(blockers);
  EXPECT_EQ(vm->pool().in_use, 0u);
}

// A vmap area is not vrealloc's to resize.
TEST_P(VreallocTest, VmapAreaIsWrongKind) {
  start();
  int status;
  uvm_pages* h = vm->alloc_pages(2, &status);
  ASSERT_NE(h, nullptr);
  void* m = vm->vmap(&h, 1, 0, nullptr, &status);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(resize_fails(m, 8 * P), UVM_EWRONGKIND);
  EXPECT_EQ(vm->vunmap(m), UVM_OK);
  vm->put_pages(h);
}

// ---- The C API on the process-wide instance --------------------------------

TEST(VreallocApi, NullAllocatesAndZeroFrees) {
  auto* p = static_cast<char*>(uvm_vrealloc(nullptr, 5000));
  ASSERT_NE(p, nullptr);
  EXPECT_GE(uvm_vmalloc_size(p), 2 * P);  // a reused lazy area may be larger
  EXPECT_LE(uvm_vmalloc_size(p), 3 * P);
  memset(p, 3, 5000);
  errno = 0;
  EXPECT_EQ(uvm_vrealloc(p, 0), nullptr);
  EXPECT_EQ(uvm_vfree_status(p), UVM_ENOTALLOC);  // it was freed
}

TEST(VreallocApi, OverflowIsEnomemAndKeepsTheBlock) {
  auto* p = static_cast<char*>(uvm_vmalloc(3 * P));
  ASSERT_NE(p, nullptr);
  fill(p, 3 * P, 91);
  for (size_t size : {SIZE_MAX, SIZE_MAX - P + 2, SIZE_MAX - P + 1, size_t{1} << 62}) {
    errno = 0;
    EXPECT_EQ(uvm_vrealloc(p, size), nullptr) << size;
    EXPECT_EQ(errno, ENOMEM) << size;
  }
  EXPECT_EQ(uvm_vmalloc_size(p), 3 * P);
  EXPECT_EQ(verify(p, 3 * P, 91), 3 * P);
  uvm_vfree(p);
}

TEST(VreallocApi, GrowsShrinksAndKeepsContents) {
  auto* p = static_cast<char*>(uvm_vmalloc(100));
  ASSERT_NE(p, nullptr);
  fill(p, 96, 92);
  struct uvm_stats before {};
  uvm_stats(&before);
  p = static_cast<char*>(uvm_vrealloc(p, 3 * MiB));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(verify(p, 96, 92), 96u);
  fill(p, 3 * MiB, 93);
  p = static_cast<char*>(uvm_vrealloc(p, MiB + 1));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(uvm_vmalloc_size(p), MiB + P);
  EXPECT_EQ(verify(p, MiB, 93), MiB);
  struct uvm_stats after {};
  uvm_stats(&after);
  EXPECT_EQ(after.grown_in_place + after.moved + after.copied,
            before.grown_in_place + before.moved + before.copied + 1);
  uvm_vfree(p);
}

// uvm_vmalloc_align(2 MiB) grown past a blocker: the new address is still
// 2 MiB aligned.
TEST(VreallocApi, AlignmentIsKeptAcrossMoves) {
  auto* p = static_cast<char*>(uvm_vmalloc_align(MiB, 2 * MiB));
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % (2 * MiB), 0u);
  fill(p, MiB, 94);
  // Blockers until something lives right behind p's area and guard page
  // (p may be a reused lazy area, larger than asked).
  uvm_area a{};
  char* behind = p + MiB + P;
  while (uvm_find_vm_area(behind, &a) == UVM_EINTERIOR && a.addr == p) behind += P;
  behind += P;
  std::vector<void*> blockers;
  for (int i = 0; i < 100000 && uvm_find_vm_area(behind, &a) != UVM_OK &&
                  uvm_find_vm_area(behind, &a) != UVM_EINTERIOR;
       ++i) {
    void* b = uvm_vmalloc(P);
    ASSERT_NE(b, nullptr);
    blockers.push_back(b);
  }
  struct uvm_stats before {};
  uvm_stats(&before);
  auto* q = static_cast<char*>(uvm_vrealloc(p, 8 * MiB));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % (2 * MiB), 0u);
  EXPECT_EQ(verify(q, MiB, 94), MiB);
  struct uvm_stats after {};
  uvm_stats(&after);
  EXPECT_EQ(after.moved, before.moved + 1);
  EXPECT_EQ(after.copied, before.copied);
  uvm_vfree(q);
  for (void* b : blockers) uvm_vfree(b);
}

TEST(VreallocApiDeathTest, InteriorPointerAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  auto* p = static_cast<char*>(uvm_vmalloc(3 * P));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(uvm_vrealloc(p + 100, 8 * P),
               "uvm_vrealloc.*pointer into the middle of an allocation: 100 bytes into");
  EXPECT_DEATH(uvm_vrealloc(p + P, 0), "pointer into the middle of an allocation");
  uvm_vfree(p);
}

TEST(VreallocApiDeathTest, FreedAndForeignPointersAbort) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  void* p = uvm_vmalloc(P);
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
  EXPECT_DEATH(uvm_vrealloc(p, 2 * P), "uvm_vrealloc.*double free or never allocated");
  static char object[64];
  EXPECT_DEATH(uvm_vrealloc(object, 2 * P), "uvm_vrealloc.*pointer outside the vmalloc space");
}

}  // namespace
}  // namespace uvm
