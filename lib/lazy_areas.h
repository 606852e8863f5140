// lazy_areas: the lazily freed areas of one vmap node (vmap_node.h): still
// mapped to their pages, waiting to be reused or purged. A size bin per
// quarter octave for reuse (size_bins.h), and the order they were freed in
// (oldest first) for the choice of what to purge.
//
// Locking: lock() guards the bins, the free order and the area count; the
// caller takes it around every call but bytes(), which is read without it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "adaptive_mutex.h"
#include "size_bins.h"
#include "vm_struct.h"

namespace uvm {

class LazyAreas {
 public:
  LazyAreas() = default;
  LazyAreas(const LazyAreas&) = delete;
  LazyAreas& operator=(const LazyAreas&) = delete;

  AdaptiveMutex& lock() const { return lock_; }

  // Add `vm` as the newest, freed at `now` (ns).
  void insert(vm_struct* vm, uint64_t now);
  void unlink(vm_struct* vm);
  // The smallest area of at least `size` bytes and at most `limit` for which
  // ok(area) holds, looking at no more than `max_probes` of them; unlinked.
  template <typename Ok>
  vm_struct* take(size_t size, size_t limit, int max_probes, Ok&& ok) {
    vm_struct* vm = bins_.find(size, limit, max_probes, ok);
    if (vm != nullptr) unlink(vm);
    return vm;
  }
  // The oldest area, or null.
  vm_struct* oldest() const { return head_; }
  // Unlink every area; returns them oldest first, linked by lru_next.
  vm_struct* detach_all();
  // Unlink the areas freed before `before` (ns), oldest first, linked by
  // lru_next and appended at *tail (which is moved on); their bytes.
  size_t detach_older(uint64_t before, vm_struct*** tail);

  // Bytes held: exact under the lock, a recent value without it.
  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  size_t areas() const { return areas_; }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const vm_struct* vm = head_; vm != nullptr; vm = vm->lru_next) fn(*vm);
  }
  // Bins, free order and counters agree ("" when they do).
  std::string check() const;

 private:
  mutable AdaptiveMutex lock_;  // taken from any CPU: spins before it sleeps
  SizeBins<vm_struct> bins_;
  vm_struct* head_ = nullptr;  // oldest
  vm_struct* tail_ = nullptr;  // newest
  // Written under lock_; atomic so that bytes() needs no lock.
  std::atomic<size_t> bytes_{0};
  size_t areas_ = 0;
};

}  // namespace uvm
