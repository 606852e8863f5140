// Benchmarks of the vmap_area trees (VmSpace over made-up ranges, nothing
// mapped):
//  - BM_AllocFree/N: one alloc + one free with N live areas and as many
//    holes, N from 1K to 1M; the fitted complexity should read lgN.
//  - BM_<scenario>: the scenarios of the kernel's lib/test_vmalloc.c, on one
//    and two threads sharing one space, in allocations per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmap.h"

#include "test_util.h"

namespace uvm {
namespace {

constexpr size_t P = pal::kPageSize;

// splitmix64 (tests/test_util.h): cheap enough not to show in the timed loop.
using uvm::test::Rng;

uintptr_t take(VmSpace& vs, size_t size, size_t align) {
  vmap_area* va;
  return vs.alloc(size, align, &va) == UVM_OK ? va->va_start : 0;
}

// ---- Throughput against the number of live areas -------------------------

constexpr uintptr_t kBigBase = uintptr_t{1} << 46;
constexpr size_t kBigSpace = size_t{1} << 46;
constexpr size_t kMaxPages = 16;

// N live areas of 1..16 pages, each followed by a hole of 1..16 pages: the
// free tree holds about N nodes too, and lowest fit has real choices to make.
struct Prefilled {
  VmSpace vs;
  std::vector<uintptr_t> live;
  Rng rng{42};
};

// Built once per N and kept across the calls Google Benchmark makes while it
// sizes the iteration count, so the 1M prefill is paid once. The steady state
// (N live, random sizes) is the same whichever run left it.
Prefilled* prefilled(size_t n) {
  static std::unique_ptr<Prefilled> cur;
  if (cur != nullptr && cur->live.size() == n) return cur.get();
  cur.reset();  // give the previous N's nodes back to the cache first
  auto f = std::make_unique<Prefilled>();
  if (f->vs.init_range(kBigBase, kBigSpace) != UVM_OK) return nullptr;
  std::vector<uintptr_t> all;
  all.reserve(2 * n);
  for (size_t i = 0; i < 2 * n; ++i) {
    uintptr_t a = take(f->vs, (f->rng() % kMaxPages + 1) * P, P);
    if (a == 0) return nullptr;
    all.push_back(a);
  }
  f->live.reserve(n);
  for (size_t i = 0; i < all.size(); ++i) {
    if (i % 2 == 0) {
      f->live.push_back(all[i]);
    } else if (f->vs.free(all[i]) != UVM_OK) {
      return nullptr;
    }
  }
  cur = std::move(f);
  return cur.get();
}

void BM_AllocFree(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Prefilled* f = prefilled(n);
  if (f == nullptr) {
    state.SkipWithError("prefill failed");
    return;
  }
  for (auto _ : state) {
    vmap_area* va;
    if (f->vs.alloc((f->rng() % kMaxPages + 1) * P, P, &va) != UVM_OK) {
      state.SkipWithError("alloc failed");
      break;
    }
    // Free a random live area and let the new one take its slot: N stays put.
    uintptr_t& victim = f->live[f->rng() % n];
    if (f->vs.free(victim) != UVM_OK) {
      state.SkipWithError("free failed");
      break;
    }
    victim = va->va_start;
  }
  state.SetItemsProcessed(state.iterations());  // one item: alloc + free
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_AllocFree)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Complexity(benchmark::oLogN);

// ---- lib/test_vmalloc.c scenarios -----------------------------------------

constexpr uintptr_t kBase = uintptr_t{1} << 44;
constexpr size_t kSpace = size_t{4} << 30;
constexpr size_t kJunk = 8192;       // full_fit: one-page pairs per thread
constexpr size_t kLongBusy = 15000;  // long_busy_list: live pages per thread
constexpr size_t kFixAlign = 32768;  // THREAD_ALIGN << 1 on x86-64

// The space every thread of a scenario shares. Thread 0 builds it before the
// timed loop and takes it down after: the loop's start and stop barriers
// order that against the other threads, which touch it only inside the loop.
VmSpace* g_vs = nullptr;
std::vector<uintptr_t> g_kept;  // background areas, freed on the way down

bool space_up(benchmark::State& state) {
  if (state.thread_index() != 0) return true;
  g_vs = new VmSpace;
  g_kept.clear();
  return g_vs->init_range(kBase, kSpace) == UVM_OK;
}

void space_down(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  for (uintptr_t a : g_kept) g_vs->free(a);
  g_kept.clear();
  // Untimed: a run that broke the trees must not report a rate.
  if (!g_vs->check().empty() || g_vs->stats().free_areas != 1)
    state.SkipWithError("trees broken or areas left busy");
  delete g_vs;
  g_vs = nullptr;
}

// Background that stays busy through the loop: `pages` one-page areas.
bool keep_pages(size_t pages) {
  for (size_t i = 0; i < pages; ++i) {
    uintptr_t a = take(*g_vs, P, 1);
    if (a == 0) return false;
    g_kept.push_back(a);
  }
  return true;
}

// One alloc + free per iteration, of whatever `pick` asks for.
template <typename Pick>
void alloc_free_loop(benchmark::State& state, Pick pick) {
  Rng rng{uint64_t(state.thread_index()) + 1};
  for (auto _ : state) {
    auto [size, align] = pick(rng);
    uintptr_t a = take(*g_vs, size, align);
    if (a == 0 || g_vs->free(a) != UVM_OK) {
      state.SkipWithError("alloc or free failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

struct Req {
  size_t size, align;
};

void BM_fix_size_alloc(benchmark::State& state) {
  if (!space_up(state)) state.SkipWithError("init_range failed");
  alloc_free_loop(state, [](Rng&) { return Req{P, 1}; });
  space_down(state);
}

void BM_full_fit_alloc(benchmark::State& state) {
  // Interleaved kept and junk pages, junk freed: every request is a full fit.
  bool ok = space_up(state);
  if (ok && state.thread_index() == 0) {
    std::vector<uintptr_t> junk;
    for (size_t i = 0; ok && i < kJunk * state.threads(); ++i) {
      uintptr_t p = take(*g_vs, P, 1), j = take(*g_vs, P, 1);
      ok = p != 0 && j != 0;
      g_kept.push_back(p);
      junk.push_back(j);
    }
    for (uintptr_t j : junk) ok = ok && g_vs->free(j) == UVM_OK;
  }
  if (!ok) state.SkipWithError("setup failed");
  alloc_free_loop(state, [](Rng&) { return Req{P, 1}; });
  space_down(state);
}

void BM_long_busy_list_alloc(benchmark::State& state) {
  bool ok = space_up(state);
  if (ok && state.thread_index() == 0) ok = keep_pages(kLongBusy * state.threads());
  if (!ok) state.SkipWithError("setup failed");
  for (auto _ : state) {
    uintptr_t p1 = take(*g_vs, 100 * P, 1);
    uintptr_t p2 = take(*g_vs, P, 1);
    if (p1 == 0 || p2 == 0 || g_vs->free(p1) != UVM_OK || g_vs->free(p2) != UVM_OK) {
      state.SkipWithError("alloc or free failed");
      break;
    }
  }
  state.SetItemsProcessed(2 * state.iterations());
  space_down(state);
}

void BM_random_size_alloc(benchmark::State& state) {
  if (!space_up(state)) state.SkipWithError("init_range failed");
  alloc_free_loop(state, [](Rng& rng) { return Req{(rng() % 100 + 1) * P, 1}; });
  space_down(state);
}

void BM_fix_align_alloc(benchmark::State& state) {
  // A page pinned at the base so that the alignment matters.
  bool ok = space_up(state);
  if (ok && state.thread_index() == 0) ok = keep_pages(1);
  if (!ok) state.SkipWithError("setup failed");
  alloc_free_loop(state, [](Rng&) { return Req{5 * P, kFixAlign}; });
  space_down(state);
}

void BM_random_size_align_alloc(benchmark::State& state) {
  bool ok = space_up(state);
  if (ok && state.thread_index() == 0) ok = keep_pages(1);
  if (!ok) state.SkipWithError("setup failed");
  alloc_free_loop(state, [](Rng& rng) {
    unsigned rnd = rng() & 0xff;  // one byte picks both, as in the kernel
    return Req{(rnd % 10 + 1) * P, size_t{1} << (rnd % 23)};
  });
  space_down(state);
}

void BM_align_shift_alloc(benchmark::State& state) {
  // Expected to fail from shift 45 on (kBase is 1 << 44 aligned): an
  // iteration is all 64 shifts, the failures are counted, not errors.
  if (!space_up(state)) state.SkipWithError("init_range failed");
  int64_t enospc = 0;
  for (auto _ : state) {
    for (int shift = 0; shift < 64; ++shift) {
      vmap_area* va;
      int rc = g_vs->alloc(P, size_t{1} << shift, &va);
      if (rc == UVM_OK) {
        g_vs->free(va->va_start);
      } else {
        enospc += rc == UVM_ENOSPC;
      }
    }
  }
  state.SetItemsProcessed(64 * state.iterations());
  state.counters["enospc/iter"] =
      benchmark::Counter(static_cast<double>(enospc), benchmark::Counter::kAvgIterations);
  space_down(state);
}

// Each run sizes its iteration count to the default min time; real time, so
// that items_per_second is the two threads' combined rate.
#define UVM_SCENARIO(fn) BENCHMARK(fn)->Threads(1)->Threads(2)->UseRealTime()
UVM_SCENARIO(BM_fix_size_alloc);
UVM_SCENARIO(BM_full_fit_alloc);
UVM_SCENARIO(BM_long_busy_list_alloc);
UVM_SCENARIO(BM_random_size_alloc);
UVM_SCENARIO(BM_fix_align_alloc);
UVM_SCENARIO(BM_random_size_align_alloc);
UVM_SCENARIO(BM_align_shift_alloc);

}  // namespace
}  // namespace uvm

BENCHMARK_MAIN();
