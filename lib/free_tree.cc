#include "free_tree.h"

#include <algorithm>
#include <cstdio>

#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

vmap_area* va_of(rb_node* n) {
  return n == nullptr ? nullptr : rb_entry(n, vmap_area, rb);
}

uintptr_t subtree_max(rb_node* n) {
  return n == nullptr ? 0 : va_of(n)->subtree_max_size;
}

void update_subtree_max(rb_node* n) {
  vmap_area* va = va_of(n);
  va->subtree_max_size = std::max({va->size(), subtree_max(n->left), subtree_max(n->right)});
}

constexpr rb_augment kAugment = {update_subtree_max};

// Aligned start inside `va` at or above `vstart`, if `size` fits there.
bool is_within_this_va(const vmap_area* va, size_t size, size_t align, uintptr_t vstart,
                       uintptr_t* nva_start) {
  uintptr_t base = std::max(va->va_start, vstart);
  uintptr_t nva = (base + align - 1) & ~(align - 1);
  if (nva < base || nva + size < nva) return false;  // wrapped
  if (nva + size > va->va_end) return false;
  *nva_start = nva;
  return true;
}

}  // namespace

kmem_cache_of<vmap_area>& vmap_area_cache() {
  static kmem_cache_of<vmap_area> cache("vmap_area");
  return cache;
}

FreeAreaTree::~FreeAreaTree() {
  while (head_ != nullptr) {
    vmap_area* va = head_;
    erase(va);
    vmap_area_cache().free(va);
  }
}

size_t FreeAreaTree::largest() const {
  return subtree_max(root_.node);
}

vmap_area* FreeAreaTree::last() const {
  return va_of(rb_last(&root_));
}

// The descent of the kernel's find_vmap_lowest_match(): go left while the left
// subtree may hold a fit above vstart; otherwise try this node, then the right
// subtree; when stuck, climb and resume at the first ancestor entered from the
// left. Pruning uses the exact size (not size + align - 1), so the result is
// the lowest fit even for large alignments.
vmap_area* FreeAreaTree::find_lowest_match(size_t size, size_t align, uintptr_t vstart) const {
  rb_node* node = root_.node;
  uintptr_t nva;
  while (node != nullptr) {
    vmap_area* va = va_of(node);
    if (subtree_max(node->left) >= size && vstart < va->va_start) {
      node = node->left;
      continue;
    }
    if (is_within_this_va(va, size, align, vstart, &nva)) return va;
    if (subtree_max(node->right) >= size) {
      node = node->right;
      continue;
    }
    for (;;) {
      rb_node* child = node;
      node = node->parent;
      if (node == nullptr) return nullptr;
      if (node->left != child) continue;  // came from the right: already done
      va = va_of(node);
      if (is_within_this_va(va, size, align, vstart, &nva)) return va;
      if (subtree_max(node->right) >= size) {
        node = node->right;
        break;
      }
    }
  }
  return nullptr;
}

void FreeAreaTree::erase(vmap_area* va) {
  rb_erase(&va->rb, &root_, &kAugment);
  if (va->prev != nullptr)
    va->prev->next = va->next;
  else
    head_ = va->next;
  if (va->next != nullptr) va->next->prev = va->prev;
  va->prev = va->next = nullptr;
  --count_;
  bytes_ -= va->size();
}

// Link `lva` as the in-order successor of `va`.
void FreeAreaTree::insert_after(vmap_area* va, vmap_area* lva) {
  rb_node** link = &va->rb.right;
  rb_node* parent = &va->rb;
  while (*link != nullptr) {
    parent = *link;
    link = &(*link)->left;
  }
  rb_link_node(&lva->rb, parent, link);
  rb_insert_color(&lva->rb, &root_, &kAugment);
  lva->prev = va;
  lva->next = va->next;
  if (va->next != nullptr) va->next->prev = lva;
  va->next = lva;
  ++count_;
}

// Cut [nva_start, nva_start + size) out of `va` (the kernel's va_clip).
int FreeAreaTree::clip(vmap_area* va, uintptr_t nva_start, size_t size) {
  uintptr_t nva_end = nva_start + size;
  bool left = nva_start == va->va_start;
  bool right = nva_end == va->va_end;
  if (left && right) {  // FL_FIT_TYPE: the whole area
    erase(va);
    vmap_area_cache().free(va);
    return UVM_OK;
  }
  if (left) {  // LE_FIT_TYPE: shrink from the left
    va->va_start = nva_end;
    rb_propagate(&va->rb, &kAugment);
  } else if (right) {  // RE_FIT_TYPE: shrink from the right
    va->va_end = nva_start;
    rb_propagate(&va->rb, &kAugment);
  } else {  // NE_FIT_TYPE: split in two
    vmap_area* lva = vmap_area_cache().alloc();
    if (lva == nullptr) return UVM_ENOMEM;
    lva->va_start = nva_end;
    lva->va_end = va->va_end;
    lva->stamp = va->stamp;
    va->va_end = nva_start;
    rb_propagate(&va->rb, &kAugment);
    insert_after(va, lva);
  }
  bytes_ -= size;
  return UVM_OK;
}

int FreeAreaTree::alloc(size_t size, size_t align, uintptr_t vstart, uintptr_t vend,
                        uintptr_t* out) {
  vmap_area* va = find_lowest_match(size, align, vstart);
  uintptr_t nva = 0;
  // The lowest fit above vstart ending past vend means nothing fits.
  if (va == nullptr || !is_within_this_va(va, size, align, vstart, &nva) || nva + size > vend)
    return UVM_ENOSPC;
  int rc = clip(va, nva, size);
  if (rc == UVM_OK) *out = nva;
  return rc;
}

int FreeAreaTree::alloc_fixed(uintptr_t start, size_t size) {
  rb_node* n = root_.node;
  while (n != nullptr) {
    vmap_area* va = va_of(n);
    if (start < va->va_start) {
      n = n->left;
    } else if (start >= va->va_end) {
      n = n->right;
    } else {
      uintptr_t end = start + size;
      if (end < start) return UVM_ENOSPC;
      if (end <= va->va_end) return clip(va, start, size);
      // Free neighbours kept apart by the merge window: all must touch.
      for (const vmap_area* last = va; last->va_end < end; last = last->next)
        if (last->next == nullptr || last->next->va_start != last->va_end) return UVM_ENOSPC;
      // A tail cut, whole areas, a head cut: none needs a new node.
      vmap_area* next = va->next;
      clip(va, start, va->va_end - start);
      for (;;) {
        vmap_area* after = next->next;
        uintptr_t next_end = next->va_end;
        if (next_end > end) return clip(next, next->va_start, end - next->va_start);
        clip(next, next->va_start, next->size());
        if (next_end == end) return UVM_OK;
        next = after;
      }
    }
  }
  return UVM_ENOSPC;
}

// The kernel's merge_or_add_vmap_area(): where `va` would hang in the tree,
// its parent and the list give both neighbours at once.
void FreeAreaTree::insert(vmap_area* va) {
  va->vm = nullptr;
  va->state = 0;
  bytes_ += va->size();
  rb_node** link = &root_.node;
  rb_node* parent = nullptr;
  while (*link != nullptr) {
    parent = *link;
    link = va->va_start < va_of(parent)->va_start ? &parent->left : &parent->right;
  }
  vmap_area* next = nullptr;
  vmap_area* prev = nullptr;
  if (parent != nullptr && link == &parent->left) {
    next = va_of(parent);
    prev = next->prev;
  } else if (parent != nullptr) {
    prev = va_of(parent);
    next = prev->next;
  }

  bool merge_next = next != nullptr && mergeable(va, next);
  bool merge_prev = prev != nullptr && mergeable(prev, va);
  if (merge_prev && merge_next && !within_window(prev, next)) merge_next = false;
  if (merge_prev) {
    uintptr_t end = va->va_end;
    prev->stamp = std::min(prev->stamp, va->stamp);
    if (merge_next) {
      end = next->va_end;
      prev->stamp = std::min(prev->stamp, next->stamp);
      erase(next);
      bytes_ += end - va->va_end;  // erase() uncounted next; its bytes stay free in prev
      vmap_area_cache().free(next);
    }
    prev->va_end = end;
    rb_propagate(&prev->rb, &kAugment);
    vmap_area_cache().free(va);
  } else if (merge_next) {
    next->va_start = va->va_start;
    next->stamp = std::min(next->stamp, va->stamp);
    rb_propagate(&next->rb, &kAugment);
    vmap_area_cache().free(va);
  } else {
    rb_link_node(&va->rb, parent, link);
    rb_insert_color(&va->rb, &root_, &kAugment);
    va->prev = prev;
    va->next = next;
    if (prev != nullptr)
      prev->next = va;
    else
      head_ = va;
    if (next != nullptr) next->prev = va;
    ++count_;
  }
}

int FreeAreaTree::insert_range(uintptr_t start, uintptr_t end, uint64_t stamp) {
  vmap_area* va = vmap_area_cache().alloc();
  if (va == nullptr) return UVM_ENOMEM;
  va->va_start = start;
  va->va_end = end;
  va->stamp = stamp;
  insert(va);
  return UVM_OK;
}

std::string FreeAreaTree::check(uintptr_t lo, uintptr_t hi) const {
  char buf[160];
  if (rb_validate(&root_) < 0) return "free tree is not a valid red-black tree";
  size_t count = 0, bytes = 0;
  const vmap_area* list = head_;
  const vmap_area* last = nullptr;
  for (rb_node* n = rb_first(&root_); n != nullptr; n = rb_next(n), ++count) {
    const vmap_area* va = va_of(n);
    if (va != list) return "free list does not follow the free tree's order";
    if (va->prev != last) return "free list prev link is wrong";
    if (va->va_start >= va->va_end) return "empty or inverted free area";
    if (va->va_start < lo || va->va_end > hi) return "free area outside the space";
    // With a merge window, neighbours may stay apart (a merge moves a stamp).
    bool unmerged = merge_window_ == UINT64_MAX && last != nullptr && mergeable(last, va);
    if (last != nullptr && (last->va_end > va->va_start || unmerged)) {
      std::snprintf(buf, sizeof buf, "free areas overlap or were not merged at %#lx",
                    static_cast<unsigned long>(va->va_start));
      return buf;
    }
    uintptr_t want = std::max({va->size(), subtree_max(n->left), subtree_max(n->right)});
    if (va->subtree_max_size != want) {
      std::snprintf(buf, sizeof buf, "subtree_max_size %#lx, want %#lx at %#lx",
                    static_cast<unsigned long>(va->subtree_max_size),
                    static_cast<unsigned long>(want), static_cast<unsigned long>(va->va_start));
      return buf;
    }
    bytes += va->size();
    last = va;
    list = va->next;
  }
  if (list != nullptr) return "free list is longer than the free tree";
  if (count != count_) return "free area count is wrong";
  if (bytes != bytes_) return "free byte count is wrong";
  return {};
}

}  // namespace uvm
