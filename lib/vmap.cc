#include "vmap.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

vmap_area* va_of(rb_node* n) { return n == nullptr ? nullptr : rb_entry(n, vmap_area, rb); }

uintptr_t subtree_max(rb_node* n) { return n == nullptr ? 0 : va_of(n)->subtree_max_size; }

void update_subtree_max(rb_node* n) {
  vmap_area* va = va_of(n);
  va->subtree_max_size = std::max({va->size(), subtree_max(n->left), subtree_max(n->right)});
}

constexpr rb_augment kFreeAugment = {update_subtree_max};

bool is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

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

VmSpace::~VmSpace() {
  // Return every node to the cache; the reservation itself is kept only for
  // the life of the object that made it.
  auto drain = [](rb_root* root) {
    while (root->node != nullptr) {
      rb_node* n = root->node;
      rb_erase(n, root);
      vmap_area_cache().free(va_of(n));
    }
  };
  drain(&free_root_);
  drain(&busy_root_);
  if (reserved_) pal::unmap(reinterpret_cast<void*>(start_), end_ - start_);
}

int VmSpace::init_range(uintptr_t start, size_t size) {
  if (start_ != end_) return UVM_EINVAL;  // already initialised
  if (size == 0 || start % pal::kPageSize != 0 || size % pal::kPageSize != 0) return UVM_EINVAL;
  if (start + size < start) return UVM_EOVERFLOW;
  vmap_area* va = vmap_area_cache().alloc();
  if (va == nullptr) return UVM_ENOMEM;
  va->va_start = start;
  va->va_end = start + size;
  start_ = start;
  end_ = start + size;
  std::lock_guard<std::mutex> g(free_lock_);
  rb_link_node(&va->rb, nullptr, &free_root_.node);
  rb_insert_color(&va->rb, &free_root_, &kFreeAugment);
  free_head_ = va;
  free_areas_ = 1;
  return UVM_OK;
}

int VmSpace::reserve(size_t size, size_t min_size, size_t align) {
  if (start_ != end_) return UVM_EINVAL;
  size = (size + pal::kPageSize - 1) & ~(pal::kPageSize - 1);
  for (; size >= min_size && size >= pal::kPageSize; size /= 2) {
    void* p = pal::reserve(size, align);
    if (p == nullptr) continue;  // RLIMIT_AS or overcommit refusal: try half
    int rc = init_range(reinterpret_cast<uintptr_t>(p), size);
    if (rc != UVM_OK) {
      pal::unmap(p, size);
      return rc;
    }
    reserved_ = true;
    return UVM_OK;
  }
  return UVM_ENOMEM;
}

// The descent of the kernel's find_vmap_lowest_match(): go left while the left
// subtree may hold a fit above vstart; otherwise try this node, then the right
// subtree; when stuck, climb and resume at the first ancestor whose right
// subtree is big enough, never revisiting addresses below it. The pruning uses
// the exact size, so the result is the lowest fit even for large alignments.
vmap_area* VmSpace::find_lowest_match(size_t size, size_t align, uintptr_t vstart) const {
  rb_node* node = free_root_.node;
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
    // Climb until an ancestor we entered from the left has a usable right side.
    for (;;) {
      rb_node* child = node;
      node = node->parent;
      if (node == nullptr) return nullptr;
      if (node->left != child) continue;  // came from the right: already done
      va = va_of(node);
      if (is_within_this_va(va, size, align, vstart, &nva)) return va;
      if (subtree_max(node->right) >= size) {
        vstart = std::max(vstart, va->va_end);
        node = node->right;
        break;
      }
    }
  }
  return nullptr;
}

void VmSpace::erase_free(vmap_area* va) {
  rb_erase(&va->rb, &free_root_, &kFreeAugment);
  if (va->prev != nullptr)
    va->prev->next = va->next;
  else
    free_head_ = va->next;
  if (va->next != nullptr) va->next->prev = va->prev;
  va->prev = va->next = nullptr;
  --free_areas_;
}

// Link `lva` as the in-order successor of `va` (they are adjacent in the list).
void VmSpace::insert_free_after(vmap_area* va, vmap_area* lva) {
  rb_node** link = &va->rb.right;
  rb_node* parent = &va->rb;
  while (*link != nullptr) {
    parent = *link;
    link = &(*link)->left;
  }
  rb_link_node(&lva->rb, parent, link);
  rb_insert_color(&lva->rb, &free_root_, &kFreeAugment);
  lva->prev = va;
  lva->next = va->next;
  if (va->next != nullptr) va->next->prev = lva;
  va->next = lva;
  ++free_areas_;
}

// Cut [nva_start, nva_start + size) out of free area `va` (the kernel's
// va_clip with its four fit types).
int VmSpace::clip(vmap_area* va, uintptr_t nva_start, size_t size) {
  uintptr_t nva_end = nva_start + size;
  bool left = nva_start == va->va_start;
  bool right = nva_end == va->va_end;
  if (left && right) {  // FL_FIT_TYPE: the whole area
    erase_free(va);
    vmap_area_cache().free(va);
  } else if (left) {  // LE_FIT_TYPE: shrink from the left
    va->va_start = nva_end;
    rb_propagate(&va->rb, &kFreeAugment);
  } else if (right) {  // RE_FIT_TYPE: shrink from the right
    va->va_end = nva_start;
    rb_propagate(&va->rb, &kFreeAugment);
  } else {  // NE_FIT_TYPE: split in two
    vmap_area* lva = vmap_area_cache().alloc();
    if (lva == nullptr) return UVM_ENOMEM;
    lva->va_start = nva_end;
    lva->va_end = va->va_end;
    va->va_end = nva_start;
    rb_propagate(&va->rb, &kFreeAugment);
    insert_free_after(va, lva);
  }
  return UVM_OK;
}

void VmSpace::insert_busy(vmap_area* va) {
  rb_node** link = &busy_root_.node;
  rb_node* parent = nullptr;
  while (*link != nullptr) {
    parent = *link;
    link = va->va_start < va_of(parent)->va_start ? &parent->left : &parent->right;
  }
  rb_link_node(&va->rb, parent, link);
  rb_insert_color(&va->rb, &busy_root_);
  ++busy_areas_;
  busy_bytes_ += va->size();
}

int VmSpace::alloc(size_t size, size_t align, uintptr_t vstart, uintptr_t vend,
                   vmap_area** out) {
  *out = nullptr;
  if (size == 0 || !is_pow2(align)) return UVM_EINVAL;
  size_t rounded = (size + pal::kPageSize - 1) & ~(pal::kPageSize - 1);
  if (rounded < size) return UVM_EOVERFLOW;
  size = rounded;
  if (align < pal::kPageSize) align = pal::kPageSize;
  vstart = std::max(vstart, start_);
  vend = std::min(vend, end_);
  if (vstart >= vend) return UVM_EINVAL;
  if (size > vend - vstart) return UVM_ENOSPC;

  vmap_area* busy = vmap_area_cache().alloc();
  if (busy == nullptr) return UVM_ENOMEM;
  {
    std::lock_guard<std::mutex> g(free_lock_);
    vmap_area* va = find_lowest_match(size, align, vstart);
    uintptr_t nva = 0;
    int rc = UVM_ENOSPC;
    if (va != nullptr) {
      is_within_this_va(va, size, align, vstart, &nva);
      // Lowest fit above vstart ends past vend: nothing higher can do better.
      if (nva + size <= vend) rc = clip(va, nva, size);
    }
    if (rc != UVM_OK) {
      vmap_area_cache().free(busy);
      return rc;
    }
    busy->va_start = nva;
    busy->va_end = nva + size;
  }
  std::lock_guard<std::mutex> g(busy_lock_);
  insert_busy(busy);
  *out = busy;
  return UVM_OK;
}

vmap_area* VmSpace::find_busy_locked(uintptr_t addr) const {
  rb_node* n = busy_root_.node;
  while (n != nullptr) {
    vmap_area* va = va_of(n);
    if (addr < va->va_start)
      n = n->left;
    else if (addr >= va->va_end)
      n = n->right;
    else
      return va;
  }
  return nullptr;
}

vmap_area* VmSpace::find(uintptr_t addr) const {
  std::lock_guard<std::mutex> g(busy_lock_);
  return find_busy_locked(addr);
}

int VmSpace::classify(uintptr_t addr, vmap_area* out_area) const {
  if (!contains(addr)) return UVM_EFOREIGN;
  std::lock_guard<std::mutex> g(busy_lock_);
  vmap_area* va = find_busy_locked(addr);
  if (va == nullptr) return UVM_ENOTALLOC;
  if (out_area != nullptr) *out_area = *va;
  return va->va_start == addr ? UVM_OK : UVM_EINTERIOR;
}

int VmSpace::unlink_busy(uintptr_t addr, vmap_area** out) {
  *out = nullptr;
  if (!contains(addr)) return UVM_EFOREIGN;
  std::lock_guard<std::mutex> g(busy_lock_);
  vmap_area* va = find_busy_locked(addr);
  if (va == nullptr) return UVM_ENOTALLOC;
  if (va->va_start != addr) return UVM_EINTERIOR;
  rb_erase(&va->rb, &busy_root_);
  --busy_areas_;
  busy_bytes_ -= va->size();
  *out = va;
  return UVM_OK;
}

// The kernel's merge_or_add_vmap_area(): find where `va` would hang in the free
// tree; its parent and the list give both neighbours at once.
void VmSpace::free_area(vmap_area* va) {
  va->vm = nullptr;
  std::lock_guard<std::mutex> g(free_lock_);
  rb_node** link = &free_root_.node;
  rb_node* parent = nullptr;
  while (*link != nullptr) {
    parent = *link;
    link = va->va_start < va_of(parent)->va_start ? &parent->left : &parent->right;
  }
  vmap_area* next;
  vmap_area* prev;
  if (parent == nullptr) {
    next = prev = nullptr;
  } else if (link == &parent->left) {
    next = va_of(parent);
    prev = next->prev;
  } else {
    prev = va_of(parent);
    next = prev->next;
  }

  bool merge_next = next != nullptr && next->va_start == va->va_end;
  bool merge_prev = prev != nullptr && prev->va_end == va->va_start;
  if (merge_next && merge_prev) {
    uintptr_t end = next->va_end;
    erase_free(next);
    vmap_area_cache().free(next);
    prev->va_end = end;
    rb_propagate(&prev->rb, &kFreeAugment);
    vmap_area_cache().free(va);
  } else if (merge_next) {
    next->va_start = va->va_start;
    rb_propagate(&next->rb, &kFreeAugment);
    vmap_area_cache().free(va);
  } else if (merge_prev) {
    prev->va_end = va->va_end;
    rb_propagate(&prev->rb, &kFreeAugment);
    vmap_area_cache().free(va);
  } else {
    rb_link_node(&va->rb, parent, link);
    rb_insert_color(&va->rb, &free_root_, &kFreeAugment);
    va->prev = prev;
    va->next = next;
    if (prev != nullptr)
      prev->next = va;
    else
      free_head_ = va;
    if (next != nullptr) next->prev = va;
    ++free_areas_;
  }
}

int VmSpace::free(uintptr_t addr) {
  vmap_area* va;
  int rc = unlink_busy(addr, &va);
  if (rc == UVM_OK) free_area(va);
  return rc;
}

vmap_stats VmSpace::stats() const {
  vmap_stats s{};
  {
    std::lock_guard<std::mutex> g(busy_lock_);
    s.busy_areas = busy_areas_;
    s.busy_bytes = busy_bytes_;
  }
  std::lock_guard<std::mutex> g(free_lock_);
  s.free_areas = free_areas_;
  for (vmap_area* va = free_head_; va != nullptr; va = va->next) s.free_bytes += va->size();
  s.largest_free = subtree_max(free_root_.node);
  return s;
}

std::string VmSpace::check(bool expect_tiled) const {
  std::lock_guard<std::mutex> gb(busy_lock_);
  std::lock_guard<std::mutex> gf(free_lock_);
  char buf[160];
  if (rb_validate(&free_root_) < 0) return "free tree is not a valid red-black tree";
  if (rb_validate(&busy_root_) < 0) return "busy tree is not a valid red-black tree";

  // Free tree: in-order walk equals the list, areas ordered and never touching,
  // and subtree_max_size exact at every node.
  size_t count = 0;
  const vmap_area* list = free_head_;
  const vmap_area* last = nullptr;
  for (rb_node* n = rb_first(&free_root_); n != nullptr; n = rb_next(n), ++count) {
    const vmap_area* va = va_of(n);
    if (va != list) return "free list does not follow the free tree's order";
    if (va->prev != last) return "free list prev link is wrong";
    if (va->va_start >= va->va_end) return "empty or inverted free area";
    if (va->va_start < start_ || va->va_end > end_) return "free area outside the space";
    if (last != nullptr && last->va_end >= va->va_start) {
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
    last = va;
    list = va->next;
  }
  if (list != nullptr) return "free list is longer than the free tree";
  if (count != free_areas_) return "free area count is wrong";

  // Busy tree: ordered, non-overlapping, counted.
  size_t busy = 0, bytes = 0;
  const vmap_area* prev_busy = nullptr;
  for (rb_node* n = rb_first(&busy_root_); n != nullptr; n = rb_next(n)) {
    const vmap_area* va = va_of(n);
    if (va->va_start >= va->va_end) return "empty or inverted busy area";
    if (va->va_start < start_ || va->va_end > end_) return "busy area outside the space";
    if (prev_busy != nullptr && prev_busy->va_end > va->va_start) return "busy areas overlap";
    ++busy;
    bytes += va->size();
    prev_busy = va;
  }
  if (busy != busy_areas_ || bytes != busy_bytes_) return "busy counters are wrong";

  // Busy and free areas must not overlap; with nothing unlinked they tile.
  rb_node* f = rb_first(&free_root_);
  rb_node* b = rb_first(&busy_root_);
  uintptr_t pos = start_;
  while (f != nullptr || b != nullptr) {
    const vmap_area* va;
    if (b == nullptr || (f != nullptr && va_of(f)->va_start < va_of(b)->va_start)) {
      va = va_of(f);
      f = rb_next(f);
    } else {
      va = va_of(b);
      b = rb_next(b);
    }
    if (va->va_start < pos) return "a busy area overlaps a free area";
    if (expect_tiled && va->va_start != pos) {
      std::snprintf(buf, sizeof buf, "hole at %#lx: busy + free do not tile the space",
                    static_cast<unsigned long>(pos));
      return buf;
    }
    pos = va->va_end;
  }
  if (expect_tiled && pos != end_) return "busy + free stop short of the end of the space";
  return {};
}

}  // namespace uvm
