#include "fork_barrier.h"

#include <sched.h>

#include "pal.h"

namespace uvm {

unsigned ForkBarrier::enter() {
  for (;;) {
    unsigned s = pal::current_cpu() % kSlots;
    slots_[s].active.fetch_add(1, std::memory_order_seq_cst);
    if (!writer_.load(std::memory_order_seq_cst)) return s;
    leave(s);
    // A fork is on its way: wait until it is done.
    pthread_mutex_lock(&writer_lock_);
    pthread_mutex_unlock(&writer_lock_);
  }
}

void ForkBarrier::lock() {
  pthread_mutex_lock(&writer_lock_);
  writer_.store(true, std::memory_order_seq_cst);
  for (slot& s : slots_)
    while (s.active.load(std::memory_order_seq_cst) != 0) sched_yield();
}

void ForkBarrier::unlock() {
  writer_.store(false, std::memory_order_seq_cst);
  pthread_mutex_unlock(&writer_lock_);
}

void ForkBarrier::reset_in_child() {
  for (slot& s : slots_) s.active.store(0, std::memory_order_relaxed);
  writer_.store(false, std::memory_order_relaxed);
  writer_lock_ = PTHREAD_MUTEX_INITIALIZER;
}

}  // namespace uvm
