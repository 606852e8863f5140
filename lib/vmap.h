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
#pragma once

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
  // The same, but only an area whose flags are `flags` (else UVM_EWRONGKIND).
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

  // Call fn(area) for busy areas starting at or above `from`, in address
  // order, under the busy lock, while fn returns true. Returns the va_start of
  // the last area visited plus one, or 0 when the end was reached. `fn` must
  // not call back into this VmSpace.
  template <typename Fn>
  uintptr_t for_each_busy_from(uintptr_t from, Fn&& fn) const {
    std::lock_guard<std::mutex> g(busy_lock_);
    for (rb_node* n = lower_bound_locked(from); n != nullptr; n = rb_next(n)) {
      const vmap_area& va = *rb_entry(n, vmap_area, rb);
      if (!fn(va)) return va.va_start + 1;
    }
    return 0;
  }

  // fork(): hold both locks, and walk the busy areas while holding them.
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
      fn(*rb_entry(n, vmap_area, rb));
  }

  // Check every invariant (tree shape, order, subtree_max_size, list, merging,
  // and that busy + free tile the space when nothing is unlinked). Returns an
  // empty string, or what is broken.
  std::string check(bool expect_tiled = true) const;

 private:
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
};

}  // namespace uvm
