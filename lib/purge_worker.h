// purge_worker: gives back lazily freed areas and warm pool pages that went
// unused for decay_ms, also while the program makes no call at all (the
// kernel's drain_vmap_work, jemalloc's background thread). Its thread
// exists only while there is something to give back: the first operation
// that leaves memory cached starts it, it wakes every period to release
// what is due, and it exits once nothing is cached, so an idle process has
// no thread of uvmalloc's. A fork child never starts one: a child of a
// threaded parent may only be made threaded with care (ThreadSanitizer
// dies, unshare(CLONE_NEWUSER) fails), and most children exec or exit
// soon; there the rounds run inline on the child's own calls instead, at
// most one per period.
//
// Locking: running_ and last_round_ns_ are the only shared state; the work
// function takes the locks it needs (the fork barrier first, as every
// operation).
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
  // Called outside every lock of uvmalloc's.
  void kick() {
    if (work_ != nullptr && !running_.load(std::memory_order_relaxed)) start();
  }
  // In a fork child: the parent's thread is not there, and none is started.
  void fork_child() {
    running_.store(false, std::memory_order_relaxed);
    in_child_ = true;
  }
  bool running() const { return running_.load(std::memory_order_relaxed); }
  // Threads started so far (for the tests).
  unsigned long starts() const { return starts_.load(std::memory_order_relaxed); }

 private:
  void start();
  void round_inline();
  static void* main(void* self);

  work_fn work_ = nullptr;
  uint64_t period_ms_ = 250;
  std::atomic<bool> running_{false};
  std::atomic<unsigned long> starts_{0};
  bool in_child_ = false;  // set only in a fork child's single thread
  std::atomic<uint64_t> last_round_ns_{0};
};

}  // namespace uvm
