// live_peak: the most bytes that were live lately, which the caches (lazy
// areas, warm pool pages) are sized by. What a program frees below a recent
// peak it will most likely ask for again, so keeping that much cached saves
// faulting it in again while adding nothing to the peak footprint; what it
// frees at its peak is not kept.
//
// "Lately": the larger of the current window's peak and the last one's; a
// window is `window_ms` long (decay_ms: pages unused that long go back
// anyway). Lock-free and approximate: racing updates may lose a raise or a
// turn of the window, never by more than one call's bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uvm {

class LivePeak {
 public:
  // `live` bytes are live now (the hot path: one load, and a store only at
  // a new peak).
  void raise(size_t live) {
    size_t cur = cur_.load(std::memory_order_relaxed);
    while (live > cur && !cur_.compare_exchange_weak(cur, live, std::memory_order_relaxed)) {
    }
  }

  // The recent peak, `live` bytes being live at `now_ms`.
  size_t get(size_t live, uint64_t now_ms, uint64_t window_ms) {
    uint64_t start = start_.load(std::memory_order_relaxed);
    if (now_ms - start >= window_ms &&
        start_.compare_exchange_strong(start, now_ms, std::memory_order_relaxed)) {
      prev_.store(cur_.load(std::memory_order_relaxed), std::memory_order_relaxed);
      cur_.store(live, std::memory_order_relaxed);
    }
    raise(live);
    size_t cur = cur_.load(std::memory_order_relaxed);
    size_t prev = prev_.load(std::memory_order_relaxed);
    return cur > prev ? cur : prev;
  }

 private:
  std::atomic<size_t> cur_{0};   // peak of the current window
  std::atomic<size_t> prev_{0};  // peak of the last one
  std::atomic<uint64_t> start_{0};
};

}  // namespace uvm
