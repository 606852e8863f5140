// Thread scaling of the allocator-bound loop (issue 13) through the public C
// API, against the process's glibc malloc:
//  - BM_AllocatorBound/<allocator>/threads:N: each thread keeps 16 live
//    blocks of 128 KiB..2 MiB (uniform, 16-byte steps, drawn once per
//    slot), frees a random one and allocates another of that slot's size,
//    writing and checking only the first and last 8 bytes. One item = one free + one allocation;
//    items_per_second is the total over all threads per second of wall time. N runs 1, 2, 4, ... up
//    to the CPUs this process may use, then twice that (oversubscribed).
// The whole-process comparison with the other allocators, and the other
// scenarios, are bench/harness/scaling.py's.
#include <benchmark/benchmark.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "uvmalloc/uvmalloc.h"

#include "test_util.h"

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * KiB;
constexpr size_t kSmall = 128 * KiB, kLarge = 2 * MiB;
constexpr size_t kLive = 16;

using uvm::test::Rng;

struct Allocator {
  const char* name;
  void* (*alloc)(size_t);
  void (*free)(void*);
};

// Out of line so that the compiler cannot pair up and drop malloc and free.
__attribute__((noinline)) void* glibc_alloc(size_t n) {
  return malloc(n);
}
__attribute__((noinline)) void glibc_free(void* p) {
  free(p);
}

const Allocator kUvm{"uvmalloc", uvm_vmalloc, uvm_vfree};
const Allocator kGlibc{"glibc", glibc_alloc, glibc_free};

struct Block {
  char* p = nullptr;
  size_t n = 0;
  uint64_t tag = 0;
};

uint64_t end_tag(const Block& b, size_t off) {
  return b.tag ^ (off * 0x9e3779b97f4a7c15ull);
}

// Allocates b.n bytes and tags both ends.
bool make(const Allocator& a, Rng& rng, Block& b) {
  b.p = static_cast<char*>(a.alloc(b.n));
  if (b.p == nullptr) return false;
  b.tag = rng();
  const uint64_t head = end_tag(b, 0), tail = end_tag(b, b.n - 8);
  memcpy(b.p, &head, 8);
  memcpy(b.p + b.n - 8, &tail, 8);
  return true;
}

// Checks the two tags, then frees.
bool release(const Allocator& a, const Block& b) {
  uint64_t head, tail;
  memcpy(&head, b.p, 8);
  memcpy(&tail, b.p + b.n - 8, 8);
  a.free(b.p);
  return head == end_tag(b, 0) && tail == end_tag(b, b.n - 8);
}

void BM_AllocatorBound(benchmark::State& state, const Allocator* a) {
  Rng rng{0x5ca1e000u + static_cast<uint64_t>(state.thread_index()) * 7919};
  std::array<Block, kLive> live;
  for (Block& b : live) {
    b.n = (kSmall + rng.below(kLarge - kSmall + 1)) & ~size_t{15};
    if (!make(*a, rng, b)) {
      state.SkipWithError("allocation failed");
      return;
    }
  }
  bool intact = true;
  for (auto _ : state) {
    Block& b = live[rng.below(kLive)];
    intact &= release(*a, b);
    if (!make(*a, rng, b)) {
      state.SkipWithError("allocation failed");
      b.p = nullptr;
      break;
    }
  }
  for (const Block& b : live)
    if (b.p != nullptr) intact &= release(*a, b);
  if (!intact) state.SkipWithError("a block's first or last bytes changed");
  state.SetItemsProcessed(state.iterations());
}

// The CPUs this process may run on (a cpuset or taskset counts, unlike
// sysconf(_SC_NPROCESSORS_ONLN)).
int usable_cpus() {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) return 1;
  return std::max(1, CPU_COUNT(&cpus));
}

void register_allocator_bound() {
  const int nproc = usable_cpus();
  for (const Allocator* a : {&kUvm, &kGlibc}) {
    std::string name = std::string("BM_AllocatorBound/") + a->name;
    auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_AllocatorBound, a);
    for (int t = 1; t < nproc; t *= 2) b->Threads(t);
    b->Threads(nproc)->Threads(2 * nproc)->UseRealTime()->MinTime(0.3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Bring uvmalloc up outside any timed region.
  uvm_vfree(uvm_vmalloc(kSmall));
  benchmark::AddCustomContext("uvmalloc", uvm_version());
  register_allocator_bound();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
