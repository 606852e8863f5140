#include "purge_worker.h"

#include "pal.h"

namespace uvm {

void PurgeWorker::start() {
  if (in_child_) {
    round_inline();
    return;
  }
  bool idle = false;
  if (!running_.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) return;
  if (!pal::start_thread(&PurgeWorker::main, this, "uvm-purge")) {
    // No thread (a seccomp filter, RLIMIT_NPROC): cached memory then goes
    // back on later calls only; try again next time.
    running_.store(false, std::memory_order_release);
    return;
  }
  starts_.fetch_add(1, std::memory_order_relaxed);
}

// The child's rounds: one per period, on whichever call comes first.
void PurgeWorker::round_inline() {
  uint64_t now = pal::coarse_ns();
  uint64_t last = last_round_ns_.load(std::memory_order_relaxed);
  if (now - last < period_ms_ * 1000000) return;
  if (!last_round_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  work_();
}

void* PurgeWorker::main(void* arg) {
  auto* self = static_cast<PurgeWorker*>(arg);
  for (;;) {
    pal::sleep_ms(self->period_ms_);
    if (self->work_()) continue;
    // Nothing cached: stop, unless an operation cached something after the
    // work looked and saw our flag still set (then it did not start one).
    self->running_.store(false, std::memory_order_seq_cst);
    if (!self->work_()) return nullptr;
    bool idle = false;
    if (!self->running_.compare_exchange_strong(idle, true, std::memory_order_acq_rel))
      return nullptr;  // another thread took over
  }
}

}  // namespace uvm
