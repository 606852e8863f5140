// The main job's demo: uvmalloc doing real work through its public API.
// Thousands of allocations of mixed large sizes are written, checked and
// freed; then the vmallocinfo table of what is live and the stats.
#include <uvmalloc/uvmalloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Block {
  uint64_t* p;
  size_t words;
  uint64_t seed;
};

void fill(const Block& b) {
  for (size_t i = 0; i + 1 < b.words; i += 512) b.p[i] = b.seed ^ i;  // one word per page
  b.p[b.words - 1] = b.seed;
}

bool intact(const Block& b) {
  for (size_t i = 0; i + 1 < b.words; i += 512)
    if (b.p[i] != (b.seed ^ i)) return false;
  return b.p[b.words - 1] == b.seed;
}

}  // namespace

int main() {
  std::mt19937_64 rng(2026);
  std::vector<Block> live;
  size_t rounds = 3000, bytes = 0, checked = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t r = 0; r < rounds; ++r) {
    if (live.size() < 48 || rng() % 2 == 0) {
      // 128 KiB .. 16 MiB, biased towards the small end.
      size_t size = size_t{128} << 10 << (rng() % 8);
      size += (rng() % size) & ~size_t{7};
      auto* p = static_cast<uint64_t*>(r % 7 == 0 ? uvm_vzalloc(size) : uvm_vmalloc(size));
      if (p == nullptr) {
        perror("uvm_vmalloc");
        return 1;
      }
      if (r % 7 == 0 && (p[0] != 0 || p[size / 8 - 1] != 0)) {
        fprintf(stderr, "uvm_vzalloc returned dirty memory\n");
        return 1;
      }
      Block b{p, size / 8, rng()};
      fill(b);
      live.push_back(b);
      bytes += size;
    } else {
      size_t k = rng() % live.size();
      if (!intact(live[k])) {
        fprintf(stderr, "data lost at %p\n", static_cast<void*>(live[k].p));
        return 1;
      }
      ++checked;
      uvm_vfree(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf(
      "uvmalloc %s demo: %zu rounds, %.1f GiB allocated and written, %zu blocks verified, "
      "%.2f s\n\n",
      uvm_version(), rounds, static_cast<double>(bytes) / (1 << 30), checked, secs);

  // Keep a dozen live for the table.
  while (live.size() > 12) {
    uvm_vfree(live.back().p);
    live.pop_back();
  }
  printf("vmallocinfo (live areas, then freed areas awaiting lazy purge):\n");
  uvm_vmalloc_info(stdout);
  printf("\n");
  uvm_stats_print(stdout);
  for (const Block& b : live) uvm_vfree(b.p);
  return 0;
}
