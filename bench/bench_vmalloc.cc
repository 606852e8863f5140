// Benchmarks of the whole vmalloc path (public C API), against the process's
// glibc malloc and a jemalloc loaded beside it with dlopen:
//  - BM_AllocTouchFree/<allocator>/<warm|cold>/<bytes>: allocate, write one
//    byte in every page, free. "warm" is the steady state (the allocator
//    holds what the last iteration freed); "cold" hands everything back to
//    the kernel first, outside the timed region (uvm_purge, malloc_trim(0),
//    jemalloc's arena.<ALL>.purge).
//  - BM_CommitPages/<kind>/<bytes>: the platform underneath, with raw
//    syscalls: map a memfd whose pages were just punched (cold), already
//    allocated (warm, MAP_POPULATE or faulted), or anonymous memory; touch
//    every page; unmap. ns_per_page is the cost of one page (a time, printed
//    with an SI prefix: "2.7us").
//  - BM_vmalloc/<test>/<lazy|eager>: the scenarios of the kernel's
//    lib/test_vmalloc.c through uvm_vmalloc/uvm_vmalloc_align/uvm_vfree,
//    first page touched. "lazy" is the default configuration (freed areas
//    stay mapped and later requests that fit reuse them); "eager" sets lazy:0 so
//    every allocation maps and every free unmaps.
//  - BM_ThreadScaling/<allocator>/<bytes|mixed>/threads:N: the alloc, touch,
//    free loop on one and two threads, in combined allocations per second.
//
// The counters reuse/warm/cold (uvmalloc only) are the fractions of the
// allocations served by a lazily freed area, by warm pool pages and by memfd
// holes; purges is lazy purge batches per iteration (in the cold variant the
// untimed uvm_purge counts too). The run takes about 100 s on two cores.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "uvmalloc/uvmalloc.h"

#include "test_util.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t KiB = 1024, MiB = 1024 * KiB;

// splitmix64 (tests/test_util.h): cheap enough not to show in the timed loop.
using uvm::test::Rng;

void touch_pages(void* p, size_t size) {
  auto* c = static_cast<volatile char*>(p);
  for (size_t off = 0; off < size; off += kPage) c[off] = 1;
}

void touch_first(void* p) {
  *static_cast<volatile char*>(p) = 1;
}

// ---- The three allocators --------------------------------------------------

// jemalloc beside glibc: RTLD_LOCAL keeps its malloc/free from interposing on
// the process's, and the non-standard entry points are called directly.
struct Jemalloc {
  void* (*mallocx)(size_t, int) = nullptr;
  void (*dallocx)(void*, int) = nullptr;
  int (*mallctl)(const char*, void*, size_t*, void*, size_t) = nullptr;
  std::string error;  // why it cannot be used; empty when it can
};
Jemalloc g_je;

// libjemalloc.so.2 is built with initial-exec TLS (DF_STATIC_TLS, about
// 2.6 KiB), more than glibc's default surplus for dlopen (512 bytes since
// 2.32): dlopen then fails with "cannot allocate memory in static TLS block".
// The surplus is a tunable read at startup, so the program runs itself again
// with it raised, once.
constexpr char kReexecMark[] = "BENCH_VMALLOC_TLS_REEXEC";

void reexec_with_static_tls(char** argv) {
  if (getenv(kReexecMark) != nullptr) return;  // already tried
  std::string tunables = "glibc.rtld.optional_static_tls=16384";
  if (const char* old = getenv("GLIBC_TUNABLES")) tunables = std::string(old) + ":" + tunables;
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 || setenv(kReexecMark, "1", 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // Still here: carry on without jemalloc.
}

void load_jemalloc(char** argv) {
  void* h = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* why = dlerror();
    g_je.error = std::string("dlopen(libjemalloc.so.2) failed: ") + (why ? why : "?");
    if (g_je.error.find("static TLS") != std::string::npos) {
      reexec_with_static_tls(argv);
      g_je.error += " (even with glibc.rtld.optional_static_tls raised)";
    }
    return;
  }
  // The handle is kept for the life of the process.
  g_je.mallocx = reinterpret_cast<void* (*)(size_t, int)>(dlsym(h, "mallocx"));
  g_je.dallocx = reinterpret_cast<void (*)(void*, int)>(dlsym(h, "dallocx"));
  g_je.mallctl =
      reinterpret_cast<int (*)(const char*, void*, size_t*, void*, size_t)>(dlsym(h, "mallctl"));
  if (g_je.mallocx == nullptr || g_je.dallocx == nullptr || g_je.mallctl == nullptr)
    g_je.error = "libjemalloc.so.2 lacks mallocx, dallocx or mallctl";
}

// Out of line so that the compiler cannot pair up and drop malloc and free.
__attribute__((noinline)) void* glibc_alloc(size_t n) {
  return malloc(n);
}
__attribute__((noinline)) void glibc_free(void* p) {
  free(p);
}
void glibc_release() {
  malloc_trim(0);
}

void* je_alloc(size_t n) {
  return g_je.mallocx(n, 0);
}
void je_free(void* p) {
  g_je.dallocx(p, 0);
}
void je_release() {
  // MALLCTL_ARENAS_ALL is 4096: every arena, the huge one included.
  g_je.mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

struct Allocator {
  const char* name;
  void* (*alloc)(size_t);
  void (*free)(void*);
  void (*release)();  // hand everything cached back to the kernel
  bool is_uvm;
};

const Allocator kUvm{"uvmalloc", uvm_vmalloc, uvm_vfree, uvm_purge, true};
const Allocator kGlibc{"glibc", glibc_alloc, glibc_free, glibc_release, false};
const Allocator kJe{"jemalloc", je_alloc, je_free, je_release, false};

bool usable(benchmark::State& state, const Allocator& a) {
  if (&a == &kJe && !g_je.error.empty()) {
    state.SkipWithError(g_je.error.c_str());
    return false;
  }
  return true;
}

// uvmalloc's counters around a run: where the allocations came from.
struct UvmCounters {
  struct uvm_stats before {};
  explicit UvmCounters() { uvm_stats(&before); }
  void report(benchmark::State& state) const {
    struct uvm_stats after {};
    uvm_stats(&after);
    double allocs = static_cast<double>(after.allocs - before.allocs);
    if (allocs == 0) return;
    state.counters["reuse"] = static_cast<double>(after.reused - before.reused) / allocs;
    state.counters["warm"] = static_cast<double>(after.warm_hits - before.warm_hits) / allocs;
    state.counters["cold"] = static_cast<double>(after.cold_allocs - before.cold_allocs) / allocs;
    state.counters["purges"] = benchmark::Counter(static_cast<double>(after.purges - before.purges),
                                                  benchmark::Counter::kAvgIterations);
  }
};

// ---- 1. Alloc + touch every page + free -------------------------------------

void BM_AllocTouchFree(benchmark::State& state, const Allocator* a, bool cold) {
  if (!usable(state, *a)) return;
  const size_t size = static_cast<size_t>(state.range(0));
  // Same start for every run, whatever ran before: nothing cached; then, for
  // warm, one untimed round so the allocator holds the memory (and glibc's
  // dynamic mmap threshold has seen this size).
  a->release();
  if (!cold) {
    void* p = a->alloc(size);
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      return;
    }
    touch_pages(p, size);
    a->free(p);
  }
  UvmCounters uc;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      a->release();
      state.ResumeTiming();
    }
    void* p = a->alloc(size);
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      break;
    }
    touch_pages(p, size);
    benchmark::DoNotOptimize(p);
    a->free(p);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
  state.SetItemsProcessed(state.iterations());
  if (a->is_uvm) uc.report(state);
}

// A cold iteration also pays, untimed, for handing everything back; uvmalloc's
// purge waits for the io_uring refill the previous allocation started. These
// counts keep a cold run to a couple of seconds.
int64_t cold_iterations(size_t size) {
  if (size <= 128 * KiB) return 400;
  if (size <= 1 * MiB) return 200;
  if (size <= 8 * MiB) return 60;
  return 12;
}

void register_alloc_touch_free() {
  const size_t sizes[] = {128 * KiB, 1 * MiB, 8 * MiB, 64 * MiB};
  const Allocator* allocators[] = {&kUvm, &kGlibc, &kJe};
  for (size_t size : sizes) {
    for (bool cold : {false, true}) {
      for (const Allocator* a : allocators) {
        std::string name = std::string("BM_AllocTouchFree/") + a->name + (cold ? "/cold" : "/warm");
        auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_AllocTouchFree, a, cold)
                      ->Arg(static_cast<int64_t>(size))
                      ->UseRealTime();
        if (cold)
          b->Iterations(cold_iterations(size));
        else
          b->MinTime(0.2);
      }
    }
  }
}

// ---- 2. Committing pages: memfd cold / warm, anonymous ----------------------

enum class Commit { memfd_cold, memfd_warm_populate, memfd_warm_fault, anon };

void BM_CommitPages(benchmark::State& state, Commit kind) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  const size_t pages = bytes / kPage;
  int fd = -1;
  if (kind != Commit::anon) {
    fd = memfd_create("bench_commit", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      state.SkipWithError("memfd_create or ftruncate failed");
      if (fd >= 0) close(fd);
      return;
    }
    if (kind != Commit::memfd_cold && fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
      state.SkipWithError("fallocate failed");
      close(fd);
      return;
    }
  }
  int flags = kind == Commit::anon ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED;
  if (kind == Commit::memfd_warm_populate) flags |= MAP_POPULATE;
  for (auto _ : state) {
    if (kind == Commit::memfd_cold) {
      state.PauseTiming();
      int rc =
          fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes));
      state.ResumeTiming();
      if (rc != 0) {
        state.SkipWithError("fallocate(PUNCH_HOLE) failed");
        break;
      }
    }
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      break;
    }
    touch_pages(p, bytes);
    munmap(p, bytes);
  }
  if (fd >= 0) close(fd);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["ns_per_page"] =
      benchmark::Counter(static_cast<double>(pages) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void register_commit_pages() {
  const std::pair<const char*, Commit> kinds[] = {
      {"memfd_cold", Commit::memfd_cold},
      {"memfd_warm_populate", Commit::memfd_warm_populate},
      {"memfd_warm_fault", Commit::memfd_warm_fault},
      {"anon", Commit::anon},
  };
  for (const auto& [label, kind] : kinds) {
    std::string name = std::string("BM_CommitPages/") + label;
    benchmark::RegisterBenchmark(name.c_str(), BM_CommitPages, kind)
        ->Arg(16 * MiB)
        ->UseRealTime()
        ->MinTime(0.2);
  }
}

// ---- 3. lib/test_vmalloc.c scenarios through the public API -----------------

// Every scenario starts from an empty lazy list and pool, runs with lazy
// reuse on (the default, 64 MiB) or off, and leaves both as it found them.
class Scenario {
 public:
  Scenario(benchmark::State& state, bool eager) : state_(state), eager_(eager) {
    uvm_purge();
    if (eager_) uvm_configure("lazy:0");
  }
  ~Scenario() {
    for (void* p : kept_) uvm_vfree(p);
    if (eager_) uvm_configure("lazy:64M");
    uvm_purge();
  }
  // Background allocations freed on the way out.
  bool keep(size_t n, size_t size) {
    for (size_t i = 0; i < n; ++i) {
      void* p = uvm_vmalloc(size);
      if (p == nullptr) return fail("setup allocation failed");
      touch_first(p);
      kept_.push_back(p);
    }
    return true;
  }
  bool fail(const char* why) {
    state_.SkipWithError(why);
    return false;
  }
  void start() { counters_ = UvmCounters(); }
  void finish(int64_t items) {
    state_.SetItemsProcessed(items);
    counters_.report(state_);
  }

 private:
  benchmark::State& state_;
  bool eager_;
  std::vector<void*> kept_;
  UvmCounters counters_;
};

// One allocation of whatever `pick` asks for, first page touched, freed.
template <typename Pick>
void alloc_free_loop(benchmark::State& state, Scenario& sc, Pick pick) {
  Rng rng{42};
  sc.start();
  for (auto _ : state) {
    auto [size, align] = pick(rng);
    void* p = align <= kPage ? uvm_vmalloc(size) : uvm_vmalloc_align(size, align);
    if (p == nullptr) {
      sc.fail("allocation failed");
      break;
    }
    touch_first(p);
    uvm_vfree(p);
  }
  sc.finish(state.iterations());
}

struct Req {
  size_t size, align;
};

// nr_pages is the argument (the kernel's default is one page).
void BM_fix_size(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  const size_t size = static_cast<size_t>(state.range(0));
  alloc_free_loop(state, sc, [size](Rng&) { return Req{size, 1}; });
}

// The kernel keeps fls(ncpus) * 8192 one-page pairs; 8192 pairs here, which
// stays within vm.max_map_count at two VMAs per guarded area. The junk is
// purged, so the first request really is a full fit of a one-page hole.
constexpr size_t kJunkPairs = 8192;
void BM_full_fit(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  std::vector<void*> junk;
  junk.reserve(kJunkPairs);
  for (size_t i = 0; i < kJunkPairs; ++i) {
    if (!sc.keep(1, kPage)) return;
    void* j = uvm_vmalloc(kPage);
    if (j == nullptr) {
      sc.fail("setup allocation failed");
      return;
    }
    junk.push_back(j);
  }
  for (void* j : junk) uvm_vfree(j);
  uvm_purge();
  alloc_free_loop(state, sc, [](Rng&) { return Req{kPage, 1}; });
}

void BM_long_busy_list(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  if (!sc.keep(15000, kPage)) return;
  sc.start();
  for (auto _ : state) {
    void* p1 = uvm_vmalloc(100 * kPage);
    void* p2 = uvm_vmalloc(kPage);
    if (p1 == nullptr || p2 == nullptr) {
      sc.fail("allocation failed");
      break;
    }
    touch_first(p1);
    touch_first(p2);
    uvm_vfree(p1);
    uvm_vfree(p2);
  }
  sc.finish(2 * state.iterations());
}

void BM_random_size(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  alloc_free_loop(state, sc, [](Rng& rng) { return Req{(rng() % 100 + 1) * kPage, 1}; });
}

// THREAD_ALIGN << 1 on x86-64 (THREAD_SIZE 16 KiB).
void BM_fix_align(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  alloc_free_loop(state, sc, [](Rng&) { return Req{5 * kPage, 32 * KiB}; });
}

void BM_random_size_align(benchmark::State& state, bool eager) {
  Scenario sc(state, eager);
  alloc_free_loop(state, sc, [](Rng& rng) {
    unsigned rnd = rng() & 0xff;  // one byte picks both, as in the kernel
    return Req{(rnd % 10 + 1) * kPage, size_t{1} << (rnd % 23)};
  });
}

void register_scenarios() {
  using Fn = void (*)(benchmark::State&, bool);
  struct Test {
    const char* name;
    Fn fn;
    int64_t lazy_iters, eager_iters;  // fixed: the setup is paid once per run
  };
  const Test tests[] = {
      {"fix_size_alloc_test", BM_fix_size, 300000, 30000},
      {"full_fit_alloc_test", BM_full_fit, 300000, 30000},
      {"long_busy_list_alloc_test", BM_long_busy_list, 150000, 15000},
      {"random_size_alloc_test", BM_random_size, 300000, 30000},
      {"fix_align_alloc_test", BM_fix_align, 300000, 30000},
      {"random_size_align_alloc_test", BM_random_size_align, 300000, 30000},
  };
  for (const Test& t : tests) {
    for (bool eager : {false, true}) {
      std::string name = std::string("BM_vmalloc/") + t.name + (eager ? "/eager" : "/lazy");
      auto* b = benchmark::RegisterBenchmark(name.c_str(), t.fn, eager)
                    ->Iterations(eager ? t.eager_iters : t.lazy_iters)
                    ->UseRealTime();
      if (t.fn == BM_fix_size) b->Arg(static_cast<int64_t>(kPage))->Arg(128 * KiB);
    }
  }
}

// ---- 4. Thread scaling -----------------------------------------------------

// lo == hi: that size every time; otherwise a page multiple in [lo, hi].
void BM_ThreadScaling(benchmark::State& state, const Allocator* a, size_t lo, size_t hi) {
  if (!usable(state, *a)) return;
  Rng rng{static_cast<uint64_t>(state.thread_index()) + 1};
  const size_t span = (hi - lo) / kPage + 1;
  int64_t bytes = 0;
  // Process-wide counts, so thread 0 alone reports them; the loop's start and
  // stop barriers put the other threads' loops between its two snapshots.
  const bool report = a->is_uvm && state.thread_index() == 0;
  UvmCounters uc;
  for (auto _ : state) {
    size_t size = lo + (rng() % span) * kPage;
    void* p = a->alloc(size);
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      break;
    }
    touch_pages(p, size);
    benchmark::DoNotOptimize(p);
    a->free(p);
    bytes += static_cast<int64_t>(size);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  if (report) uc.report(state);
}

void register_thread_scaling() {
  const Allocator* allocators[] = {&kUvm, &kGlibc};
  const std::pair<const char*, size_t> sizes[] = {
      {"262144", 256 * KiB}, {"1048576", 1 * MiB}, {"4194304", 4 * MiB}, {"mixed", 0}};
  for (const auto& [label, size] : sizes) {
    for (const Allocator* a : allocators) {
      std::string name = std::string("BM_ThreadScaling/") + a->name + "/" + label;
      size_t lo = size != 0 ? size : 256 * KiB, hi = size != 0 ? size : 4 * MiB;
      benchmark::RegisterBenchmark(name.c_str(), BM_ThreadScaling, a, lo, hi)
          ->Threads(1)
          ->Threads(2)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  load_jemalloc(argv);  // first: it may run the program again
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (sysconf(_SC_PAGESIZE) != static_cast<long>(kPage)) {
    fprintf(stderr, "bench_vmalloc: expects %zu-byte pages\n", kPage);
    return 1;
  }
  // Bring uvmalloc up outside any timed region, and say how it runs.
  uvm_vfree(uvm_vmalloc(kPage));
  uvm_purge();
  struct uvm_stats st {};
  uvm_stats(&st);
  benchmark::AddCustomContext("uvmalloc", uvm_version());
  benchmark::AddCustomContext("uvmalloc_io_uring", st.async ? "yes" : "no");
  benchmark::AddCustomContext("jemalloc", g_je.error.empty() ? "dlopen ok" : g_je.error);

  register_commit_pages();
  register_alloc_touch_free();
  register_scenarios();
  register_thread_scaling();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
