// fork_barrier: what keeps fork() from seeing an operation half done (an
// area cut from the free tree but not yet linked busy, pages mapped but not
// yet recorded), at the cost of one uncontended atomic add in the calling
// CPU's own cache line: the kernel's percpu_rw_semaphore, in place of the
// process-wide rwlock whose one counter every thread wrote.
//
// Readers (every operation) count themselves in the slot of the CPU they
// start on and leave from that same slot, wherever they run by then. The
// writer (the fork prepare handler, or the repair of a lost pool file) sets
// `writer_` and waits until every slot reads zero; a reader that sees
// `writer_` after counting itself steps back and waits for the writer on
// `writer_lock_`. The increment and the load of `writer_` on one side, the
// store of `writer_` and the loads of the slots on the other, are all
// sequentially consistent, so at least one side sees the other.
#pragma once

#include <pthread.h>

#include <atomic>

namespace uvm {

class ForkBarrier {
 public:
  constexpr ForkBarrier() = default;
  ForkBarrier(const ForkBarrier&) = delete;
  ForkBarrier& operator=(const ForkBarrier&) = delete;

  // Start an operation; returns the slot to give to leave().
  unsigned enter();
  void leave(unsigned slot) { slots_[slot].active.fetch_sub(1, std::memory_order_release); }

  // Wait for the operations in flight and hold new ones off until unlock().
  void lock();
  void unlock();
  // In a fork child: it has one thread, and the writer's lock belongs to a
  // thread id of the parent's, so start afresh instead of unlocking.
  void reset_in_child();

 private:
  // Slots by CPU number modulo kSlots; two CPUs sharing one only share a line.
  static constexpr unsigned kSlots = 256;
  struct alignas(128) slot {  // 128: the adjacent-line prefetcher pairs lines
    std::atomic<long> active{0};
  };
  slot slots_[kSlots];
  std::atomic<bool> writer_{false};
  pthread_mutex_t writer_lock_ = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace uvm
