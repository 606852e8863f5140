// Growing one buffer, and short-lived page mappings:
//  - BM_Grow/<allocator>/<steps|doubling>: one buffer grows from 1 MiB to
//    1 GiB by 1 MiB steps (1023 reallocs) or by doubling (10 reallocs); only
//    the new part is written (memset) after each step; then it is freed.
//    uvmalloc (uvm_vrealloc: grows in place or re-maps its memfd pages,
//    never copies unless its page runs are used up), glibc (realloc of the
//    process's malloc: mremap for chunks this large) and jemalloc (loaded
//    with dlopen beside glibc, never linked: rallocx/dallocx). Counters for
//    uvmalloc: in_place/moved/copied, per iteration, from uvm_stats.
//  - BM_Map/<vm_map_ram|vmap>/<pages>: map one handle of 1, 4 or 16 pages and
//    unmap it again: uvm_vm_map_ram/uvm_vm_unmap_ram (carved from the
//    thread's block, no tree locks) against uvm_vmap/uvm_vunmap (an area of
//    the vmalloc space, and a guard page). items_per_second: map+unmap pairs.
// Run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "uvmalloc/uvmalloc.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t MiB = size_t{1} << 20;
constexpr size_t GiB = size_t{1} << 30;

// ---- The allocators ---------------------------------------------------------

struct Allocator {
  const char* name;
  void* (*alloc)(size_t);
  void* (*resize)(void*, size_t);
  void (*release)(void*);
  std::string error;  // why it cannot be used; empty when it can
};

__attribute__((noinline)) void* glibc_alloc(size_t n) {
  return malloc(n);
}
__attribute__((noinline)) void* glibc_resize(void* p, size_t n) {
  return realloc(p, n);
}
__attribute__((noinline)) void glibc_release(void* p) {
  free(p);
}

// jemalloc beside glibc: RTLD_LOCAL keeps its malloc/free from interposing on
// the process's; its entry points are called through the handle.
void* (*je_mallocx)(size_t, int) = nullptr;
void* (*je_rallocx)(void*, size_t, int) = nullptr;
void (*je_dallocx)(void*, int) = nullptr;
void* (*je_malloc)(size_t) = nullptr;
void* (*je_realloc)(void*, size_t) = nullptr;
void (*je_free)(void*) = nullptr;

void* je_alloc(size_t n) {
  return je_mallocx != nullptr ? je_mallocx(n, 0) : je_malloc(n);
}
void* je_resize(void* p, size_t n) {
  return je_rallocx != nullptr ? je_rallocx(p, n, 0) : je_realloc(p, n);
}
void je_release(void* p) {
  if (je_dallocx != nullptr)
    je_dallocx(p, 0);
  else
    je_free(p);
}

Allocator g_uvm{"uvmalloc", uvm_vmalloc, uvm_vrealloc, uvm_vfree, {}};
Allocator g_glibc{"glibc", glibc_alloc, glibc_resize, glibc_release, {}};
Allocator g_je{"jemalloc", je_alloc, je_resize, je_release, {}};

// libjemalloc.so.2 is built with initial-exec TLS, more than glibc's default
// surplus for dlopen: dlopen then fails with "cannot allocate memory in static
// TLS block". The surplus is a tunable read at startup, so the program runs
// itself again with it raised, once.
constexpr char kTlsMark[] = "BENCH_VREALLOC_TLS_REEXEC";

void load_jemalloc(char** argv) {
  void* h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* why = dlerror();
    g_je.error = std::string("dlopen(libjemalloc.so.2) failed: ") + (why ? why : "?");
    if (g_je.error.find("static TLS") != std::string::npos && getenv(kTlsMark) == nullptr) {
      std::string tunables = "glibc.rtld.optional_static_tls=16384";
      if (const char* old = getenv("GLIBC_TUNABLES")) tunables = std::string(old) + ":" + tunables;
      if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) == 0 && setenv(kTlsMark, "1", 1) == 0)
        execv("/proc/self/exe", argv);
      g_je.error += " (even with glibc.rtld.optional_static_tls raised)";
    }
    return;
  }
  // The handle is kept for the life of the process.
  je_mallocx = reinterpret_cast<void* (*)(size_t, int)>(dlsym(h, "mallocx"));
  je_rallocx = reinterpret_cast<void* (*)(void*, size_t, int)>(dlsym(h, "rallocx"));
  je_dallocx = reinterpret_cast<void (*)(void*, int)>(dlsym(h, "dallocx"));
  if (je_mallocx == nullptr || je_rallocx == nullptr || je_dallocx == nullptr) {
    je_mallocx = nullptr;
    je_rallocx = nullptr;
    je_dallocx = nullptr;
    je_malloc = reinterpret_cast<void* (*)(size_t)>(dlsym(h, "malloc"));
    je_realloc = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(h, "realloc"));
    je_free = reinterpret_cast<void (*)(void*)>(dlsym(h, "free"));
    if (je_malloc == nullptr || je_realloc == nullptr || je_free == nullptr)
      g_je.error = "libjemalloc.so.2 lacks rallocx/dallocx and realloc/free";
  }
}

// The vm_map_ram blocks are 4 MiB aligned, but the vmalloc space only 2 MiB:
// when its start is 2 MiB past a 4 MiB boundary, uvm_vm_unmap_ram cannot find
// mappings in the upper half of a block and aborts (a library bug, see
// tests/test_pages.cc, PagesBugTest.BlockLookupWithTwoMiBAlignedSpace). The
// start depends on ASLR, so the program runs itself again (a few times at
// most) until the space is 4 MiB aligned; otherwise BM_Map is skipped.
constexpr char kAslrMark[] = "BENCH_VREALLOC_ASLR_TRIES";
bool g_blocks_ok = false;

uintptr_t space_start() {
  void* p = uvm_vmalloc(kPage);
  if (p == nullptr) return 0;
  struct uvm_stats st {};
  uvm_stats(&st);
  uintptr_t hi = reinterpret_cast<uintptr_t>(p);
  uintptr_t lo = hi > st.reserved ? hi - st.reserved : 0;
  while (hi - lo > kPage) {
    uintptr_t mid = (lo + (hi - lo) / 2) & ~(kPage - 1);
    if (mid == lo) break;
    (uvm_is_vmalloc_addr(reinterpret_cast<void*>(mid)) ? hi : lo) = mid;
  }
  uvm_vfree(p);
  return hi;
}

void check_block_alignment(char** argv) {
  g_blocks_ok = space_start() % (4 * MiB) == 0;
  if (g_blocks_ok) return;
  const char* tries = getenv(kAslrMark);
  int n = tries != nullptr ? atoi(tries) : 0;
  if (n >= 8) return;
  if (setenv(kAslrMark, std::to_string(n + 1).c_str(), 1) == 0) execv("/proc/self/exe", argv);
}

// ---- BM_Grow ------------------------------------------------------------------

void BM_Grow(benchmark::State& state, Allocator* a, bool doubling) {
  if (!a->error.empty()) {
    state.SkipWithError(a->error.c_str());
    return;
  }
  struct uvm_stats before {};
  uvm_stats(&before);
  size_t reallocs = 0;
  for (auto _ : state) {
    size_t size = MiB;
    auto* p = static_cast<char*>(a->alloc(size));
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      break;
    }
    memset(p, 1, size);
    while (size < GiB) {
      size_t next = doubling ? size * 2 : size + MiB;
      auto* q = static_cast<char*>(a->resize(p, next));
      if (q == nullptr) {
        state.SkipWithError("realloc failed");
        break;
      }
      memset(q + size, 2, next - size);  // touch the new part only
      p = q;
      size = next;
      ++reallocs;
    }
    benchmark::DoNotOptimize(p);
    a->release(p);
  }
  double iters = static_cast<double>(state.iterations());
  state.counters["reallocs"] = static_cast<double>(reallocs) / iters;
  if (a == &g_uvm) {
    struct uvm_stats after {};
    uvm_stats(&after);
    state.counters["in_place"] =
        static_cast<double>(after.grown_in_place - before.grown_in_place) / iters;
    state.counters["moved"] = static_cast<double>(after.moved - before.moved) / iters;
    state.counters["copied"] = static_cast<double>(after.copied - before.copied) / iters;
  }
}

// ---- BM_Map -------------------------------------------------------------------

void BM_Map(benchmark::State& state, bool ram, size_t pages) {
  if (ram && !g_blocks_ok) {
    state.SkipWithError("BUG: vmalloc space not 4 MiB aligned, vm_map_ram lookup is broken");
    return;
  }
  uvm_pages* h = uvm_alloc_pages(pages);
  if (h == nullptr) {
    state.SkipWithError("uvm_alloc_pages failed");
    return;
  }
  for (auto _ : state) {
    if (ram) {
      void* m = uvm_vm_map_ram(&h, 1);
      benchmark::DoNotOptimize(m);
      uvm_vm_unmap_ram(m, pages);
    } else {
      void* m = uvm_vmap(&h, 1, 0);
      benchmark::DoNotOptimize(m);
      uvm_vunmap(m);
    }
  }
  state.SetItemsProcessed(state.iterations());
  uvm_free_pages(h);
}

void register_all() {
  for (Allocator* a : {&g_uvm, &g_glibc, &g_je}) {
    for (bool doubling : {false, true}) {
      std::string name =
          std::string("BM_Grow/") + a->name + (doubling ? "/doubling" : "/steps_1MiB");
      benchmark::RegisterBenchmark(name.c_str(), BM_Grow, a, doubling)
          ->Iterations(3)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (bool ram : {true, false}) {
    for (size_t pages : {1, 4, 16}) {
      std::string name =
          std::string("BM_Map/") + (ram ? "vm_map_ram/" : "vmap/") + std::to_string(pages);
      benchmark::RegisterBenchmark(name.c_str(), BM_Map, ram, pages)->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  load_jemalloc(argv);          // first: it may run the program again
  check_block_alignment(argv);  // may run it again too
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (sysconf(_SC_PAGESIZE) != static_cast<long>(kPage)) {
    fprintf(stderr, "bench_vrealloc: expects %zu-byte pages\n", kPage);
    return 1;
  }
  struct uvm_stats st {};
  uvm_stats(&st);
  benchmark::AddCustomContext("uvmalloc", uvm_version());
  benchmark::AddCustomContext("uvmalloc_io_uring", st.async ? "yes" : "no");
  benchmark::AddCustomContext(
      "jemalloc", g_je.error.empty() ? (je_rallocx ? "dlopen ok (rallocx)" : "dlopen ok (realloc)")
                                     : g_je.error);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
