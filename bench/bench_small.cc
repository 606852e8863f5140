// The shim's cost where it does nothing (issue 14): small requests through
// the process's malloc, whatever that is. Linked with no allocator, so run it
// twice, plainly and with the shim preloaded, and compare (bench/small_overhead.sh
// alternates the two and prints the ratios):
//  - BM_SmallPairs: malloc + free of 8..1024 bytes (a fixed table), the
//    first and last byte written.
//  - BM_SmallCalloc / BM_SmallRealloc: calloc + free, and malloc, realloc to
//    up to twice the size, free: the other entry points' small paths.
//  - BM_SmallChurn/threads:N: each thread keeps 4,096 live blocks of
//    16..2048 bytes and replaces a random one per item.
// Nothing here reaches the shim's threshold (128 KiB by default).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "test_util.h"

namespace {

using uvm::test::Rng;

constexpr size_t kTable = 4096;

std::array<size_t, kTable> sizes(size_t lo, size_t hi, uint64_t seed) {
  std::array<size_t, kTable> out{};
  Rng rng{seed};
  for (size_t& n : out) n = lo + rng.below(hi - lo + 1);
  return out;
}

// The compiler may not pair malloc and free up and drop them.
void touch(unsigned char* p, size_t n, size_t i) {
  if (p == nullptr) std::abort();
  p[0] = static_cast<unsigned char>(i);
  p[n - 1] = static_cast<unsigned char>(i >> 8);
  benchmark::DoNotOptimize(p);
}

void BM_SmallPairs(benchmark::State& state) {
  static const auto table = sizes(8, 1024, 5);
  size_t i = 0;
  for (auto _ : state) {
    size_t n = table[i++ % kTable];
    auto* p = static_cast<unsigned char*>(malloc(n));
    touch(p, n, i);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallPairs);

void BM_SmallCalloc(benchmark::State& state) {
  static const auto table = sizes(8, 1024, 6);
  size_t i = 0;
  for (auto _ : state) {
    size_t n = table[i++ % kTable];
    auto* p = static_cast<unsigned char*>(calloc(1, n));
    touch(p, n, i);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallCalloc);

void BM_SmallRealloc(benchmark::State& state) {
  static const auto table = sizes(8, 1024, 7);
  size_t i = 0;
  for (auto _ : state) {
    size_t n = table[i++ % kTable];
    auto* p = static_cast<unsigned char*>(malloc(n));
    touch(p, n, i);
    p = static_cast<unsigned char*>(realloc(p, 2 * n));
    touch(p, 2 * n, i);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallRealloc);

void BM_SmallChurn(benchmark::State& state) {
  constexpr size_t kLive = 4096;
  const auto table = sizes(16, 2048, 8 + static_cast<uint64_t>(state.thread_index()));
  std::array<unsigned char*, kLive> live{};
  std::array<size_t, kLive> len{};
  for (size_t k = 0; k < kLive; k++) {
    len[k] = table[k];
    live[k] = static_cast<unsigned char*>(malloc(len[k]));
    touch(live[k], len[k], k);
  }
  Rng rng{static_cast<uint64_t>(state.thread_index()) + 1};
  size_t i = 0;
  for (auto _ : state) {
    size_t k = rng.below(kLive);
    free(live[k]);
    len[k] = table[i++ % kTable];
    live[k] = static_cast<unsigned char*>(malloc(len[k]));
    touch(live[k], len[k], i);
  }
  for (unsigned char* p : live) free(p);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallChurn)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
