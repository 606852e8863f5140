// Pages as objects: caller-owned page handles and vmap/vunmap of them (the
// kernel's alloc_pages, vmap, vunmap and vmalloc_to_page).
#include <algorithm>

#include "pages.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

size_t array_bytes(size_t count) {
  return pal::page_align(count * sizeof(uvm_pages*));
}

}  // namespace

kmem_cache_of<uvm_pages>& pages_cache() {
  static kmem_cache_of<uvm_pages> cache("uvm_pages");
  return cache;
}

uvm_pages* Vmalloc::alloc_pages(size_t n, int* status) {
  *status = UVM_EINVAL;
  if (n == 0) return nullptr;
  *status = UVM_EOVERFLOW;
  if (n > (SIZE_MAX >> pal::kPageShift)) return nullptr;
  *status = UVM_ENOMEM;
  uvm_pages* h = pages_cache().alloc();
  if (h == nullptr) return nullptr;
  bool warm;
  if (pool_.alloc(n * pal::kPageSize, &h->run, &warm) != UVM_OK) {
    pages_cache().free(h);
    return nullptr;
  }
  h->refs = 1;
  h->gen = gen_;
  cur_handles_.fetch_add(1, std::memory_order_relaxed);
  *status = UVM_OK;
  return h;
}

void Vmalloc::put_pages(uvm_pages* h) {
  if (h->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (current(h->gen)) {
    cur_handles_.fetch_sub(1, std::memory_order_relaxed);
    pool_.free(h->run);
  } else {
    gen_put(h->gen);
  }
  pages_cache().free(h);
}

void* Vmalloc::vmap(uvm_pages* const* pages, size_t count, unsigned flags, const void* caller,
                    int* status) {
  *status = UVM_EINVAL;
  if (pages == nullptr || count == 0) return nullptr;
  size_t bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    if (pages[i] == nullptr) return nullptr;
    // Pages from before a fork() are mapped copy-on-write by both processes;
    // mapping them shared again would share them with the other.
    if (!current(pages[i]->gen)) {
      *status = UVM_EWRONGKIND;
      return nullptr;
    }
    if (__builtin_add_overflow(bytes, pages[i]->run.len, &bytes)) {
      *status = UVM_EOVERFLOW;
      return nullptr;
    }
  }
  size_t guard = flags & UVM_VMAP_NO_GUARD ? 0 : pal::kPageSize;
  *status = UVM_EOVERFLOW;
  if (bytes + guard < bytes || count > SIZE_MAX / sizeof(uvm_pages*)) return nullptr;
  *status = UVM_ENOMEM;
  if (!vma_room(static_cast<long>(count) + 1)) return nullptr;

  vm_struct* vm = vm_struct_cache().alloc();
  auto** handles = static_cast<uvm_pages**>(vm ? pal::map_anon(array_bytes(count)) : nullptr);
  vmap_area* va = nullptr;
  int rc = handles ? space_.alloc(bytes + guard, pal::kPageSize, &va) : UVM_ENOMEM;
  if (rc != UVM_OK) {
    if (handles) pal::unmap(handles, array_bytes(count));
    if (vm) vm_struct_cache().free(vm);
    *status = rc;
    return nullptr;
  }
  size_t pos = 0;
  for (size_t i = 0; i < count && rc == 0; ++i) {
    // No populate: a handle's holes are committed only when touched.
    rc = pool_.map(reinterpret_cast<void*>(va->va_start + pos), pages[i]->run, false);
    pos += pages[i]->run.len;
  }
  if (rc != 0) {
    pal::map_none_fixed(reinterpret_cast<void*>(va->va_start), bytes);
    space_.free(va->va_start);
    pal::unmap(handles, array_bytes(count));
    vm_struct_cache().free(vm);
    return nullptr;
  }
  for (size_t i = 0; i < count; ++i) {
    handles[i] = pages[i];
    pages[i]->refs.fetch_add(1, std::memory_order_relaxed);
  }
  vm->addr = va->va_start;
  vm->size = bytes;
  vm->requested = bytes;
  vm->align = pal::kPageSize;
  vm->flags = VM_MAP | (guard ? unsigned{VM_GUARD} : 0u);
  vm->fd = -1;
  vm->handles = handles;
  vm->nr_handles = count;
  vm->caller = caller;
  vm->va = va;
  va->flags = VMAP_MAP;
  va->vm = vm;
  vmas_ += static_cast<long>(count) + 1;
  mapped_ += bytes;
  *status = UVM_OK;
  return reinterpret_cast<void*>(va->va_start);
}

int Vmalloc::vunmap(void* addr) {
  vmap_area* va;
  int rc = space_.unlink_busy(reinterpret_cast<uintptr_t>(addr), VMAP_MAP, &va);
  if (rc != UVM_OK) return rc;
  auto* vm = static_cast<vm_struct*>(va->vm);
  mapped_ -= vm->size;
  if (pal::map_none_fixed(addr, vm->size) != 0) return UVM_ENOMEM;  // range stays out of use
  vmas_ -= static_cast<long>(vm->nr_handles) + 1;
  space_.free_area(va);
  for (size_t i = 0; i < vm->nr_handles; ++i) put_pages(vm->handles[i]);
  pal::unmap(vm->handles, array_bytes(vm->nr_handles));
  vm_struct_cache().free(vm);
  return UVM_OK;
}

}  // namespace uvm
