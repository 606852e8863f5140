// Stress: threads doing random alloc/zalloc/realloc/free and fork through the
// public API, every block carrying a checksum that is verified before each
// change and in fork children. Bounded in CI (UVM_STRESS_SECONDS, default
// 8); run it for hours by hand with a larger value. UVM_STRESS_THREADS sets
// the number of threads (default: the machine's, at least 2). Reports operations done
// and corruptions found, which must be zero.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "uvmalloc/uvmalloc.h"

namespace {

struct Block {
  uint64_t* p;
  size_t words;
  uint64_t seed;
};

// The word at index i of a block: a function of its seed, checked sparsely
// (every 61st word plus both ends) to keep the test about the allocator.
uint64_t word(uint64_t seed, size_t i) {
  return (seed ^ i) * 0x9e3779b97f4a7c15ull;
}

void fill(const Block& b, size_t from = 0) {
  for (size_t i = from; i < b.words; ++i) b.p[i] = word(b.seed, i);
}

bool intact(const Block& b, size_t words) {
  for (size_t i = 0; i < words; i += 61)
    if (b.p[i] != word(b.seed, i)) return false;
  return words == 0 || b.p[words - 1] == word(b.seed, words - 1);
}

size_t random_size(std::mt19937_64& rng) {
  // 128 KiB .. 4 MiB, biased small, not page multiples.
  size_t s = size_t{128} << 10 << (rng() % 6);
  return s + (rng() % s) / 8 * 8 + 8;
}

struct Counters {
  std::atomic<uint64_t> ops{0}, forks{0}, corruptions{0}, failures{0};
};

// Child of a fork: its snapshot of the parent thread's blocks is intact,
// stays intact while it writes and allocates on its own, then it exits.
int child_checks(std::vector<Block>& mine) {
  int bad = 0;
  for (Block& b : mine) bad += !intact(b, b.words);
  for (Block& b : mine) {
    b.seed ^= 0xc0ffee;
    fill(b);
  }
  void* extra = uvm_vmalloc(3 << 20);
  if (extra == nullptr) return 3;
  memset(extra, 0x5a, 3 << 20);
  for (Block& b : mine) bad += !intact(b, b.words);
  uvm_vfree(extra);
  return bad == 0 ? 0 : 1;
}

void worker(unsigned id, std::chrono::steady_clock::time_point end, bool may_fork, Counters* c) {
  std::mt19937_64 rng(0x5eed + id);
  std::vector<Block> mine;
  // Time bounds the run, but never below a minimum of work (and one fork),
  // however slow the build (sanitizers) or the machine.
  constexpr uint64_t kMinOps = 400;
  uint64_t ops = 0, forks = 0;
  while (std::chrono::steady_clock::now() < end || ops < kMinOps || (may_fork && forks == 0)) {
    ++ops;
    unsigned op = rng() % 100;
    if (mine.size() < 8 || (op < 40 && mine.size() < 48)) {
      size_t size = random_size(rng);
      bool zero = op % 4 == 0;
      auto* p = static_cast<uint64_t*>(zero ? uvm_vzalloc(size) : uvm_vmalloc(size));
      if (p == nullptr) {
        ++c->failures;
        continue;
      }
      Block b{p, size / 8, rng()};
      if (zero && (p[0] != 0 || p[b.words / 2] != 0 || p[b.words - 1] != 0)) ++c->corruptions;
      fill(b);
      mine.push_back(b);
    } else if (op < 70) {
      size_t k = rng() % mine.size();
      Block& b = mine[k];
      if (!intact(b, b.words)) ++c->corruptions;
      size_t size = random_size(rng);
      auto* q = static_cast<uint64_t*>(uvm_vrealloc(b.p, size));
      if (q == nullptr) {
        ++c->failures;
        continue;
      }
      size_t keep = std::min(b.words, size / 8);
      b.p = q;
      if (!intact(b, keep)) ++c->corruptions;
      b.words = size / 8;
      fill(b, keep);
    } else if (!may_fork || (op < 99 && !(ops > kMinOps / 2 && forks == 0))) {
      size_t k = rng() % mine.size();
      if (!intact(mine[k], mine[k].words)) ++c->corruptions;
      uvm_vfree(mine[k].p);
      mine[k] = mine.back();
      mine.pop_back();
    } else {
      pid_t pid = fork();
      if (pid == 0) _exit(child_checks(mine));
      int status = 0;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0)
        ++c->corruptions;
      // The child's writes must not have reached us.
      for (const Block& b : mine) c->corruptions += !intact(b, b.words);
      ++c->forks;
      ++forks;
    }
    ++c->ops;
  }
  for (const Block& b : mine) {
    if (!intact(b, b.words)) ++c->corruptions;
    uvm_vfree(b.p);
  }
}

TEST(Stress, RandomOperationsAndForksLoseNothing) {
  const char* env = getenv("UVM_STRESS_SECONDS");
  int seconds = env != nullptr ? atoi(env) : 8;
  const char* nthreads = getenv("UVM_STRESS_THREADS");
  unsigned threads = nthreads != nullptr ? static_cast<unsigned>(atoi(nthreads))
                                         : std::max(2u, std::thread::hardware_concurrency());
  if (threads == 0) threads = 2;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  Counters c;
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back(worker, i, end, i == 0, &c);
  for (std::thread& t : pool) t.join();
  printf(
      "stress: %u threads, %d s: %llu operations, %llu forks, %llu failed allocations, "
      "%llu corruptions\n",
      threads, seconds, static_cast<unsigned long long>(c.ops.load()),
      static_cast<unsigned long long>(c.forks.load()),
      static_cast<unsigned long long>(c.failures.load()),
      static_cast<unsigned long long>(c.corruptions.load()));
  EXPECT_EQ(c.corruptions.load(), 0u);
  EXPECT_EQ(c.failures.load(), 0u);
  EXPECT_GE(c.ops.load(), 400u * threads);
  EXPECT_GT(c.forks.load(), 0u);
  struct uvm_stats s;
  uvm_stats(&s);
  EXPECT_EQ(s.areas, 0u);
}

}  // namespace
