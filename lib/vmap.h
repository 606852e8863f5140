// vmap: the vmalloc space and who owns which part of it (mm/vmalloc.c's
// vmap_area trees). Pure bookkeeping over a range of addresses: nothing here
// maps memory, so the trees can be tested on any range.
//
// Every address of the space is in exactly one of:
//  - the free tree: free areas, sorted by va_start, augmented with each
//    subtree's largest free size (subtree_max_size), and also chained in
//    address order (prev/next) so a free finds its neighbours in O(1);
//  - the busy tree: live areas, sorted by va_start;
//  - neither, between unlink_busy() and free_area() (the lazy-purge window of
//    the layer above).
// Free areas never touch: freeing merges with both neighbours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "meta.h"
#include "rbtree.h"

namespace uvm {

struct vmap_area {
  uintptr_t va_start;
  uintptr_t va_end;
  rb_node rb;  // in the free tree or the busy tree
  // Free areas: address-ordered neighbours. Busy areas: unused.
  vmap_area* prev;
  vmap_area* next;
  // Free areas: largest va_end - va_start in this node's subtree.
  uintptr_t subtree_max_size;
  // Busy areas: the record of the layer above (vm_struct), or null.
  void* vm;

  size_t size() const { return va_end - va_start; }
};

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

  // Take the busy area starting at `addr` out of the busy tree. The area is
  // then in neither tree until free_area(). Returns UVM_ENOTALLOC,
  // UVM_EINTERIOR or UVM_EFOREIGN for an address that starts no busy area.
  int unlink_busy(uintptr_t addr, vmap_area** out);
  // Return an unlinked area to the free tree, merging with its neighbours.
  void free_area(vmap_area* va);
  // unlink_busy() + free_area().
  int free(uintptr_t addr);

  // Busy area containing `addr`, or null. The result is only stable while
  // the caller owns the area.
  vmap_area* find(uintptr_t addr) const;
  // Classify `addr` as free_area() would: UVM_OK if a busy area starts there.
  int classify(uintptr_t addr, vmap_area* out_area) const;

  bool contains(uintptr_t addr) const { return addr >= start_ && addr < end_; }
  uintptr_t start() const { return start_; }
  uintptr_t end() const { return end_; }
  size_t size() const { return end_ - start_; }
  vmap_stats stats() const;

  // Visit busy areas in address order under the busy lock; `fn` must not
  // call back into this VmSpace.
  template <typename Fn>
  void for_each_busy(Fn&& fn) const {
    std::lock_guard<std::mutex> g(busy_lock_);
    for (rb_node* n = rb_first(&busy_root_); n != nullptr; n = rb_next(n))
      fn(*rb_entry(n, vmap_area, rb));
  }

  // Check every invariant (tree shape, order, subtree_max_size, list, merging,
  // and that busy + free tile the space when nothing is unlinked). Returns an
  // empty string, or what is broken.
  std::string check(bool expect_tiled = true) const;

 private:
  vmap_area* find_lowest_match(size_t size, size_t align, uintptr_t vstart) const;
  int clip(vmap_area* va, uintptr_t nva_start, size_t size);
  void insert_free_after(vmap_area* va, vmap_area* lva);
  void erase_free(vmap_area* va);
  void insert_busy(vmap_area* va);
  vmap_area* find_busy_locked(uintptr_t addr) const;

  uintptr_t start_ = 0;
  uintptr_t end_ = 0;
  bool reserved_ = false;  // start_..end_ was mapped by reserve()

  mutable std::mutex free_lock_;  // free tree and free list
  rb_root free_root_;
  vmap_area* free_head_ = nullptr;
  size_t free_areas_ = 0;

  mutable std::mutex busy_lock_;  // busy tree
  rb_root busy_root_;
  size_t busy_areas_ = 0;
  size_t busy_bytes_ = 0;
};

// Node cache shared by every VmSpace (the kernel's vmap_area_cachep).
kmem_cache_of<vmap_area>& vmap_area_cache();

}  // namespace uvm
