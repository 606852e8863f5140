// Vmalloc tests: areas mapped onto pool pages, guard pages, lazy purge,
// reuse of lazy areas (smallest fit, trimming), VM_ZERO, alignment, the VMA
// budget, reserve exhaustion, bad frees and two threads at once. Each instance gets its own
// vm_config; the suite runs with io_uring on and off and with lazy purge on and off (lazy_max = 0:
// unmap at once).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "pal.h"
#include "test_util.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"
#include "vmalloc_fixture.h"

namespace uvm {
namespace {

using uvm::test::all_zero;
using uvm::test::fill;
using uvm::test::GiB;
using uvm::test::MiB;
using uvm::test::P;
using uvm::test::poke;
using uvm::test::round_up;
using uvm::test::verify;

using Param = std::tuple<bool, bool>;  // io_uring, lazy purge

class VmallocTest : public ::testing::TestWithParam<Param>, protected test::VmallocOwner {
 protected:
  bool uring() const { return std::get<0>(GetParam()); }
  bool lazy() const { return std::get<1>(GetParam()); }

  vm_config config() const {
    vm_config c;
    c.reserve = 8 * GiB;
    c.min_reserve = 4 * GiB;
    c.lazy_max = lazy() ? 64 * MiB : 0;
    c.pool.uring = uring();
    c.pool.refill = MiB;
    c.pool.pool_max = 16 * MiB;
    return c;
  }

  using VmallocOwner::start;
  void start() { start(config()); }
  void TearDown() override { check_at_end(); }
};

TEST_P(VmallocTest, AllocationsArePageAlignedAndWritable) {
  start();
  char* a = alloc(1);
  char* b = alloc(3 * P + 17);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % P, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % P, 0u);
  EXPECT_TRUE(vm->contains(a));
  EXPECT_TRUE(vm->contains(b + 4 * P - 1));
  // Fresh pages read as zeros (holes, or refilled pages never written).
  EXPECT_TRUE(all_zero(b, 4 * P));
  fill(a, P, 1);
  fill(b, 4 * P, 2);  // the whole rounded size is usable
  EXPECT_EQ(verify(a, P, 1), P);
  EXPECT_EQ(verify(b, 4 * P, 2), 4 * P);
  vm_struct s{};
  ASSERT_EQ(vm->find(b, &s), UVM_OK);
  EXPECT_EQ(s.addr, reinterpret_cast<uintptr_t>(b));
  EXPECT_EQ(s.size, 4 * P);
  EXPECT_EQ(s.requested, 3 * P + 17);
  vm_struct t{};
  EXPECT_EQ(vm->find(b + P + 5, &t), UVM_EINTERIOR);
  EXPECT_EQ(t.addr, reinterpret_cast<uintptr_t>(b));
  int local = 0;
  EXPECT_EQ(vm->find(&local, &t), UVM_EFOREIGN);
  EXPECT_FALSE(vm->contains(&local));
  vm_stats st = vm->stats();
  EXPECT_EQ(st.areas, 2u);
  EXPECT_EQ(st.allocs, 2u);
  EXPECT_EQ(st.mapped, 5 * P);
  EXPECT_EQ(vm->pool().in_use, 5 * P);
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
  EXPECT_EQ(vm->stats().areas, 0u);
  EXPECT_EQ(vm->stats().frees, 2u);
}

TEST_P(VmallocTest, BadArgumentsFailCleanly) {
  start();
  EXPECT_EQ(alloc_fails(0), UVM_EINVAL);
  EXPECT_EQ(alloc_fails(P, 0), UVM_EINVAL);
  EXPECT_EQ(alloc_fails(P, 3), UVM_EINVAL);
  EXPECT_EQ(alloc_fails(P, P + 1), UVM_EINVAL);
  EXPECT_EQ(alloc_fails(SIZE_MAX), UVM_EOVERFLOW);
  EXPECT_EQ(alloc_fails(SIZE_MAX - P + 2), UVM_EOVERFLOW);  // rounding up wraps
  EXPECT_EQ(alloc_fails(SIZE_MAX - P + 1), UVM_EOVERFLOW);  // the guard page wraps
  EXPECT_EQ(alloc_fails(16 * GiB), UVM_ENOSPC);             // more than the reserve
  vm_stats st = vm->stats();
  EXPECT_EQ(st.areas, 0u);
  EXPECT_EQ(st.allocs, 0u);
  EXPECT_EQ(st.mapped, 0u);
  EXPECT_EQ(vm->pool().in_use, 0u);
}

// Data of live areas survives purges, pool trimming and the reuse of the
// pages of other areas.
TEST_P(VmallocTest, DataSurvivesPurgesAndPoolReuse) {
  start();
  std::mt19937_64 rng(99);
  struct Area {
    char* p;
    size_t size;
    uint64_t tag;
  };
  std::vector<Area> keep;
  uint64_t next_tag = 1;
  for (int round = 0; round < 12; ++round) {
    std::vector<Area> churn;
    for (int i = 0; i < 12; ++i) {
      size_t size = (1 + rng() % 48) * P - rng() % 64;
      char* p = alloc(size);
      ASSERT_NE(p, nullptr);
      uint64_t tag = next_tag++ << 40;
      fill(p, size, tag);
      (i % 3 == 0 ? keep : churn).push_back({p, size, tag});
    }
    for (Area& a : churn) ASSERT_EQ(vm->free(a.p), UVM_OK);
    if (round % 4 == 1) vm->purge();
    if (round % 4 == 3) vm->purge_all();
    ASSERT_EQ(vm->check(), "") << "round " << round;
    for (const Area& a : keep) ASSERT_EQ(verify(a.p, a.size, a.tag), a.size) << "round " << round;
  }
  EXPECT_GT(vm->pool().warm_hits + vm->stats().reused, 0u);  // pages were recycled
  for (const Area& a : keep) EXPECT_EQ(vm->free(a.p), UVM_OK);
  vm->purge_all();
  EXPECT_EQ(vm->stats().areas, 0u);
  EXPECT_EQ(vm->stats().mapped, 0u);
  EXPECT_EQ(vm->pool().in_use, 0u);
  EXPECT_EQ(vm->committed(), 0u);
}

TEST_P(VmallocTest, ZeroFlagClearsRecycledPages) {
  start();
  constexpr size_t kSize = 5 * P;
  char* a = alloc(kSize);
  ASSERT_NE(a, nullptr);
  memset(a, 0xab, kSize);
  ASSERT_EQ(vm->free(a), UVM_OK);
  // Lazy: served by the same still-mapped area; otherwise by warm pages.
  char* b = alloc(kSize, 1, VM_ZERO);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(all_zero(b, kSize));
  memset(b, 0xcd, kSize);
  ASSERT_EQ(vm->free(b), UVM_OK);
  vm->purge();
  size_t warm_hits = vm->pool().warm_hits;
  char* c = alloc(kSize, 1, VM_ZERO);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(vm->pool().warm_hits, warm_hits);  // recycled pages, not holes
  EXPECT_TRUE(all_zero(c, kSize));
  memset(c, 0xef, kSize);
  ASSERT_EQ(vm->free(c), UVM_OK);
  vm->purge();
  char* d = alloc(3 * P, 1, VM_ZERO);  // smaller: part of a warm run
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(all_zero(d, 3 * P));
  char* e = alloc(9 * P - 1, 1, VM_ZERO);  // larger
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(all_zero(e, 9 * P));
  memset(d, 0x11, 3 * P);
  memset(e, 0x22, 9 * P);
  ASSERT_EQ(vm->free(d), UVM_OK);
  ASSERT_EQ(vm->free(e), UVM_OK);
  // Same sizes again without a purge (the lazy reuse path when lazy is on).
  char* f = alloc(3 * P, 1, VM_ZERO);
  char* g = alloc(9 * P, 1, VM_ZERO);
  ASSERT_NE(f, nullptr);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(all_zero(f, 3 * P));
  EXPECT_TRUE(all_zero(g, 9 * P));
  EXPECT_EQ(vm->free(f), UVM_OK);
  EXPECT_EQ(vm->free(g), UVM_OK);
}

TEST_P(VmallocTest, SameSizeReuseWhenLazy) {
  start();
  char* a = alloc(7 * P);
  ASSERT_NE(a, nullptr);
  fill(a, 7 * P, 7);
  vm_stats before = vm->stats();
  ASSERT_EQ(vm->free(a), UVM_OK);
  char* b = alloc(7 * P - 100);  // the same rounded size
  ASSERT_NE(b, nullptr);
  vm_stats after = vm->stats();
  if (lazy()) {
    EXPECT_EQ(b, a);
    EXPECT_EQ(after.reused, before.reused + 1);
    EXPECT_EQ(after.mapped, before.mapped);  // no unmap, no map
    EXPECT_EQ(after.lazy, 0u);
    vm_struct s{};
    ASSERT_EQ(vm->find(b, &s), UVM_OK);
    EXPECT_EQ(s.requested, 7 * P - 100);
  } else {
    EXPECT_EQ(after.reused, before.reused);
  }
  // A larger size is never served by a smaller lazy area.
  ASSERT_EQ(vm->free(b), UVM_OK);
  size_t reused = vm->stats().reused;
  char* c = alloc(8 * P);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(vm->stats().reused, reused);
  if (lazy()) {
    EXPECT_NE(c, a);  // a is still held, lazily freed
    EXPECT_EQ(vm->stats().lazy, 7 * P);
  }
  EXPECT_EQ(vm->free(c), UVM_OK);
}

// Reuse never hands out a lazy area at the wrong alignment or with a
// different guard.
TEST_P(VmallocTest, ReuseHonoursAlignmentAndGuard) {
  start();
  char* filler = alloc(P);  // pushes the next area off the 2 MiB boundary
  char* a = alloc(4 * P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(reinterpret_cast<uintptr_t>(a) % (2 * MiB), 0u);
  ASSERT_EQ(vm->free(a), UVM_OK);
  size_t reused = vm->stats().reused;
  char* b = alloc(4 * P, 2 * MiB);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % (2 * MiB), 0u);
  EXPECT_EQ(vm->stats().reused, reused);
  char* c = alloc(4 * P, 1, VM_NO_GUARD);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(vm->stats().reused, reused);
  if (lazy() && c == a) {
    // Only once a's area was purged (its pages taken for c: lazy_to_pool).
    EXPECT_GE(vm->stats().purges, 1u);
  }
  EXPECT_EQ(vm->free(b), UVM_OK);
  EXPECT_EQ(vm->free(c), UVM_OK);
  EXPECT_EQ(vm->free(filler), UVM_OK);
}

TEST_P(VmallocTest, AreasAreSeparatedByAGuardPage) {
  start();
  char* a = alloc(3 * P);
  char* b = alloc(P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b, a + 4 * P);  // lowest fit: right after a's guard page
  vm_struct s{};
  EXPECT_EQ(vm->find(a + 3 * P, &s), UVM_EINTERIOR);  // the guard belongs to a
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
}

TEST_P(VmallocTest, WritingPastTheEndHitsTheGuardPage) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  start();
  char* p = alloc(3 * P + 10);
  char* next = alloc(P);  // lowest fit: right behind p's guard page
  ASSERT_NE(p, nullptr);
  ASSERT_NE(next, nullptr);
  p[4 * P - 1] = 1;  // the last byte of the rounded size is fine
  next[0] = 1;
  EXPECT_EXIT(poke(p + 4 * P), ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EQ(vm->free(p), UVM_OK);
  EXPECT_EQ(vm->free(next), UVM_OK);
}

TEST_P(VmallocTest, GuardOffLeavesNoGuardPage) {
  vm_config c = config();
  c.guard = false;
  start(c);
  char* a = alloc(2 * P);
  char* b = alloc(P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b, a + 2 * P);  // directly adjacent
  b[0] = 0;
  a[2 * P] = 42;  // one past a's end is b, not a guard
  EXPECT_EQ(b[0], 42);
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
}

TEST_P(VmallocTest, NoGuardFlagLeavesNoGuardPage) {
  start();
  char* a = alloc(2 * P, 1, VM_NO_GUARD);
  char* b = alloc(P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b, a + 2 * P);
  a[2 * P] = 7;
  EXPECT_EQ(b[0], 7);
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(b), UVM_OK);
}

TEST_P(VmallocTest, UseAfterFreeFaultsOnceUnmapped) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  start();
  char* p = alloc(2 * P);
  ASSERT_NE(p, nullptr);
  memset(p, 0x5a, 2 * P);
  ASSERT_EQ(vm->free(p), UVM_OK);
  if (lazy()) {
    // Lazily freed: still mapped to its pages until the purge.
    EXPECT_EQ(vm->stats().lazy, 2 * P);
    EXPECT_EQ(static_cast<unsigned char>(*reinterpret_cast<volatile char*>(p + P)), 0x5au);
    vm->purge();
  }
  EXPECT_EQ(vm->stats().lazy, 0u);
  EXPECT_EXIT(poke(p), ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(poke(p + 2 * P - 1), ::testing::KilledBySignal(SIGSEGV), "");
}

TEST_P(VmallocTest, AlignmentIsHonoured) {
  start();
  char* filler = alloc(3 * P);
  std::vector<char*> live;
  for (size_t align : {size_t{1}, size_t{64}, P, 2 * P, 16 * P, 2 * MiB, 64 * MiB, GiB}) {
    for (size_t size : {size_t{1}, 5 * P + 3, 3 * MiB}) {
      char* p = alloc(size, align);
      ASSERT_NE(p, nullptr) << "align " << align;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % std::max(align, P), 0u) << "align " << align;
      p[0] = 1;
      p[round_up(size) - 1] = 2;
      live.push_back(p);
    }
  }
  for (size_t i = 0; i < live.size(); ++i)
    for (size_t j = i + 1; j < live.size(); ++j) EXPECT_NE(live[i], live[j]);
  EXPECT_EQ(vm->check(), "");
  for (char* p : live) EXPECT_EQ(vm->free(p), UVM_OK);
  // After a free, an aligned request is still aligned (lazy or not).
  char* q = alloc(P, GiB);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % GiB, 0u);
  EXPECT_EQ(vm->free(q), UVM_OK);
  EXPECT_EQ(vm->free(filler), UVM_OK);
}

TEST_P(VmallocTest, StatsFollowTheLazyState) {
  start();
  char* a = alloc(6 * P);
  ASSERT_NE(a, nullptr);
  memset(a, 1, 6 * P);
  vm_stats s0 = vm->stats();
  EXPECT_EQ(s0.mapped, 6 * P);
  EXPECT_EQ(s0.areas, 1u);
  EXPECT_GE(vm->committed(), 6 * P);
  ASSERT_EQ(vm->free(a), UVM_OK);
  vm_stats s1 = vm->stats();
  EXPECT_EQ(s1.areas, 0u);
  EXPECT_EQ(s1.frees, s0.frees + 1);
  if (lazy()) {
    EXPECT_EQ(s1.lazy, 6 * P);
    EXPECT_EQ(s1.mapped, 6 * P);  // still mapped until the purge
    EXPECT_EQ(vm->pool().in_use, 6 * P);
    vm->purge();
    vm_stats s2 = vm->stats();
    EXPECT_EQ(s2.lazy, 0u);
    EXPECT_EQ(s2.mapped, 0u);
    EXPECT_EQ(s2.purges, s1.purges + 1);
    EXPECT_EQ(s2.purged_areas, s1.purged_areas + 1);
  } else {
    EXPECT_EQ(s1.lazy, 0u);
    EXPECT_EQ(s1.mapped, 0u);
  }
  EXPECT_EQ(vm->pool().in_use, 0u);
  vm->purge_all();
  EXPECT_EQ(vm->pool().pooled, 0u);
  EXPECT_EQ(vm->committed(), 0u);
}

// Growth maps its pages without faulting them in, as mremap does: capacity
// the program never touches costs no memory, and what it wrote follows the
// block, moved or grown in place.
TEST_P(VmallocTest, GrowthCommitsOnlyWhatIsTouched) {
  start();
  size_t before = vm->committed();
  char* p = alloc(MiB);
  ASSERT_NE(p, nullptr);
  memset(p, 'w', MiB);
  int st;
  for (size_t n = 2 * MiB; n <= GiB; n *= 2) {
    p = static_cast<char*>(vm->realloc(p, n, nullptr, &st));
    ASSERT_NE(p, nullptr) << uvm_strerror(st);
  }
  EXPECT_LE(vm->committed(), before + 2 * MiB);
  for (size_t i = 0; i < MiB; i += P) ASSERT_EQ(p[i], 'w');
  p[GiB - 1] = 'e';
  EXPECT_LE(vm->committed(), before + 2 * MiB + P);
  EXPECT_EQ(vm->check(), "");
  ASSERT_EQ(vm->free(p), UVM_OK);
}

// Adjacent lazy areas are unmapped by one call per run of neighbours.
TEST_P(VmallocTest, PurgeCoalescesAdjacentAreas) {
  start();
  std::vector<char*> v;
  for (int i = 0; i < 8; ++i) v.push_back(alloc((1 + i) * P));
  for (char* p : v) ASSERT_EQ(vm->free(p), UVM_OK);
  vm->purge();
  vm_stats s = vm->stats();
  EXPECT_EQ(s.purged_areas, lazy() ? 8u : 0u);  // eager frees unmap one by one
  EXPECT_EQ(s.purge_calls, lazy() ? 1u : 0u);
  EXPECT_EQ(s.mapped, 0u);
}

// A lazy area serves a smaller request: as it is when at most an eighth too
// large, after unmapping its tail when larger, never when over twice the size.
TEST_P(VmallocTest, ReuseTakesTheSmallestLazyAreaThatFits) {
  if (!lazy()) GTEST_SKIP() << "nothing waits lazily";
  start();
  char* a = alloc(64 * P);
  char* b = alloc(80 * P);
  fill(a, 64 * P, 1);
  fill(b, 80 * P, 2);
  ASSERT_EQ(vm->free(b), UVM_OK);
  ASSERT_EQ(vm->free(a), UVM_OK);
  vm_stats s0 = vm->stats();
  char* c = alloc(60 * P - 5);  // a is the smallest fit, 4 pages over
  ASSERT_EQ(c, a);
  vm_struct info{};
  ASSERT_EQ(vm->find(c, &info), UVM_OK);
  EXPECT_EQ(info.size, 64 * P);  // kept whole: the slack is usable
  EXPECT_EQ(info.requested, 60 * P - 5);
  EXPECT_EQ(verify(c, 64 * P, 1), 64 * P);  // not zeroed: malloc semantics
  vm_stats s1 = vm->stats();
  EXPECT_EQ(s1.reused, s0.reused + 1);
  EXPECT_EQ(s1.trimmed, s0.trimmed);
  EXPECT_EQ(s1.mapped, s0.mapped);

  char* d = alloc(41 * P, 1, VM_ZERO);  // b, trimmed from 80 to 41 pages
  ASSERT_EQ(d, b);
  ASSERT_EQ(vm->find(d, &info), UVM_OK);
  EXPECT_EQ(info.size, 41 * P);
  EXPECT_TRUE(all_zero(d, 41 * P));
  vm_stats s2 = vm->stats();
  EXPECT_EQ(s2.trimmed, s1.trimmed + 1);
  EXPECT_EQ(s2.mapped, s1.mapped - 39 * P);
  EXPECT_DEATH(poke(d + 41 * P), "");  // the old tail is unmapped
  ASSERT_EQ(vm->free(c), UVM_OK);
  ASSERT_EQ(vm->free(d), UVM_OK);

  // 41 and 64 pages wait; 20 pages is under half of either: a new area.
  char* e = alloc(20 * P);
  EXPECT_NE(e, c);
  EXPECT_NE(e, d);
  EXPECT_EQ(vm->stats().reused, s2.reused);
  ASSERT_EQ(vm->free(e), UVM_OK);
}

// A new area is built from several warm runs when no single one is long
// enough; its data is contiguous across their seams.
TEST_P(VmallocTest, NewAreaMapsSeveralWarmRuns) {
  vm_config c = config();
  c.pool.refill = 0;
  start(c);
  std::vector<char*> v;
  for (int i = 0; i < 6; ++i) v.push_back(alloc(16 * P));
  for (int i = 0; i < 6; ++i) fill(v[i], 16 * P, i);
  for (int i = 0; i < 6; i += 2) ASSERT_EQ(vm->free(v[i]), UVM_OK);
  vm->purge();  // their pages are warm pool pieces now, 16 pages each
  size_t warm = vm->pool().warm_hits;
  char* big = alloc(40 * P);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(vm->pool().warm_hits, warm + 1);
  EXPECT_EQ(vm->pool().pooled, 8 * P);
  vm_struct info{};
  ASSERT_EQ(vm->find(big, &info), UVM_OK);
  EXPECT_EQ(info.nr_runs, 3u);
  fill(big, 40 * P, 77);
  EXPECT_EQ(verify(big, 40 * P, 77), 40 * P);
  for (int i = 1; i < 6; i += 2) EXPECT_EQ(verify(v[i], 16 * P, i), 16 * P);
  ASSERT_EQ(vm->free(big), UVM_OK);
  for (int i = 1; i < 6; i += 2) ASSERT_EQ(vm->free(v[i]), UVM_OK);
}

// A size class whose sampled areas were touched sparsely is mapped without
// prefault from then on, and its zeroed areas take holes; a densely touched
// class is prefaulted.
TEST_P(VmallocTest, PrefaultFollowsHowDenselyASizeIsUsed) {
  vm_config c = config();
  c.pool.refill = 0;
  start(c);
  auto present = [](const char* p, size_t len) {
    size_t examined;
    return pal::count_present(p, len, len / P, &examined);
  };
  char* a = alloc(MiB);  // the first of its class: sampled, not prefaulted
  EXPECT_EQ(present(a, MiB), 0);
  a[5 * P] = 1;
  ASSERT_EQ(vm->free(a), UVM_OK);  // 1 page in 256 was touched
  vm->purge();
  char* b = alloc(MiB);  // warm pages now, but the class is sparse
  EXPECT_EQ(vm->pool().warm_hits, 1u);
  EXPECT_EQ(present(b, MiB), 0);
  memset(b, 0xAB, MiB);
  ASSERT_EQ(vm->free(b), UVM_OK);
  vm->purge();
  size_t cold = vm->pool().cold_allocs;
  char* z = alloc(MiB, 1, VM_ZERO);  // holes, not the dirty warm pages cleared
  EXPECT_EQ(vm->pool().cold_allocs, cold + 1);
  EXPECT_EQ(present(z, MiB), 0);
  EXPECT_TRUE(all_zero(z, MiB));
  ASSERT_EQ(vm->free(z), UVM_OK);

  char* d = alloc(4 * MiB);  // another class, sampled first
  memset(d, 1, 4 * MiB);
  ASSERT_EQ(vm->free(d), UVM_OK);  // every page touched
  vm->purge();
  char* e = alloc(4 * MiB);
  EXPECT_EQ(present(e, 4 * MiB), static_cast<long>(4 * MiB / P));  // prefaulted
  ASSERT_EQ(vm->free(e), UVM_OK);
}

// Exceeding lazy_max purges the areas freed first and keeps the newest half.
TEST_P(VmallocTest, LazyPurgeTakesTheOldestFirst) {
  if (!lazy()) GTEST_SKIP() << "nothing waits lazily";
  vm_config c = config();
  c.lazy_max = 40 * P;
  start(c);
  std::vector<char*> v;
  for (int i = 0; i < 5; ++i) v.push_back(alloc(10 * P));
  for (int i : {3, 0, 4, 1}) ASSERT_EQ(vm->free(v[i]), UVM_OK);  // exactly lazy_max
  EXPECT_EQ(vm->stats().purges, 0u);
  ASSERT_EQ(vm->free(v[2]), UVM_OK);  // over: 3 and 0 and 4 go, 1 and 2 stay
  vm_stats s = vm->stats();
  EXPECT_EQ(s.purges, 1u);
  EXPECT_EQ(s.purged_areas, 3u);
  EXPECT_EQ(s.purge_calls, 2u);  // 3 and 4 are adjacent; 0 on its own
  EXPECT_EQ(s.lazy, 20 * P);
  // The two kept are reused, without a syscall, at their addresses.
  char* x = alloc(10 * P);
  char* y = alloc(10 * P);
  EXPECT_EQ(std::min(x, y), v[1]);
  EXPECT_EQ(std::max(x, y), v[2]);
  EXPECT_EQ(vm->stats().reused, 2u);
  ASSERT_EQ(vm->free(x), UVM_OK);
  ASSERT_EQ(vm->free(y), UVM_OK);
}

// Random sizes, alignments, zeroing, frees, purges and a small lazy_max:
// after every step the invariants hold, every live block keeps its data,
// no two live blocks overlap, and zeroed blocks read as zeros.
TEST_P(VmallocTest, RandomReuseKeepsBlocksApart) {
  vm_config c = config();
  if (lazy()) c.lazy_max = 256 * P;
  start(c);
  test::Rng rng{GetParam() == Param{true, true} ? 7u : 11u};
  struct Block {
    size_t size;
    uint64_t tag;
  };
  std::map<char*, Block> live;  // the model: what must be where
  uint64_t tag = 1;
  for (int step = 0; step < 3000; ++step) {
    unsigned op = rng.below(10);
    if (op < 5 || live.empty()) {
      size_t size = 1 + rng.below(rng.below(4) == 0 ? 96 * P : 12 * P);
      size_t align = size_t{1} << rng.below(rng.below(8) == 0 ? 17 : 13);
      unsigned flags = rng.below(4) == 0 ? unsigned{VM_ZERO} : 0u;
      char* p = alloc(size, align, flags);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
      if (flags & VM_ZERO) {
        ASSERT_TRUE(all_zero(p, size)) << "step " << step;
      }
      auto next = live.lower_bound(p);
      if (next != live.end()) {
        ASSERT_LE(p + size, next->first) << "step " << step;
      }
      if (next != live.begin()) {
        auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second.size, p) << "step " << step;
      }
      fill(p, size, tag << 32);
      live[p] = {size, tag++ << 32};
    } else if (op < 9) {
      auto it = live.begin();
      std::advance(it, rng.below(live.size()));
      ASSERT_EQ(verify(it->first, it->second.size, it->second.tag), it->second.size)
          << "step " << step;
      ASSERT_EQ(vm->free(it->first), UVM_OK);
      live.erase(it);
    } else if (rng.below(8) == 0) {
      vm->purge();
    }
    ASSERT_EQ(vm->check(), "") << "step " << step;
  }
  for (auto& [p, b] : live) {
    ASSERT_EQ(verify(p, b.size, b.tag), b.size);
    ASSERT_EQ(vm->free(p), UVM_OK);
  }
  if (lazy()) {
    EXPECT_GT(vm->stats().reused, 100u);
    EXPECT_GT(vm->stats().trimmed, 0u);
  }
}

// Exceeding lazy_max purges by itself.
TEST_P(VmallocTest, LazyMaxTriggersAPurge) {
  vm_config c = config();
  if (lazy()) c.lazy_max = 8 * P;
  start(c);
  std::vector<char*> v;
  for (int i = 0; i < 6; ++i) v.push_back(alloc(3 * P + i * P));
  for (char* p : v) ASSERT_EQ(vm->free(p), UVM_OK);
  vm_stats s = vm->stats();
  EXPECT_LE(s.lazy, c.lazy_max);
  if (lazy()) {
    EXPECT_GE(s.purges, 1u);
  }
}

// Lazy areas and warm pool pages are sized by what is live: each holds at
// most what live is below its peak (48 MiB here), and with 16 MiB live a
// quarter of it (at least the floor), whatever lazy_max and pool_max allow;
// with nothing live, the floor.
TEST_P(VmallocTest, SmallLiveSetKeepsAShareOfItLazyAndPooled) {
  vm_config c = config();
  if (lazy()) c.lazy_max = 64 * MiB;
  c.pool.pool_max = 64 * MiB;
  c.pool.live_share = 25;
  c.pool.live_floor = 2 * MiB;
  start(c);
  char* keep = alloc(16 * MiB);
  fill(keep, 16 * MiB, 7);
  for (int round = 0; round < 3; ++round) {
    std::vector<char*> v;
    for (int i = 0; i < 32; ++i) {
      v.push_back(alloc(MiB));
      fill(v.back(), MiB, static_cast<unsigned char>(i));
    }
    for (char* p : v) {
      ASSERT_EQ(vm->free(p), UVM_OK);
      vm_stats s = vm->stats();
      size_t live = s.mapped - s.lazy;
      size_t cap = std::max(2 * MiB, std::min(48 * MiB - live, live / 4));
      EXPECT_EQ(s.lazy_cap, lazy() ? cap : 0u);
      EXPECT_LE(s.lazy, cap);
      // The pool is trimmed when pages reach it (a purge); a lazy free in
      // between lowers what is live without a call into the pool.
      EXPECT_LE(vm->pool().pooled, lazy() ? 12 * MiB : cap);
    }
  }
  vm_stats s = vm->stats();
  EXPECT_EQ(s.mapped - s.lazy, 16 * MiB);
  EXPECT_LE(s.lazy, 4 * MiB);
  EXPECT_EQ(vm->pool().pool_cap, 4 * MiB);
  vm->purge();  // reaches the pool: trimmed to the cap
  EXPECT_LE(vm->pool().pooled, 4 * MiB);
  ASSERT_EQ(vm->free(keep), UVM_OK);
  s = vm->stats();
  EXPECT_LE(s.lazy, 2 * MiB);
  EXPECT_LE(vm->pool().pooled, 2 * MiB);
  EXPECT_LE(vm->pool().in_use, 2 * MiB);  // only lazy areas still hold pages
}

// Warm pages in pieces too few to cover a request still serve it: the
// pieces, then holes for the rest, each its own run. A zeroed area reads
// zeros in both, and no area shares a page with another.
TEST_P(VmallocTest, WarmPiecesAndHolesMakeOneArea) {
  vm_config c = config();
  c.pool.pool_max = 64 * MiB;
  c.pool.live_floor = 64 * MiB;  // keep every freed page warm
  for (unsigned flags : {0u, unsigned{VM_ZERO}}) {
    start(c);
    // The first area of a size is the one sampled for its density (which
    // a zeroed one takes holes for): not the one looked at here, and dense.
    char* first = alloc(4 * MiB, 1, flags);
    fill(first, 4 * MiB, 1);
    ASSERT_EQ(vm->free(first), UVM_OK);
    vm->purge();
    char* v[6];
    for (int i = 0; i < 6; ++i) {
      v[i] = alloc(MiB);
      fill(v[i], MiB, 100 + i);
    }
    for (int i : {0, 2, 4}) ASSERT_EQ(vm->free(v[i]), UVM_OK);
    vm->purge();  // the lazy areas' pages reach the pool: three pieces apart
    ASSERT_EQ(vm->pool().pooled, 3 * MiB);
    size_t cold = vm->pool().cold_allocs;
    char* a = alloc(4 * MiB, 1, flags);
    EXPECT_EQ(vm->pool().pooled, 0u) << "flags " << flags;  // every piece taken
    EXPECT_EQ(vm->pool().cold_allocs, cold + 1);
    if (flags & VM_ZERO) {
      for (size_t off = 0; off < 4 * MiB; off += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, a + off, sizeof w);
        ASSERT_EQ(w, 0u) << "offset " << off;
      }
    }
    fill(a, 4 * MiB, 7);
    for (int i : {1, 3, 5}) EXPECT_EQ(verify(v[i], MiB, 100 + i), MiB);
    EXPECT_EQ(verify(a, 4 * MiB, 7), 4 * MiB);
    for (char* p : {a, v[1], v[3], v[5]}) ASSERT_EQ(vm->free(p), UVM_OK);
    vm->purge();
    EXPECT_EQ(vm->check(), "");
  }
}

// A new area that no lazy area fits takes the pages of the oldest lazy
// areas rather than new ones, when they hold enough (lazy_to_pool).
TEST_P(VmallocTest, NewAreaTakesLazyPagesBeforeNewOnes) {
  if (!lazy()) GTEST_SKIP() << "no lazy areas";
  vm_config c = config();
  c.pool.pool_max = 64 * MiB;
  c.pool.live_floor = 64 * MiB;
  start(c);
  std::vector<char*> v;
  for (int i = 0; i < 4; ++i) {
    v.push_back(alloc(MiB));
    fill(v.back(), MiB, i);
  }
  for (char* p : v) ASSERT_EQ(vm->free(p), UVM_OK);
  ASSERT_EQ(vm->stats().lazy, 4 * MiB);
  ASSERT_EQ(vm->pool().pooled, 0u);
  size_t file = vm->pool().file_size;
  size_t cold = vm->pool().cold_allocs;
  char* a = alloc(3 * MiB);          // too large for any of them
  EXPECT_EQ(vm->stats().lazy, MiB);  // the three oldest went
  EXPECT_EQ(vm->pool().cold_allocs, cold);
  EXPECT_EQ(vm->pool().file_size, file);  // no new page
  fill(a, 3 * MiB, 9);
  EXPECT_EQ(verify(a, 3 * MiB, 9), 3 * MiB);
  ASSERT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->check(), "");
}

// lazy and pool_max still bound the caches from above, however much is live.
TEST_P(VmallocTest, SettingsBoundTheLiveShare) {
  vm_config c = config();
  if (lazy()) c.lazy_max = 2 * MiB;
  c.pool.pool_max = MiB;
  c.pool.live_share = 100;
  start(c);
  char* keep = alloc(64 * MiB);
  std::vector<char*> v;
  for (int i = 0; i < 16; ++i) v.push_back(alloc(MiB));
  for (char* p : v) {
    ASSERT_EQ(vm->free(p), UVM_OK);
    EXPECT_LE(vm->stats().lazy, 2 * MiB);
    EXPECT_LE(vm->pool().pooled, MiB);  // never above pool_max
  }
  EXPECT_EQ(vm->stats().lazy_cap, lazy() ? 2 * MiB : 0u);
  EXPECT_EQ(vm->pool().pool_cap, MiB);
  ASSERT_EQ(vm->free(keep), UVM_OK);
}

// Two threads allocate, write their own pattern, verify it and free, at
// random; neither may ever see the other's data in its areas.
TEST_P(VmallocTest, TwoThreadsNeverSeeEachOthersData) {
  start();
  constexpr int kIterations = 10000;
  std::string errors[2];
  auto worker = [&](int id) {
    std::mt19937_64 rng(1000 + id);
    struct Area {
      char* p;
      size_t size;
      uint64_t tag;
    };
    std::vector<Area> live;
    uint64_t counter = 0;
    auto release = [&](size_t i) {
      Area a = live[i];
      size_t bad = verify(a.p, a.size, a.tag);
      if (bad != a.size && errors[id].empty()) {
        std::ostringstream os;
        os << "thread " << id << ": area " << static_cast<void*>(a.p) << " size " << a.size
           << " corrupted at offset " << bad;
        errors[id] = os.str();
      }
      if (vm->free(a.p) != UVM_OK && errors[id].empty()) errors[id] = "free failed";
      live[i] = live.back();
      live.pop_back();
    };
    for (int it = 0; it < kIterations && errors[id].empty(); ++it) {
      if (live.size() < 12 && (live.empty() || rng() % 2 == 0)) {
        size_t pages = rng() % 16 == 0 ? 1 + rng() % 128 : 1 + rng() % 12;
        size_t size = pages * P - rng() % 200;
        unsigned flags = rng() % 4 == 0 ? unsigned{VM_ZERO} : 0u;
        size_t align = rng() % 8 == 0 ? size_t{1} << (12 + rng() % 10) : 1;
        int status;
        char* p = static_cast<char*>(vm->alloc(size, align, flags, nullptr, &status));
        if (p == nullptr) {
          errors[id] = "alloc failed with status " + std::to_string(status);
          break;
        }
        if (reinterpret_cast<uintptr_t>(p) % align != 0) errors[id] = "misaligned";
        if ((flags & VM_ZERO) && !all_zero(p, round_up(size))) errors[id] = "VM_ZERO not zero";
        uint64_t tag = (uint64_t{static_cast<unsigned>(id) + 1} << 56) | (++counter << 8);
        fill(p, size, tag);
        live.push_back({p, size, tag});
      } else {
        release(rng() % live.size());
      }
    }
    while (!live.empty()) release(live.size() - 1);
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(vm->check(), "");
  vm_stats s = vm->stats();
  EXPECT_EQ(s.areas, 0u);
  EXPECT_EQ(s.allocs, s.frees);
  vm->purge_all();
  EXPECT_EQ(vm->check(), "");
  EXPECT_EQ(vm->pool().in_use, 0u);
}

TEST_P(VmallocTest, VmaBudgetRefusesAndRecovers) {
  vm_config c = config();
  c.vma_max = 20;
  start(c);
  EXPECT_EQ(vm->stats().vma_limit, 20u);
  std::vector<std::pair<char*, size_t>> live;
  int status = UVM_OK;
  for (int i = 0; i < 100; ++i) {
    size_t size = (1 + i) * P;  // all different: no reuse
    char* p = static_cast<char*>(vm->alloc(size, 1, 0, nullptr, &status));
    if (p == nullptr) break;
    fill(p, size, size);
    live.emplace_back(p, size);
  }
  ASSERT_EQ(status, UVM_ENOMEM);
  EXPECT_GE(live.size(), 5u);
  EXPECT_LE(live.size(), 20u);
  vm_stats s = vm->stats();
  EXPECT_GT(s.vma_refusals, 0u);
  EXPECT_LE(s.vmas, s.vma_limit);
  EXPECT_EQ(s.areas, live.size());
  EXPECT_EQ(vm->check(), "");
  for (auto [p, size] : live) ASSERT_EQ(verify(p, size, size), size);
  // Refused again while nothing was freed.
  EXPECT_EQ(alloc_fails(200 * P), UVM_ENOMEM);
  // Free three; a new size then fits (after a purge when lazy).
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(vm->free(live.back().first), UVM_OK);
    live.pop_back();
  }
  char* q = alloc(300 * P);
  ASSERT_NE(q, nullptr);
  fill(q, 300 * P, 300);
  EXPECT_LE(vm->stats().vmas, vm->stats().vma_limit);
  for (auto [p, size] : live) EXPECT_EQ(verify(p, size, size), size);
  EXPECT_EQ(verify(q, 300 * P, 300), 300 * P);
  EXPECT_EQ(vm->free(q), UVM_OK);
  for (auto [p, size] : live) EXPECT_EQ(vm->free(p), UVM_OK);
}

TEST_P(VmallocTest, ReserveExhaustionFailsCleanly) {
  vm_config c = config();
  c.reserve = c.min_reserve = 64 * MiB;
  start(c);
  EXPECT_EQ(vm->stats().reserved, 64 * MiB);
  constexpr size_t kSize = 2 * MiB;
  std::vector<char*> live;
  int status = UVM_OK;
  for (int i = 0; i < 64; ++i) {
    char* p = static_cast<char*>(vm->alloc(kSize, 1, 0, nullptr, &status));
    if (p == nullptr) break;
    for (size_t off = 0; off < kSize; off += P) *reinterpret_cast<uint64_t*>(p + off) = i + off;
    live.push_back(p);
  }
  EXPECT_TRUE(status == UVM_ENOSPC || status == UVM_ENOMEM) << status;
  EXPECT_EQ(status, UVM_ENOSPC);  // it is the space that ran out
  EXPECT_GE(live.size(), 16u);
  EXPECT_LE(live.size() * kSize, 64 * MiB);
  EXPECT_EQ(alloc_fails(65 * MiB), UVM_ENOSPC);
  EXPECT_EQ(vm->check(), "");
  auto intact = [&] {
    for (size_t i = 0; i < live.size(); ++i)
      for (size_t off = 0; off < kSize; off += P)
        if (*reinterpret_cast<uint64_t*>(live[i] + off) != i + off) return false;
    return true;
  };
  EXPECT_TRUE(intact());
  // Room again after a free.
  ASSERT_EQ(vm->free(live.back()), UVM_OK);
  live.pop_back();
  char* p = alloc(kSize);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(vm->free(p), UVM_OK);
  EXPECT_TRUE(intact());
  // Freed areas (lazy ones included) give their space back to a larger request.
  for (char* q : live) ASSERT_EQ(vm->free(q), UVM_OK);
  live.clear();
  char* big = alloc(48 * MiB);
  ASSERT_NE(big, nullptr);
  big[48 * MiB - 1] = 1;
  EXPECT_EQ(vm->free(big), UVM_OK);
}

// When the memfd cannot grow (RLIMIT_FSIZE), allocations fail with
// UVM_ENOMEM and nothing leaks. Runs in a child (the limit is per process);
// the exit code says which step went wrong.
int page_exhaustion(const vm_config& c) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit rl{8 * MiB, 8 * MiB};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 10;
  Vmalloc vm;
  if (vm.init(c) != UVM_OK) return 11;
  std::vector<char*> live;
  int status = UVM_OK;
  for (int i = 0; i < 64; ++i) {
    char* p = static_cast<char*>(vm.alloc(MiB, 1, 0, nullptr, &status));
    if (p == nullptr) break;
    memset(p, i + 1, MiB);
    live.push_back(p);
  }
  if (status != UVM_ENOMEM) return 12;
  if (live.empty() || live.size() > 8) return 13;
  if (vm.stats().areas != live.size() || vm.pool().in_use != live.size() * MiB) return 14;
  if (vm.check() != "") return 15;
  for (size_t i = 0; i < live.size(); ++i)
    for (size_t off = 0; off < MiB; off += P)
      if (live[i][off] != static_cast<char>(i + 1)) return 16;
  // Freeing makes room again.
  if (vm.free(live.back()) != UVM_OK) return 17;
  vm.purge();
  char* p = static_cast<char*>(vm.alloc(MiB, 1, 0, nullptr, &status));
  if (p == nullptr) return 18;
  memset(p, 0x77, MiB);
  if (vm.check() != "") return 19;
  return 0;
}

TEST_P(VmallocTest, PageExhaustionFailsCleanly) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(_exit(page_exhaustion(config())), ::testing::ExitedWithCode(0), "");
}

TEST_P(VmallocTest, BadFreesChangeNothing) {
  start();
  char* a = alloc(4 * P);
  char* b = alloc(2 * P);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  fill(a, 4 * P, 0xa);
  fill(b, 2 * P, 0xb);
  ASSERT_EQ(vm->free(b), UVM_OK);
  vm_stats before = vm->stats();
  int local = 0;
  std::unique_ptr<char[]> heap(new char[64]);
  auto* space_end = static_cast<char*>(a) + before.reserved;  // past any area
  EXPECT_EQ(vm->free(a + 1), UVM_EINTERIOR);
  EXPECT_EQ(vm->free(a + P), UVM_EINTERIOR);
  EXPECT_EQ(vm->free(a + 4 * P - 1), UVM_EINTERIOR);
  EXPECT_NE(vm->free(a + 4 * P), UVM_OK);  // its guard page
  EXPECT_EQ(vm->free(b), UVM_ENOTALLOC);   // double free
  EXPECT_EQ(vm->free(b + P), UVM_ENOTALLOC);
  EXPECT_EQ(vm->free(a + 64 * P), UVM_ENOTALLOC);  // never allocated
  EXPECT_EQ(vm->free(&local), UVM_EFOREIGN);
  EXPECT_EQ(vm->free(heap.get()), UVM_EFOREIGN);
  EXPECT_EQ(vm->free(nullptr), UVM_EFOREIGN);
  EXPECT_EQ(vm->free(space_end), UVM_EFOREIGN);
  vm_stats after = vm->stats();
  EXPECT_EQ(after.areas, before.areas);
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.lazy, before.lazy);
  EXPECT_EQ(after.mapped, before.mapped);
  EXPECT_EQ(vm->check(), "");
  EXPECT_EQ(verify(a, 4 * P, 0xa), 4 * P);
  vm_struct s{};
  EXPECT_EQ(vm->find(a, &s), UVM_OK);
  EXPECT_EQ(vm->free(a), UVM_OK);
  EXPECT_EQ(vm->free(a), UVM_ENOTALLOC);
}

// info(): one line per live area in /proc/vmallocinfo's format (more areas
// than one batch of the printer), lazy areas as "unpurged vm_area".
TEST_P(VmallocTest, InfoListsEveryAreaOnce) {
  start();
  std::map<uintptr_t, size_t> live;  // addr -> size
  std::vector<char*> freed;
  for (int i = 0; i < 70; ++i) {
    size_t size = (1 + i % 9) * P;
    char* p = alloc(size);
    ASSERT_NE(p, nullptr);
    if (i % 10 == 3)
      freed.push_back(p);
    else
      live[reinterpret_cast<uintptr_t>(p)] = size;
  }
  for (char* p : freed) ASSERT_EQ(vm->free(p), UVM_OK);
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  vm->info(f);
  fclose(f);
  std::string out(buf, len);
  free(buf);
  const std::regex area(R"(0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) (\S+) pages=(\d+) vmalloc)");
  const std::regex unpurged(R"(0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) unpurged vm_area)");
  std::istringstream lines(out);
  std::string line;
  std::map<uintptr_t, int> seen;
  size_t unpurged_lines = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, area)) {
      uintptr_t start = std::stoull(m[1], nullptr, 16), end = std::stoull(m[2], nullptr, 16);
      ++seen[start];
      auto it = live.find(start);
      ASSERT_NE(it, live.end()) << line;
      EXPECT_EQ(end - start, it->second + P) << line;  // the guard page included
      EXPECT_EQ(std::stoull(m[3]), end - start) << line;
      EXPECT_EQ(std::stoull(m[5]), it->second / P) << line;
    } else if (std::regex_match(line, m, unpurged)) {
      ++unpurged_lines;
    } else {
      ADD_FAILURE() << "unexpected line: " << line;
    }
  }
  EXPECT_EQ(seen.size(), live.size());
  for (auto [start, n] : seen) EXPECT_EQ(n, 1) << std::hex << start;
  EXPECT_EQ(unpurged_lines, lazy() ? freed.size() : 0u);
  for (auto [addr, size] : live) EXPECT_EQ(vm->free(reinterpret_cast<void*>(addr)), UVM_OK);
}

INSTANTIATE_TEST_SUITE_P(Modes, VmallocTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(std::get<0>(info.param) ? "uring" : "sync") +
                                  (std::get<1>(info.param) ? "_lazy" : "_eager");
                         });

}  // namespace
}  // namespace uvm
