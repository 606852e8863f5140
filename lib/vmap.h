// vmap: the vmalloc space and who owns which part of it (mm/vmalloc.c's
// vmap_area trees). Pure bookkeeping over a range of addresses: nothing here
// maps memory, so the trees can be tested on any range.
//
// Every address of the space is in exactly one of:
//  - the free tree (free_tree.h): free areas, lowest fit in O(log n);
//  - the busy tree: live areas, sorted by va_start;
//  - neither, for a moment inside alloc() (cut from the free tree, not yet in
//    the busy tree: the two trees have separate locks) and between
//    unlink_busy() and free_area() (the lazy-purge window of the layer above).
//    So check(true) only holds while no other thread is allocating.
// Free areas never touch: freeing merges with both neighbours.
//
// A busy area is live or parked. Parked areas belong to the layer above
// (lazily freed blocks waiting for reuse or purge): they stay in the busy
// tree, but find(), classify(), unlink_busy() and the walks pass over them
// as if they were not there. park() and unpark() flip the state word with
// one compare-and-swap and no lock, and lookup() finds the area starting at
// an address through a flat index of the space (one slot per page, touched
// only where areas start: mimalloc's segment map, tcmalloc's pagemap), so
// a free and the reuse of a lazy area take no lock of this layer at all.
//
// Locks: free_lock_ guards the free tree; busy_lock_ guards the busy tree,
// the index slots and the busy counters (parked areas included). The state
// words are atomic: written under busy_lock_ when an area is linked or
// unlinked, and by park()/unpark() without it. Order: busy_lock_, then
// free_lock_.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "free_tree.h"
#include "rbtree.h"

namespace uvm {

struct vmap_stats {
  size_t busy_areas;
  size_t busy_bytes;
  size_t free_areas;
  size_t free_bytes;
  size_t largest_free;
};

class VmSpace {
 public:
  VmSpace() = default;
  VmSpace(const VmSpace&) = delete;
  VmSpace& operator=(const VmSpace&) = delete;
  ~VmSpace();

  // Manage [start, start + size), both page aligned; maps nothing.
  int init_range(uintptr_t start, size_t size);
  // Reserve a PROT_NONE range of `size` bytes (halving down to `min_size`
  // when RLIMIT_AS or the kernel refuses) and manage it. The range is never
  // given back, so no other mmap can land in a freed hole.
  int reserve(size_t size, size_t min_size, size_t align);

  // Lowest-addressed free range of `size` bytes (rounded up to pages) whose
  // start is `align`-aligned and which lies within [vstart, vend). The result
  // is linked in the busy tree. Returns UVM_OK and sets *out, or a uvm_status.
  int alloc(size_t size, size_t align, uintptr_t vstart, uintptr_t vend, vmap_area** out);
  int alloc(size_t size, size_t align, vmap_area** out) {
    return alloc(size, align, start_, end_, out);
  }

  // Take exactly [start, start + size) (page aligned) if it is all free, e.g.
  // to grow an area in place. The result is linked in the busy tree.
  int alloc_fixed(uintptr_t start, size_t size, vmap_area** out);

  // Grow busy area `va` in place by the `extra` bytes (page multiple) after
  // it, if they are free.
  int grow_busy(vmap_area* va, size_t extra);

  // Take the busy area starting at `addr` out of the busy tree. The area is
  // then in neither tree until free_area(). Returns UVM_ENOTALLOC,
  // UVM_EINTERIOR or UVM_EFOREIGN for an address that starts no busy area.
  int unlink_busy(uintptr_t addr, vmap_area** out);
  // The same, but only an area whose flags are `flags` (else UVM_EWRONGKIND),
  // or of any kind for kAnyKind.
  static constexpr unsigned kAnyKind = ~0u;
  int unlink_busy(uintptr_t addr, unsigned flags, vmap_area** out);
  // Return an unlinked area to the free tree, merging with its neighbours.
  void free_area(vmap_area* va);
  // unlink_busy() + free_area().
  int free(uintptr_t addr);

  // Busy area containing `addr`, or null. The result is only stable while
  // the caller owns the area.
  vmap_area* find(uintptr_t addr) const;
  // find() that gives up rather than wait for the lock (signal handlers);
  // copies the area. False when busy or not found.
  bool try_find(uintptr_t addr, vmap_area* out) const {
    if (!busy_lock_.try_lock()) return false;
    vmap_area* va = find_busy_locked(addr);
    if (va != nullptr) *out = *va;
    busy_lock_.unlock();
    return va != nullptr;
  }
  // Classify `addr` as free_area() would: UVM_OK if a busy area starts there.
  int classify(uintptr_t addr, vmap_area* out_area) const;

  bool contains(uintptr_t addr) const { return addr >= start_ && addr < end_; }
  uintptr_t start() const { return start_; }
  uintptr_t end() const { return end_; }
  size_t size() const { return end_ - start_; }
  vmap_stats stats() const;

  // Put an area taken by unlink_busy() back in the busy tree as it was.
  void relink_busy(vmap_area* va);

  // The busy area (live or parked) that starts at `addr`, or null; no lock.
  // Only a hint until park() confirms it: the area may be unlinked and its
  // record reused meanwhile (records are never unmapped).
  vmap_area* lookup(uintptr_t addr) const;
  // Live -> parked, when `va` is still the live area starting at `addr`
  // (compare-and-swap of the state word, so of two frees only one wins).
  static bool park(vmap_area* va, uintptr_t addr) {
    uintptr_t live = addr | kLive;
    return std::atomic_ref<uintptr_t>(va->state).compare_exchange_strong(live, addr | kParked,
                                                                         std::memory_order_acquire);
  }
  // Parked -> live: the layer above hands the area out again.
  static void unpark(vmap_area* va) {
    std::atomic_ref<uintptr_t>(va->state).store(va->va_start | kLive, std::memory_order_release);
  }
  // True when `va` is the live area starting at `addr`.
  static bool live(const vmap_area& va, uintptr_t addr) {
    return std::atomic_ref<uintptr_t>(const_cast<uintptr_t&>(va.state))
               .load(std::memory_order_acquire) == (addr | kLive);
  }
  static bool parked(const vmap_area& va) {
    return std::atomic_ref<uintptr_t>(const_cast<uintptr_t&>(va.state))
               .load(std::memory_order_acquire) == (va.va_start | kParked);
  }
  // Take a parked area out of the busy tree (a purge); then free_area().
  void unlink_parked(vmap_area* va);

  // Call fn(area) for live areas starting at or above `from`, in address
  // order, under the busy lock, while fn returns true. Returns the va_start of
  // the last area visited plus one, or 0 when the end was reached. `fn` must
  // not call back into this VmSpace.
  template <typename Fn>
  uintptr_t for_each_busy_from(uintptr_t from, Fn&& fn) const {
    std::lock_guard<std::mutex> g(busy_lock_);
    for (rb_node* n = lower_bound_locked(from); n != nullptr; n = rb_next(n)) {
      const vmap_area& va = *rb_entry(n, vmap_area, rb);
      if (parked(va)) continue;
      if (!fn(va)) return va.va_start + 1;
    }
    return 0;
  }

  // fork(): hold both locks, and walk the live areas while holding them.
  void lock_all() {
    busy_lock_.lock();
    free_lock_.lock();
  }
  void unlock_all() {
    free_lock_.unlock();
    busy_lock_.unlock();
  }
  template <typename Fn>
  void for_each_busy_locked(Fn&& fn) const {
    for (rb_node* n = rb_first(&busy_root_); n != nullptr; n = rb_next(n))
      if (!parked(*rb_entry(n, vmap_area, rb))) fn(*rb_entry(n, vmap_area, rb));
  }

  // Check every invariant (tree shape, order, subtree_max_size, list, merging,
  // state words and index, and that busy + free tile the space when nothing
  // is unlinked). *parked_areas (if given) gets how many are parked. Returns
  // an empty string, or what is broken.
  std::string check(bool expect_tiled = true, size_t* parked_areas = nullptr) const;

 private:
  static size_t index_bytes(size_t size);
  static constexpr uintptr_t kLive = 1, kParked = 2;
  void erase_busy(vmap_area* va);
  vmap_area** slot(uintptr_t addr) const { return index_ + ((addr - start_) >> 12); }
  int link_busy(uintptr_t start, size_t size, vmap_area* busy, vmap_area** out);
  void insert_busy(vmap_area* va);
  vmap_area* find_busy_locked(uintptr_t addr) const;
  rb_node* lower_bound_locked(uintptr_t addr) const;

  uintptr_t start_ = 0;
  uintptr_t end_ = 0;
  bool reserved_ = false;  // start_..end_ was mapped by reserve()

  mutable std::mutex free_lock_;  // the free tree
  FreeAreaTree free_;

  mutable std::mutex busy_lock_;  // busy tree
  rb_root busy_root_;
  size_t busy_areas_ = 0;
  size_t busy_bytes_ = 0;
  // The busy area starting at each page of the space, or null (slots are
  // written under busy_lock_ and read with atomic_ref); null itself where
  // the index could not be mapped, and lookup() then takes the busy lock.
  vmap_area** index_ = nullptr;
  size_t indexed_ = 0;  // slots that are set
};

}  // namespace uvm
