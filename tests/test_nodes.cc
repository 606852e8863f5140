// vmap nodes under threads: a randomized model test. Threads allocate, free
// their own and each other's blocks (through an exchange), reallocate and
// purge on a Vmalloc with more threads than nodes, so areas are freed on one
// node and reused or stolen from another. At each quiescent point (every
// thread parked at a barrier) the main thread checks every invariant of the
// space, the nodes and the pool (Vmalloc::check) and the model: each block
// the threads hold is live at its address with its size and its data, no two
// overlap, and the counters agree. Some rounds end in a fork whose child
// checks the same of its snapshot.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace {

using uvm::vm_config;
using uvm::vm_stats;
using uvm::vm_struct;
using uvm::Vmalloc;

constexpr size_t P = uvm::pal::kPageSize;
constexpr size_t MiB = size_t{1} << 20;

struct Block {
  unsigned char* p;
  size_t size;
  unsigned char tag;
};

// First, last and every 64th byte carry the tag: enough to see a block
// handed to two owners or remapped to the wrong pages.
void stamp(const Block& b) {
  for (size_t i = 0; i < b.size; i += 64) b.p[i] = b.tag;
  b.p[b.size - 1] = b.tag;
}

bool intact(const Block& b) {
  for (size_t i = 0; i < b.size; i += 64)
    if (b.p[i] != b.tag) return false;
  return b.p[b.size - 1] == b.tag;
}

class NodesModel {
 public:
  NodesModel(unsigned threads, uint64_t seed) : held_(threads), seed_(seed) {
    vm_config c;
    c.reserve = size_t{4} << 30;
    c.min_reserve = size_t{1} << 30;
    c.lazy_max = 8 * MiB;  // small: purges come often
    c.pool.pool_max = 8 * MiB;
    c.pool.live_floor = MiB;
    c.pool.refill = 0;
    EXPECT_EQ(vm_.init(c), UVM_OK);
  }

  // One thread's share of a round: `ops` random operations.
  void run(unsigned self, unsigned round, int ops) {
    std::mt19937_64 rng(seed_ * 7919 + self * 131 + round);
    std::vector<Block>& mine = held_[self];
    for (int i = 0; i < ops; ++i) {
      unsigned op = rng() % 100;
      if (op < 35 || mine.empty()) {
        alloc(mine, rng);
      } else if (op < 60) {
        size_t k = rng() % mine.size();
        free_block(mine[k]);
        mine.erase(mine.begin() + static_cast<long>(k));
      } else if (op < 75) {
        // Hand a block to whichever thread takes it next.
        size_t k = rng() % mine.size();
        std::lock_guard<std::mutex> g(exchange_lock_);
        exchange_.push_back(mine[k]);
        mine.erase(mine.begin() + static_cast<long>(k));
      } else if (op < 85) {
        Block b{};
        {
          std::lock_guard<std::mutex> g(exchange_lock_);
          if (exchange_.empty()) continue;
          b = exchange_.back();
          exchange_.pop_back();
        }
        free_block(b);  // freed on another node than it was allocated on, often
      } else if (op < 98) {
        realloc_block(mine[rng() % mine.size()], rng);
      } else {
        vm_.purge();
      }
    }
  }

  // Quiescent: nothing runs but the caller.
  void check_all(const char* when) {
    SCOPED_TRACE(when);
    ASSERT_EQ(vm_.check(), "");
    std::vector<Block> all = exchange_;
    for (const auto& v : held_) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end(), [](const Block& a, const Block& b) { return a.p < b.p; });
    for (size_t i = 0; i < all.size(); ++i) {
      const Block& b = all[i];
      ASSERT_TRUE(intact(b)) << "block " << static_cast<void*>(b.p) << " lost its data";
      vm_struct s{};
      ASSERT_EQ(vm_.find(b.p, &s), UVM_OK);
      ASSERT_GE(s.size, b.size);
      if (i > 0) {
        ASSERT_LE(all[i - 1].p + all[i - 1].size, b.p) << "two blocks overlap";
      }
    }
    vm_stats st = vm_.stats();
    EXPECT_EQ(st.areas, all.size());
    EXPECT_EQ(st.allocs - st.frees, all.size());
    EXPECT_LE(st.reused, st.allocs);
  }

  // Fork from a quiescent point: the child checks its snapshot and uses
  // the allocator on its own; the parent goes on with a new pool file.
  void fork_and_check() {
    // The child's findings come back through a pipe: its exit status may be
    // a sanitizer's (ThreadSanitizer reports the parent's threads as leaked).
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    vm_.fork_prepare();
    pid_t pid = fork();
    if (pid == 0) {
      vm_.fork_child();
      int bad = vm_.check().empty() ? 0 : 1;
      for (const auto& v : held_)
        for (const Block& b : v) bad |= intact(b) ? 0 : 2;
      for (const auto& v : held_) {
        for (const Block& b : v) {
          memset(b.p, 0xee, b.size);  // the parent must never see this
          bad |= vm_.free(b.p) == UVM_OK ? 0 : 4;
        }
      }
      int status;
      void* q = vm_.alloc(MiB, 1, 0, nullptr, &status);
      bad |= q == nullptr ? 8 : 0;
      bad |= vm_.check().empty() ? 0 : 16;
      unsigned char verdict = static_cast<unsigned char>(bad);
      _exit(write(fds[1], &verdict, 1) == 1 ? 0 : 1);
    }
    vm_.fork_parent();
    close(fds[1]);
    ASSERT_GT(pid, 0);
    unsigned char verdict = 0xff;
    EXPECT_EQ(read(fds[0], &verdict, 1), 1) << "the child died before it reported";
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(verdict, 0) << "child's findings (bits: check, data, free, alloc, check after)";
  }

  void free_everything() {
    for (auto& v : held_) {
      for (const Block& b : v) free_block(b);
      v.clear();
    }
    for (const Block& b : exchange_) free_block(b);
    exchange_.clear();
  }

 private:
  void alloc(std::vector<Block>& mine, std::mt19937_64& rng) {
    // 1..48 pages, biased small, so size bins are shared and stolen from.
    size_t pages = 1 + rng() % (rng() % 4 == 0 ? 48 : 8);
    size_t size = pages * P - rng() % P;
    int status;
    void* p = vm_.alloc(size, 1, 0, nullptr, &status);
    ASSERT_NE(p, nullptr) << "status " << status;
    Block b{static_cast<unsigned char*>(p), size, static_cast<unsigned char>(1 + rng() % 250)};
    stamp(b);
    mine.push_back(b);
  }

  void free_block(const Block& b) {
    ASSERT_TRUE(intact(b)) << "block " << static_cast<void*>(b.p) << " changed under its owner";
    ASSERT_EQ(vm_.free(b.p), UVM_OK);
  }

  void realloc_block(Block& b, std::mt19937_64& rng) {
    ASSERT_TRUE(intact(b));
    size_t size = (1 + rng() % 32) * P - rng() % P;
    int status;
    void* q = vm_.realloc(b.p, size, nullptr, &status);
    ASSERT_NE(q, nullptr) << "status " << status;
    b.p = static_cast<unsigned char*>(q);
    size_t kept = std::min(size, b.size);
    for (size_t i = 0; i < kept; i += 64) ASSERT_EQ(b.p[i], b.tag) << "realloc lost data";
    b.size = size;
    stamp(b);
  }

  Vmalloc vm_;
  std::vector<std::vector<Block>> held_;
  std::mutex exchange_lock_;
  std::vector<Block> exchange_;
  uint64_t seed_;
};

TEST(VmapNodes, ThreadsFreeingEachOthersBlocksKeepEveryInvariant) {
  // More threads than nodes: several share a node, and threads move.
  unsigned threads = std::max(4u, 2 * uvm::pal::nr_cpus());
  threads = std::min(threads, 16u);
  constexpr unsigned kRounds = 12;
  constexpr int kOps = 400;
  for (uint64_t seed : {1u, 2u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    NodesModel model(threads, seed);
    std::barrier start(threads + 1), done(threads + 1);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (unsigned r = 0; r < kRounds; ++r) {
          start.arrive_and_wait();
          model.run(t, r, kOps);
          done.arrive_and_wait();
        }
      });
    }
    for (unsigned r = 0; r < kRounds; ++r) {
      start.arrive_and_wait();
      done.arrive_and_wait();
      model.check_all(("round " + std::to_string(r)).c_str());
      if (r % 4 == 3) model.fork_and_check();
    }
    for (std::thread& t : pool) t.join();
    model.free_everything();
    model.check_all("all freed");
  }
}

// Runs on `cpu` from here on (false when it may not).
bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 && uvm::pal::current_cpu() == unsigned(cpu);
}

// Reuse prefers an area of another node that fits as it is to one of its own
// node that would have its tail unmapped (a syscall, and a TLB shootdown on
// every CPU the process runs on).
TEST(VmapNodes, ReuseTakesAnotherNodesAreaThatNeedsNoTrim) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2 || cpus[0] % uvm::pal::nr_cpus() == cpus[1] % uvm::pal::nr_cpus())
    GTEST_SKIP() << "needs two CPUs of different vmap nodes";
  vm_config c;
  c.reserve = size_t{1} << 30;
  c.min_reserve = size_t{256} << 20;
  c.pool.refill = 0;
  Vmalloc vm;
  ASSERT_EQ(vm.init(c), UVM_OK);
  int status;
  auto alloc = [&](size_t n) { return vm.alloc(n, 1, 0, nullptr, &status); };
  ASSERT_TRUE(pin_to(cpus[0]));
  void* own = alloc(MiB + 800 * 1024);  // fits 1 MiB, but beyond 1.5x: trimmed
  ASSERT_NE(own, nullptr);
  ASSERT_TRUE(pin_to(cpus[1]));
  void* other = alloc(MiB + 200 * 1024);  // fits 1 MiB as it is
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(vm.free(other), UVM_OK);  // into the second CPU's node
  ASSERT_TRUE(pin_to(cpus[0]));
  ASSERT_EQ(vm.free(own), UVM_OK);  // into the first's
  void* got = alloc(MiB);
  EXPECT_EQ(got, other);
  vm_stats st = vm.stats();
  EXPECT_EQ(st.trimmed, 0u);
  EXPECT_EQ(vm.check(), "");
  ASSERT_EQ(sched_setaffinity(0, sizeof allowed, &allowed), 0);
  ASSERT_EQ(vm.free(got), UVM_OK);
}

}  // namespace
