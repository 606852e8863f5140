#include "vmap.h"

#include <algorithm>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

vmap_area* va_of(rb_node* n) {
  return n == nullptr ? nullptr : rb_entry(n, vmap_area, rb);
}

}  // namespace

VmSpace::~VmSpace() {
  while (busy_root_.node != nullptr) {
    rb_node* n = busy_root_.node;
    rb_erase(n, &busy_root_);
    vmap_area_cache().free(va_of(n));
  }
  if (index_ != nullptr) pal::unmap(index_, index_bytes(end_ - start_));
  if (reserved_) pal::unmap(reinterpret_cast<void*>(start_), end_ - start_);
}

// The index has one vmap_area pointer a page of the space.
size_t VmSpace::index_bytes(size_t size) {
  static_assert(sizeof(std::atomic<vmap_area*>) == sizeof(void*));
  return (size >> 12) * sizeof(void*);
}

int VmSpace::init_range(uintptr_t start, size_t size) {
  if (start_ != end_) return UVM_EINVAL;  // already initialised
  if (size == 0 || start % pal::kPageSize != 0 || size % pal::kPageSize != 0) return UVM_EINVAL;
  if (start + size < start) return UVM_EOVERFLOW;
  std::lock_guard<std::mutex> g(free_lock_);
  int rc = free_.insert_range(start, start + size);
  if (rc != UVM_OK) return rc;
  start_ = start;
  end_ = start + size;
  // Without an index every lookup() takes the busy lock; nothing else changes.
  index_ = static_cast<vmap_area**>(pal::map_sparse(index_bytes(size)));
  return UVM_OK;
}

int VmSpace::reserve(size_t size, size_t min_size, size_t align) {
  if (start_ != end_) return UVM_EINVAL;
  size = pal::page_align(size);
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
  std::atomic_ref<uintptr_t>(va->state).store(va->va_start | kLive, std::memory_order_release);
  if (index_ != nullptr) {
    std::atomic_ref<vmap_area*>(*slot(va->va_start)).store(va, std::memory_order_release);
    ++indexed_;
  }
}

void VmSpace::erase_busy(vmap_area* va) {
  rb_erase(&va->rb, &busy_root_);
  --busy_areas_;
  busy_bytes_ -= va->size();
  std::atomic_ref<uintptr_t>(va->state).store(0, std::memory_order_relaxed);
  if (index_ != nullptr) {
    std::atomic_ref<vmap_area*>(*slot(va->va_start)).store(nullptr, std::memory_order_relaxed);
    --indexed_;
  }
}

int VmSpace::link_busy(uintptr_t start, size_t size, vmap_area* busy, vmap_area** out) {
  busy->va_start = start;
  busy->va_end = start + size;
  std::lock_guard<std::mutex> g(busy_lock_);
  insert_busy(busy);
  *out = busy;
  return UVM_OK;
}

int VmSpace::alloc(size_t size, size_t align, uintptr_t vstart, uintptr_t vend, vmap_area** out) {
  *out = nullptr;
  if (size == 0 || !pal::is_pow2(align)) return UVM_EINVAL;
  size_t rounded = pal::page_align(size);
  if (rounded < size) return UVM_EOVERFLOW;
  size = rounded;
  if (align < pal::kPageSize) align = pal::kPageSize;
  vstart = std::max(vstart, start_);
  vend = std::min(vend, end_);
  if (vstart >= vend) return UVM_EINVAL;
  if (size > vend - vstart) return UVM_ENOSPC;

  // The busy node is taken first so a failure leaves the free tree untouched.
  vmap_area* busy = vmap_area_cache().alloc();
  if (busy == nullptr) return UVM_ENOMEM;
  uintptr_t start;
  int rc;
  {
    std::lock_guard<std::mutex> g(free_lock_);
    rc = free_.alloc(size, align, vstart, vend, &start);
  }
  if (rc != UVM_OK) {
    vmap_area_cache().free(busy);
    return rc;
  }
  return link_busy(start, size, busy, out);
}

int VmSpace::alloc_fixed(uintptr_t start, size_t size, vmap_area** out) {
  *out = nullptr;
  if (size == 0 || start % pal::kPageSize != 0 || size % pal::kPageSize != 0) return UVM_EINVAL;
  if (start + size < start) return UVM_EOVERFLOW;
  if (start < start_ || start + size > end_) return UVM_ENOSPC;
  vmap_area* busy = vmap_area_cache().alloc();
  if (busy == nullptr) return UVM_ENOMEM;
  int rc;
  {
    std::lock_guard<std::mutex> g(free_lock_);
    rc = free_.alloc_fixed(start, size);
  }
  if (rc != UVM_OK) {
    vmap_area_cache().free(busy);
    return rc;
  }
  return link_busy(start, size, busy, out);
}

int VmSpace::grow_busy(vmap_area* va, size_t extra) {
  if (extra == 0 || extra % pal::kPageSize != 0) return UVM_EINVAL;
  if (va->va_end + extra < va->va_end || va->va_end + extra > end_) return UVM_ENOSPC;
  {
    std::lock_guard<std::mutex> g(free_lock_);
    int rc = free_.alloc_fixed(va->va_end, extra);
    if (rc != UVM_OK) return rc;
  }
  std::lock_guard<std::mutex> g(busy_lock_);
  va->va_end += extra;  // the busy tree is keyed by va_start: no relink
  busy_bytes_ += extra;
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
      return parked(*va) ? nullptr : va;  // areas never overlap: nothing else holds addr
  }
  return nullptr;
}

rb_node* VmSpace::lower_bound_locked(uintptr_t addr) const {
  rb_node* n = busy_root_.node;
  rb_node* best = nullptr;
  while (n != nullptr) {
    if (va_of(n)->va_start >= addr) {
      best = n;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

void VmSpace::relink_busy(vmap_area* va) {
  std::lock_guard<std::mutex> g(busy_lock_);
  insert_busy(va);
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
  return unlink_busy(addr, kAnyKind, out);
}

int VmSpace::unlink_busy(uintptr_t addr, unsigned flags, vmap_area** out) {
  *out = nullptr;
  if (!contains(addr)) return UVM_EFOREIGN;
  std::lock_guard<std::mutex> g(busy_lock_);
  vmap_area* va = find_busy_locked(addr);
  if (va == nullptr) return UVM_ENOTALLOC;
  if (va->va_start != addr) return UVM_EINTERIOR;
  if (flags != kAnyKind && va->flags != flags) return UVM_EWRONGKIND;
  erase_busy(va);
  *out = va;
  return UVM_OK;
}

vmap_area* VmSpace::lookup(uintptr_t addr) const {
  if (!contains(addr) || addr % pal::kPageSize != 0) return nullptr;
  if (index_ != nullptr)
    return std::atomic_ref<vmap_area*>(*slot(addr)).load(std::memory_order_acquire);
  std::lock_guard<std::mutex> g(busy_lock_);
  for (rb_node* n = busy_root_.node; n != nullptr;) {
    vmap_area* va = va_of(n);
    if (addr == va->va_start) return va;
    n = addr < va->va_start ? n->left : n->right;
  }
  return nullptr;
}

void VmSpace::unlink_parked(vmap_area* va) {
  std::lock_guard<std::mutex> g(busy_lock_);
  erase_busy(va);
}

void VmSpace::free_area(vmap_area* va) {
  std::lock_guard<std::mutex> g(free_lock_);
  free_.insert(va);
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
  s.free_areas = free_.count();
  s.free_bytes = free_.bytes();
  s.largest_free = free_.largest();
  return s;
}

std::string VmSpace::check(bool expect_tiled, size_t* parked_areas) const {
  std::lock_guard<std::mutex> gb(busy_lock_);
  std::lock_guard<std::mutex> gf(free_lock_);
  std::string why = free_.check(start_, end_);
  if (!why.empty()) return why;
  if (rb_validate(&busy_root_) < 0) return "busy tree is not a valid red-black tree";

  size_t busy = 0, bytes = 0, parked_count = 0;
  const vmap_area* prev_busy = nullptr;
  for (rb_node* n = rb_first(&busy_root_); n != nullptr; n = rb_next(n)) {
    const vmap_area* va = va_of(n);
    if (va->va_start >= va->va_end) return "empty or inverted busy area";
    if (va->va_start < start_ || va->va_end > end_) return "busy area outside the space";
    if (prev_busy != nullptr && prev_busy->va_end > va->va_start) return "busy areas overlap";
    uintptr_t state = std::atomic_ref<uintptr_t>(const_cast<uintptr_t&>(va->state)).load();
    if (state != (va->va_start | kLive) && state != (va->va_start | kParked))
      return "a busy area's state word is neither live nor parked";
    if (state == (va->va_start | kParked)) ++parked_count;
    if (index_ != nullptr && std::atomic_ref<vmap_area*>(*slot(va->va_start)).load() != va)
      return "the index does not point at a busy area from its start";
    ++busy;
    bytes += va->size();
    prev_busy = va;
  }
  if (busy != busy_areas_ || bytes != busy_bytes_) return "busy counters are wrong";
  // Every set slot is a busy area's start (the tree walk found those).
  if (index_ != nullptr && indexed_ != busy) return "the index holds slots of no busy area";
  if (parked_areas != nullptr) *parked_areas = parked_count;

  // Busy and free areas must not overlap; with nothing unlinked they tile.
  const vmap_area* f = free_.first();
  rb_node* b = rb_first(&busy_root_);
  uintptr_t pos = start_;
  while (f != nullptr || b != nullptr) {
    const vmap_area* va;
    if (b == nullptr || (f != nullptr && f->va_start < va_of(b)->va_start)) {
      va = f;
      f = f->next;
    } else {
      va = va_of(b);
      b = rb_next(b);
    }
    if (va->va_start < pos) return "a busy area overlaps a free area";
    if (expect_tiled && va->va_start != pos) return "hole: busy + free do not tile the space";
    pos = va->va_end;
  }
  if (expect_tiled && pos != end_) return "busy + free stop short of the end of the space";
  return {};
}

}  // namespace uvm
