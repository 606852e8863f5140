// Public C API for pages as objects, vmap, vm_map_ram, shareable
// allocations and the magic ring buffer.
#include <cerrno>

#include "api_internal.h"
#include "pages.h"
#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

using uvm::make_or_errno;
using uvm::Vmalloc;

extern "C" {

uvm_pages* uvm_alloc_pages(size_t n) {
  return make_or_errno<uvm_pages>([&](Vmalloc* vm, int* st) { return vm->alloc_pages(n, st); });
}

void uvm_free_pages(uvm_pages* pages) {
  if (pages == nullptr) return;
  if (uvm::Vmalloc* vm = uvm::instance_if_ready()) {
    uvm::fork_guard g;
    vm->put_pages(pages);
  }
}

size_t uvm_pages_count(const uvm_pages* pages) {
  return pages == nullptr ? 0 : pages->run.len / uvm::pal::kPageSize;
}

__attribute__((noinline)) void* uvm_vmap(uvm_pages* const* pages, size_t count, unsigned flags) {
  const void* caller = __builtin_return_address(0);
  return make_or_errno<void>(
      [&](Vmalloc* vm, int* st) { return vm->vmap(pages, count, flags, caller, st); });
}

void uvm_vunmap(void* addr) {
  if (addr == nullptr) return;
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  int rc = UVM_EFOREIGN;
  if (vm != nullptr) {
    uvm::fork_guard g;
    rc = vm->vunmap(addr);
  }
  if (rc != UVM_OK) uvm::report_bad_pointer("uvm_vunmap", addr, rc);
}

void* uvm_vm_map_ram(uvm_pages* const* pages, size_t count) {
  return make_or_errno<void>(
      [&](Vmalloc* vm, int* st) { return vm->vm_map_ram(pages, count, st); });
}

void uvm_vm_unmap_ram(void* addr, size_t pages) {
  if (addr == nullptr) return;
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  int rc = UVM_EFOREIGN;
  if (vm != nullptr) {
    uvm::fork_guard g;
    rc = vm->vm_unmap_ram(addr, pages);
  }
  if (rc != UVM_OK) uvm::report_bad_pointer("uvm_vm_unmap_ram", addr, rc);
}

int uvm_vmalloc_to_page(const void* addr, struct uvm_page_info* info) {
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  if (vm == nullptr) return UVM_EFOREIGN;
  uvm::fork_guard g;
  return vm->to_page(addr, info);
}

__attribute__((noinline)) void* uvm_vmalloc_user(size_t size) {
  const void* caller = __builtin_return_address(0);
  return make_or_errno<void>(
      [&](Vmalloc* vm, int* st) { return vm->alloc_user(size, caller, st); });
}

int uvm_export(const void* p, struct uvm_export* out) {
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  if (vm == nullptr) return UVM_EFOREIGN;
  uvm::fork_guard g;
  return vm->export_area(p, out);
}

int uvm_ring_create(struct uvm_ring* ring, size_t size) {
  size_t pages = (size + uvm::pal::kPageSize - 1) / uvm::pal::kPageSize;
  if (size == 0 || pages == 0) return UVM_EINVAL;
  uvm_pages* h = uvm_alloc_pages(pages);
  if (h == nullptr) return UVM_ENOMEM;
  uvm_pages* twice[2] = {h, h};
  void* base = uvm_vmap(twice, 2, 0);
  if (base == nullptr) {
    uvm_free_pages(h);
    return UVM_ENOMEM;
  }
  ring->base = static_cast<unsigned char*>(base);
  ring->size = pages * uvm::pal::kPageSize;
  ring->pages = h;
  return UVM_OK;
}

void uvm_ring_destroy(struct uvm_ring* ring) {
  if (ring->base == nullptr) return;
  uvm_vunmap(ring->base);
  uvm_free_pages(ring->pages);
  *ring = {};
}

}  // extern "C"
