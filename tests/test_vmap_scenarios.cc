// The scenarios of the kernel's lib/test_vmalloc.c, played on the vmap_area
// trees alone: a VmSpace over a made-up 4 GiB range, nothing mapped. Every
// scenario runs on one worker and on two workers sharing the space. Alone,
// every address must be the exact lowest fit; with a second worker it may be
// pushed up, but only past what that worker can hold at that moment.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmap.h"

namespace uvm {
namespace {

constexpr uintptr_t kBase = uintptr_t{1} << 44;
constexpr size_t kSpace = size_t{4} << 30;
constexpr uintptr_t kEnd = kBase + kSpace;
constexpr size_t P = pal::kPageSize;

constexpr int kLoops = 100000;              // test_loop_count, per worker
constexpr int kCheckEvery = 4096;           // iterations between checkpoints
constexpr size_t kJunk = 8192;              // full_fit: 32 MiB of one-page pairs
constexpr size_t kLongBusy = 15000;         // long_busy_list: one-page areas kept live
constexpr size_t kThreadAlign = 16 * 1024;  // x86-64 THREAD_ALIGN (16 KiB stacks)

uintptr_t align_up(uintptr_t x, size_t a) {
  return (x + a - 1) & ~(a - 1);
}

// How many `a`-aligned starts of `size` bytes fit in [lo, end); *first gets
// the lowest. The round-up may wrap for huge alignments: then there is none.
size_t aligned_starts(uintptr_t lo, uintptr_t end, size_t size, size_t a, uintptr_t* first) {
  uintptr_t c0;
  if (__builtin_add_overflow(lo, a - 1, &c0)) return 0;
  c0 &= ~(a - 1);
  *first = c0;
  if (end - lo < size || c0 > end - size) return 0;
  return 1 + (end - size - c0) / a;
}

// Deadlock guard: a worker that leaves early (a failed ASSERT) drops out of
// the phase barrier so the other worker is not left waiting for it.
struct BarrierDrop {
  std::barrier<>* b;
  ~BarrierDrop() { b->arrive_and_drop(); }
};

class VmallocScenario : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    nthreads_ = GetParam();
    sync_ = std::make_unique<std::barrier<>>(nthreads_);
    ASSERT_EQ(vs_.init_range(kBase, kSpace), UVM_OK);
  }

  void TearDown() override {
    // Everything given back: the space is a single free area again.
    EXPECT_EQ(vs_.check(), "");
    vmap_stats s = vs_.stats();
    EXPECT_EQ(s.busy_areas, 0u);
    EXPECT_EQ(s.busy_bytes, 0u);
    EXPECT_EQ(s.free_areas, 1u);
    EXPECT_EQ(s.largest_free, kSpace);
  }

  bool alone() const { return nthreads_ == 1; }

  // Run fn(tid) on every worker and wait for all of them.
  template <typename Fn>
  void run(Fn fn) {
    auto worker = [&](int tid) {
      BarrierDrop drop{sync_.get()};
      fn(tid);
    };
    if (alone()) {
      worker(0);
      return;
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < nthreads_; ++i) threads.emplace_back(worker, i);
    for (auto& t : threads) t.join();
  }

  // Phase boundary: every worker is between operations.
  void phase() { sync_->arrive_and_wait(); }

  // Mid-scenario check. While another worker runs, an area can sit between
  // the two trees (alloc and free take the two locks in turn), so only the
  // trees are checked then, not that busy + free tile the space.
  std::string checkpoint() const { return vs_.check(/*expect_tiled=*/alone()); }

  // An allocation that must succeed; 0 (and a recorded failure) otherwise.
  uintptr_t get(size_t size, size_t align) {
    vmap_area* va = nullptr;
    int rc = vs_.alloc(size, align, &va);
    EXPECT_EQ(rc, UVM_OK) << uvm_strerror(rc) << ": size " << size << " align " << align;
    if (rc != UVM_OK || va == nullptr) return 0;
    EXPECT_EQ(va->size(), align_up(size, P));
    return va->va_start;
  }

  // `addr` is where the lowest fit of `size` at `align` can be. Alone it is
  // exactly `c0`. Otherwise the other worker holds at most `areas` areas of
  // `bytes` in all above c0; each can push the fit past itself once, by at
  // most size + its own length + one alignment step.
  ::testing::AssertionResult lowest_fit(uintptr_t addr, uintptr_t c0, size_t size, size_t align,
                                        size_t areas, size_t bytes) const {
    size_t a = std::max(align, P);
    uintptr_t hi = alone() ? c0 + 1 : c0 + areas * (align_up(size, P) + a) + bytes;
    if (addr % a == 0 && addr >= c0 && addr < hi) return ::testing::AssertionSuccess();
    auto f = ::testing::AssertionFailure()
             << std::hex << "area 0x" << addr << " size 0x" << size << " align 0x" << a;
    if (alone()) return f << ": want exactly 0x" << c0;
    return f << ": want aligned in [0x" << c0 << ", 0x" << hi << ")";
  }

  VmSpace vs_;
  int nthreads_ = 1;
  std::unique_ptr<std::barrier<>> sync_;
};

// fix_size_alloc_test: one page in, one page out. The lowest page is always
// the base, or the next one when the other worker holds the base.
TEST_P(VmallocScenario, FixSizeAlloc) {
  run([&](int) {
    for (int i = 0; i < kLoops; ++i) {
      uintptr_t a = get(P, 1);
      ASSERT_NE(a, 0u);
      ASSERT_TRUE(lowest_fit(a, kBase, P, 1, 1, P));
      ASSERT_EQ(vs_.free(a), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
  });
}

// full_fit_alloc_test: interleave kept and junk pages, free the junk, then
// each one-page request must reuse a one-page hole whole (FL_FIT_TYPE), the
// lowest one, instead of cutting into the big tail.
TEST_P(VmallocScenario, FullFitAlloc) {
  std::vector<std::vector<uintptr_t>> kept(nthreads_), junk(nthreads_);
  run([&](int tid) {
    auto& mine = kept[tid];
    auto& holes = junk[tid];
    for (size_t i = 0; i < kJunk; ++i) {
      uintptr_t p = get(P, 1), j = get(P, 1);
      ASSERT_NE(p, 0u);
      ASSERT_NE(j, 0u);
      if (alone()) {  // packed from the base, in order
        ASSERT_EQ(p, kBase + 2 * i * P);
        ASSERT_EQ(j, p + P);
      }
      mine.push_back(p);
      holes.push_back(j);
    }
    // No frees until every worker is packed in: a hole freed early would be
    // refilled by the other worker's prefill.
    phase();
    for (uintptr_t j : holes) ASSERT_EQ(vs_.free(j), UVM_OK);
    phase();

    // Every worker's holes are in place: the two lowest bound the answer,
    // since the other worker holds at most one of them at a time.
    std::vector<uintptr_t> all;
    for (const auto& h : junk) all.insert(all.end(), h.begin(), h.end());
    ASSERT_GE(all.size(), 2u);
    std::partial_sort(all.begin(), all.begin() + 2, all.end());
    const uintptr_t j0 = all[0], j1 = all[1];
    if (alone()) {
      ASSERT_EQ(checkpoint(), "");
      // kJunk - 1 one-page holes; the last junk page merged into the tail.
      ASSERT_EQ(vs_.stats().free_areas, kJunk);
    }
    for (int i = 0; i < kLoops; ++i) {
      uintptr_t t = get(P, 1);
      ASSERT_NE(t, 0u);
      if (alone()) {
        ASSERT_EQ(t, j0);
      } else {
        ASSERT_TRUE(t == j0 || t == j1) << std::hex << t << " not in {" << j0 << ", " << j1 << "}";
      }
      if (alone() && i % kCheckEvery == 0) {
        ASSERT_EQ(vs_.stats().free_areas, kJunk - 1) << "the hole was not taken whole";
      }
      ASSERT_EQ(vs_.free(t), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
    if (alone()) {
      ASSERT_EQ(vs_.stats().free_areas, kJunk);
    }
    // Freeing the kept pages opens lower holes: wait until no one loops.
    phase();
    for (uintptr_t p : mine) ASSERT_EQ(vs_.free(p), UVM_OK);
  });
}

// long_busy_list_alloc_test: a long busy tree below, and 100 + 1 pages taken
// and given back above it. With no frees in the prefill, the busy pages of
// every worker pack [kBase, top) exactly.
TEST_P(VmallocScenario, LongBusyListAlloc) {
  const uintptr_t top = kBase + nthreads_ * kLongBusy * P;
  run([&](int) {
    std::vector<uintptr_t> busy;
    busy.reserve(kLongBusy);
    for (size_t i = 0; i < kLongBusy; ++i) {
      uintptr_t p = get(P, 1);
      ASSERT_NE(p, 0u);
      if (alone()) {
        ASSERT_EQ(p, kBase + i * P);
      }
      ASSERT_LT(p, top);
      busy.push_back(p);
    }
    phase();
    ASSERT_EQ(checkpoint(), "");
    for (int i = 0; i < kLoops; ++i) {
      uintptr_t p1 = get(100 * P, 1);
      ASSERT_NE(p1, 0u);
      // The other worker holds at most its own 100 + 1 pages.
      ASSERT_TRUE(lowest_fit(p1, top, 100 * P, 1, 2, 101 * P));
      uintptr_t p2 = get(P, 1);
      ASSERT_NE(p2, 0u);
      // Above p1 when alone; else p1 and the other's two areas may be below.
      ASSERT_TRUE(lowest_fit(p2, alone() ? p1 + 100 * P : top, P, 1, 3, 201 * P));
      ASSERT_EQ(vs_.free(p1), UVM_OK);
      ASSERT_EQ(vs_.free(p2), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
    phase();
    for (uintptr_t p : busy) ASSERT_EQ(vs_.free(p), UVM_OK);
  });
}

// random_size_alloc_test: 1..100 pages, taken and given back.
TEST_P(VmallocScenario, RandomSizeAlloc) {
  run([&](int tid) {
    std::mt19937 rng(1000 + tid);
    std::uniform_int_distribution<size_t> pages(1, 100);
    for (int i = 0; i < kLoops; ++i) {
      size_t size = pages(rng) * P;
      uintptr_t a = get(size, 1);
      ASSERT_NE(a, 0u);
      ASSERT_TRUE(lowest_fit(a, kBase, size, 1, 1, 100 * P));
      ASSERT_EQ(vs_.free(a), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
  });
}

// fix_align_alloc_test: 5 pages at THREAD_ALIGN << 1. A page pinned at the
// base makes the alignment matter: the fit is one alignment step up.
TEST_P(VmallocScenario, FixAlignAlloc) {
  const size_t align = kThreadAlign << 1;
  uintptr_t pin = get(P, 1);
  ASSERT_EQ(pin, kBase);
  const uintptr_t c0 = align_up(kBase + P, align);
  run([&](int) {
    for (int i = 0; i < kLoops; ++i) {
      uintptr_t a = get(5 * P, align);
      ASSERT_NE(a, 0u);
      ASSERT_TRUE(lowest_fit(a, c0, 5 * P, align, 1, 5 * P));
      ASSERT_EQ(vs_.free(a), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
  });
  ASSERT_EQ(vs_.free(pin), UVM_OK);
}

// random_size_align_alloc_test: one random byte picks both the alignment (up
// to 4 MiB) and the size (1..10 pages), as the kernel's does. Pinned base.
TEST_P(VmallocScenario, RandomSizeAlignAlloc) {
  uintptr_t pin = get(P, 1);
  ASSERT_EQ(pin, kBase);
  run([&](int tid) {
    std::mt19937 rng(2000 + tid);
    for (int i = 0; i < kLoops; ++i) {
      unsigned rnd = rng() & 0xff;
      size_t align = size_t{1} << (rnd % 23);
      size_t size = (rnd % 10 + 1) * P;
      uintptr_t a = get(size, align);
      ASSERT_NE(a, 0u);
      uintptr_t c0 = align_up(kBase + P, std::max(align, P));
      ASSERT_TRUE(lowest_fit(a, c0, size, align, 1, 10 * P));
      ASSERT_EQ(vs_.free(a), UVM_OK);
      if (i % kCheckEvery == 0) {
        ASSERT_EQ(checkpoint(), "") << "iteration " << i;
      }
    }
  });
  ASSERT_EQ(vs_.free(pin), UVM_OK);
}

// One page at 1 << shift for every shift of a word, from `lo` up (everything
// below lo is busy). Alone, an aligned start must be taken whenever one
// exists; with another worker holding one page, the lowest start may be
// taken, and then the next one must be. Returns the first shift that failed
// (64 if none), or -1 with *why set.
int align_shift_pass(VmSpace& vs, uintptr_t lo, uintptr_t end, bool alone, std::string* why) {
  int first_fail = 64;
  for (int shift = 0; shift < 64; ++shift) {
    size_t align = size_t{1} << shift;
    size_t a = std::max(align, P);
    uintptr_t c0 = 0;
    size_t starts = aligned_starts(lo, end, P, a, &c0);
    vmap_area* va = nullptr;
    int rc = vs.alloc(P, align, &va);
    std::ostringstream out;
    out << "shift " << shift << ", " << starts << " aligned starts: ";
    if (rc != UVM_OK) {
      first_fail = std::min(first_fail, shift);
      // Past what the space can hold: no aligned start, not a bad argument.
      if (rc != UVM_ENOSPC || va != nullptr) {
        *why = out.str() + uvm_strerror(rc);
        return -1;
      }
      if (starts > (alone ? 0u : 1u)) {
        *why = out.str() + "UVM_ENOSPC although a start was free";
        return -1;
      }
      continue;
    }
    uintptr_t addr = va->va_start;
    if (vs.free(addr) != UVM_OK) {
      *why = out.str() + "free failed";
      return -1;
    }
    bool ok = alone ? addr == c0 : addr == c0 || (starts >= 2 && addr == c0 + a);
    if (starts == 0 || !ok) {
      out << std::hex << "got 0x" << addr << ", lowest 0x" << c0;
      *why = out.str();
      return -1;
    }
  }
  return first_fail;
}

// align_shift_alloc_test, expected to fail: alignments shifted past the
// space's own alignment have no start in it and must return UVM_ENOSPC.
// Over an empty space (kBase is 1 << 44 aligned) shifts 45..63 fail; above
// a page pinned at the base only shifts below 32 still fit. With two workers
// the other's page may take the only aligned start, so failures can begin
// earlier, but never while two starts are left.
TEST_P(VmallocScenario, AlignShiftAllocFails) {
  constexpr int kPasses = 500;
  const int want[2] = {45, 32};  // [pinned]
  uintptr_t pin = 0;
  run([&](int tid) {
    for (int pinned = 0; pinned < 2; ++pinned) {
      if (pinned) {
        phase();  // the pin must go where no one else is
        if (tid == 0) {
          pin = get(P, 1);
          EXPECT_EQ(pin, kBase);
        }
        phase();
      }
      for (int pass = 0; pass < kPasses; ++pass) {
        std::string why;
        int first = align_shift_pass(vs_, pinned ? kBase + P : kBase, kEnd, alone(), &why);
        ASSERT_EQ(why, "") << (pinned ? "pinned, " : "") << "pass " << pass;
        if (alone()) {
          ASSERT_EQ(first, want[pinned]);
        } else {
          ASSERT_LE(first, want[pinned]);
          ASSERT_GE(first, pinned ? 31 : 32);
        }
      }
      ASSERT_EQ(checkpoint(), "");
    }
  });
  ASSERT_EQ(vs_.free(pin), UVM_OK);
}

INSTANTIATE_TEST_SUITE_P(Workers, VmallocScenario, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 1 ? std::string("OneThread")
                                                  : std::string("TwoThreads");
                         });

// align_shift_alloc_test where the kernel runs it: x86-64's vmalloc space
// starts at 0xffffc90000000000 (1 << 40 aligned), so from shift 46 on the
// round-up of the start wraps past zero. That too is UVM_ENOSPC.
TEST(VmallocScenarioHigh, AlignShiftWrapsInTheKernelsRange) {
  constexpr uintptr_t kVmallocStart = 0xffffc90000000000;
  VmSpace vs;
  ASSERT_EQ(vs.init_range(kVmallocStart, kSpace), UVM_OK);
  std::string why;
  EXPECT_EQ(align_shift_pass(vs, kVmallocStart, kVmallocStart + kSpace, true, &why), 41);
  EXPECT_EQ(why, "");
  vmap_area* va = nullptr;
  EXPECT_EQ(vs.alloc(P, size_t{1} << 63, &va), UVM_ENOSPC);
  EXPECT_EQ(va, nullptr);
  EXPECT_EQ(vs.check(), "");
  EXPECT_EQ(vs.stats().free_areas, 1u);
}

}  // namespace
}  // namespace uvm
