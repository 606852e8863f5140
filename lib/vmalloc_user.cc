// Shareable allocations (the kernel's vmalloc_user + remap_vmalloc_range).
// Each lives in a sealed memfd of its own, never the pool's, so the
// descriptor handed to another process reaches exactly its pages.
#include <unistd.h>

#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {}  // namespace

void* Vmalloc::alloc_user(size_t size, const void* caller, int* status) {
  *status = UVM_EINVAL;
  if (size == 0) return nullptr;
  size_t mapped = pal::page_align(size);
  size_t guard = config().guard ? pal::kPageSize : 0;
  *status = UVM_EOVERFLOW;
  if (mapped < size || mapped + guard < mapped) return nullptr;
  *status = UVM_ENOMEM;
  if (!vma_room(2)) return nullptr;
  vm_struct* vm = vm_struct_cache().alloc();
  if (vm == nullptr) return nullptr;
  int fd = pal::sealed_file_create("uvmalloc-user", mapped);
  vmap_area* va = nullptr;
  int rc = fd >= 0 ? space_.alloc(mapped + guard, pal::kPageSize, &va) : UVM_ENOMEM;
  if (rc == UVM_OK &&
      pal::map_file_fixed(reinterpret_cast<void*>(va->va_start), mapped, fd, 0, false) != 0) {
    space_.free(va->va_start);
    rc = UVM_ENOMEM;
  }
  if (rc != UVM_OK) {
    if (fd >= 0) close(fd);
    vm_struct_cache().free(vm);
    *status = rc;
    return nullptr;
  }
  vm->addr = va->va_start;
  vm->size = mapped;
  vm->requested = size;
  vm->align = pal::kPageSize;
  vm->flags = VM_ALLOC | VM_USERMAP | (guard ? unsigned{VM_GUARD} : 0u);
  vm->fd = fd;
  vm->nr_runs = 1;
  vm->runs[0] = {0, mapped};
  vm->caller = caller;
  vm->va = va;
  va->vm = vm;
  vmas_ += 2;
  mapped_ += mapped;
  this_node().allocs.fetch_add(1, std::memory_order_relaxed);
  *status = UVM_OK;
  return reinterpret_cast<void*>(va->va_start);
}

int Vmalloc::export_area(const void* p, struct uvm_export* out) const {
  int rc = UVM_OK;
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  // Under the busy lock: the area cannot be freed while its fd is duplicated.
  int classified = space_.classify(addr, nullptr);
  if (classified != UVM_OK) return classified;
  space_.for_each_busy_from(addr, [&](const vmap_area& a) {
    auto* vm = static_cast<const vm_struct*>(a.vm);
    if (a.va_start != addr || a.flags != VMAP_VMALLOC || vm == nullptr) {
      rc = UVM_ENOTALLOC;
    } else if (!(vm->flags & VM_USERMAP)) {
      rc = UVM_EWRONGKIND;
    } else {
      int fd = pal::dup_fd(vm->fd);
      if (fd < 0) {
        rc = UVM_ENOMEM;
      } else {
        *out = {fd, 0, vm->size};
      }
    }
    return false;
  });
  return rc;
}

}  // namespace uvm
