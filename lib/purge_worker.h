// purge_worker: gives back lazily freed areas and warm pool pages that went
// unused for decay_ms, also while the program makes no call at all (the
// kernel's drain_vmap_work, jemalloc's background thread). Its thread
// exists only while there is something to give back: the first operation
// that leaves memory cached starts it, it wakes every period to release
// what is due, and it exits once nothing is cached, so an idle process has
// no thread of uvmalloc's. A fork child has no such thread and starts its
// own when it needs one.
//
// Locking: running_ is the only shared state; the work function takes the
// locks it needs (the fork barrier first, as every operation).
#pragma once

#include <atomic>
#include <cstdint>

namespace uvm {

class PurgeWorker {
 public:
  // Release what is due; true while something is still cached.
  using work_fn = bool (*)();

  constexpr PurgeWorker() = default;
  PurgeWorker(const PurgeWorker&) = delete;
  PurgeWorker& operator=(const PurgeWorker&) = delete;

  // Calls `work` every `period_ms` while it reports something cached.
  void init(work_fn work, uint64_t period_ms) {
    work_ = work;
    period_ms_ = period_ms;
  }
  // After an operation that may have left memory cached: one relaxed load
  // while the thread runs.
  void kick() {
    if (work_ != nullptr && !running_.load(std::memory_order_relaxed)) start();
  }
  // In a fork child: the parent's thread is not there.
  void fork_child() { running_.store(false, std::memory_order_relaxed); }
  bool running() const { return running_.load(std::memory_order_relaxed); }
  // Threads started so far (for the tests).
  unsigned long starts() const { return starts_.load(std::memory_order_relaxed); }

 private:
  void start();
  static void* main(void* self);

  work_fn work_ = nullptr;
  uint64_t period_ms_ = 250;
  std::atomic<bool> running_{false};
  std::atomic<unsigned long> starts_{0};
};

}  // namespace uvm
