// free_tree: the kernel's free_vmap_area_root + free_vmap_area_list. Free
// areas sorted by va_start in an augmented red-black tree whose nodes keep
// their subtree's largest size (subtree_max_size), and chained in address
// order so an insert finds both neighbours in O(1). Adjacent areas are always
// merged. Not locked: the owner (VmSpace, the page pool) serialises access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "meta.h"
#include "rbtree.h"

namespace uvm {

struct vmap_area {
  uintptr_t va_start;
  uintptr_t va_end;
  rb_node rb;  // in a free tree or the busy tree
  // Free areas: address-ordered neighbours.
  vmap_area* prev;
  vmap_area* next;
  // Free areas: largest va_end - va_start in this node's subtree.
  uintptr_t subtree_max_size;
  // Free areas: when the area's pages were freed (the page pool's decay
  // clock): a merge keeps the older stamp, so no page looks younger than it
  // is, and only neighbours of about the same age merge
  // (FreeAreaTree::set_merge_window).
  uint64_t stamp;
  // Busy areas: the record of the layer above (vm_struct), or null, and its
  // kind (the kernel's va->flags: vmalloc, vmap, vm_map_ram block).
  void* vm;
  unsigned flags;
  // Busy areas: va_start | VA_LIVE, or va_start | VA_PARKED while the layer
  // above holds it lazily freed; 0 elsewhere (vmap.h). Read and written with
  // std::atomic_ref, so a free can claim its area without the busy lock.
  uintptr_t state;

  size_t size() const { return va_end - va_start; }
};

// Node cache shared by every tree (the kernel's vmap_area_cachep).
kmem_cache_of<vmap_area>& vmap_area_cache();

class FreeAreaTree {
 public:
  FreeAreaTree() = default;
  FreeAreaTree(const FreeAreaTree&) = delete;
  FreeAreaTree& operator=(const FreeAreaTree&) = delete;
  ~FreeAreaTree();

  // Lowest `align`-aligned start of `size` bytes within [vstart, vend); the
  // range is cut out of the tree (the four fit types of va_clip). Returns
  // UVM_OK, UVM_ENOSPC, or UVM_ENOMEM when a split needs a node it cannot get.
  int alloc(size_t size, size_t align, uintptr_t vstart, uintptr_t vend, uintptr_t* out);
  // Cut exactly [start, start + size) out if all of it is free (in one
  // area or in touching ones).
  int alloc_fixed(uintptr_t start, size_t size);
  // Neighbours merge only when their stamps are at most `window` apart
  // (default: always). The page pool's warm tree keeps pages freed at
  // different times apart: a merged area decays on its oldest stamp, so a
  // page reused over and over neither keeps its long idle neighbours nor
  // goes with them.
  void set_merge_window(uint64_t window) { merge_window_ = window; }
  // Add `va` (overlapping no free area), merging with its neighbours; the
  // tree owns the node afterwards.
  void insert(vmap_area* va);
  // insert() of a fresh node; UVM_ENOMEM when no node can be had.
  int insert_range(uintptr_t start, uintptr_t end, uint64_t stamp = 0);
  // Remove a whole area; the caller gets the node.
  void erase(vmap_area* va);

  vmap_area* first() const { return head_; }
  vmap_area* last() const;
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }
  size_t largest() const;

  // Invariants: tree shape, order, no overlap, merged (without a window), exact
  // subtree_max_size, list = in-order walk, counters, all within [lo, hi).
  std::string check(uintptr_t lo, uintptr_t hi) const;

 private:
  vmap_area* find_lowest_match(size_t size, size_t align, uintptr_t vstart) const;
  int clip(vmap_area* va, uintptr_t nva_start, size_t size);
  void insert_after(vmap_area* va, vmap_area* lva);
  bool within_window(const vmap_area* a, const vmap_area* b) const {
    return (a->stamp > b->stamp ? a->stamp - b->stamp : b->stamp - a->stamp) <= merge_window_;
  }
  bool mergeable(const vmap_area* a, const vmap_area* b) const {
    return a->va_end == b->va_start && within_window(a, b);
  }

  rb_root root_;
  vmap_area* head_ = nullptr;
  size_t count_ = 0;
  size_t bytes_ = 0;
  uint64_t merge_window_ = UINT64_MAX;
};

}  // namespace uvm
