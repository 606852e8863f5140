// vrealloc: resizing without copying. The data lives in memfd pages, so a
// block grows by mapping more pages after it (in place, when the range after
// its area is free) or moves by mapping the same pages at a new address;
// neither touches the data. A shrink unmaps the tail and gives its pages
// back to the pool.
//
// To keep later growth cheap, a grown block keeps room to grow again in both
// spaces: a moved area is reserved twice the size it needs (the unmapped
// tail reads as the guard page), and a new page run reserves as many holes
// again after itself (vm_struct::spare).
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace uvm {
namespace {

constexpr size_t kMaxSpare = size_t{1} << 30;  // holes reserved after one run

}  // namespace

// Map the vm's bytes [from, to) at base + from (one mmap per run piece).
// Nothing is faulted in, as mremap commits nothing: a page costs memory once
// the program touches it. Only a pool file with a size limit (the /dev/shm
// fallback) is faulted in whole, so that a lack of space fails the realloc
// instead of raising SIGBUS at the first touch.
int Vmalloc::map_range(const vm_struct* vm, uintptr_t base, size_t from, size_t to) {
  size_t pos = 0;
  for (unsigned i = 0; i < vm->nr_runs && pos < to; ++i) {
    const page_run& r = vm->runs[i];
    size_t s = std::max(from, pos), e = std::min(to, pos + r.len);
    if (s < e) {
      int rc = pool_.map(reinterpret_cast<void*>(base + s), {r.off + (s - pos), e - s}, false);
      if (rc != 0) return rc;
    }
    pos += r.len;
  }
  if (!pool_.bounded()) return 0;
  int rc = pal::populate(reinterpret_cast<void*>(base + from), to - from);
  if (rc == -ENOMEM || rc == -ENOSPC) {
    // Memory is short: what uvmalloc keeps cached (lazy areas, warm pages)
    // goes back first, then one more try.
    purge_all();
    rc = pal::populate(reinterpret_cast<void*>(base + from), to - from);
  }
  return rc;
}

// Give the spare back: its offsets were never mapped, so they are holes.
void Vmalloc::release_spare(vm_struct* vm) {
  if (vm->spare.len != 0) pool_.free_cold(vm->spare);
  vm->spare = {};
}

// Append `extra` bytes of pages to the vm's runs: from the spare holes,
// else by extending the last run in the pool, else as a new run (with as
// many holes again kept as spare). Nothing is allocated ahead: pages the
// program never touches would cost memory.
int Vmalloc::add_pages(vm_struct* vm, size_t extra) {
  page_run& last = vm->runs[vm->nr_runs - 1];
  if (vm->spare.len >= extra) {
    vm->spare.off += extra;
    vm->spare.len -= extra;
    last.len += extra;
    return UVM_OK;
  }
  // Give the spare back so the pool can hand it out again as part of a
  // larger extension.
  release_spare(vm);
  size_t end = last.off + last.len;
  size_t spare = std::min(std::max(vm->size + extra, extra), kMaxSpare);
  bool warm = false;
  if (pool_.alloc_at(end, extra + spare, &warm, true) == UVM_OK) {
    vm->spare = {end + extra, spare};
    last.len += extra;
    return UVM_OK;
  }
  if (pool_.alloc_at(end, extra, &warm) == UVM_OK) {
    last.len += extra;
    return UVM_OK;
  }
  if (vm->nr_runs == kMaxRuns) return UVM_ENOMEM;
  page_run added;
  if (pool_.alloc_cold(extra + spare, &added) == UVM_OK) {
    vm->spare = {added.off + extra, spare};
    added.len = extra;
  } else if (pool_.alloc(extra, &added, &warm) != UVM_OK) {
    return UVM_ENOMEM;
  }
  vm->runs[vm->nr_runs++] = added;
  vmas_ += 1;
  return UVM_OK;
}

// Give back the pages past the first `keep` bytes (already unmapped).
void Vmalloc::drop_pages(vm_struct* vm, size_t keep) {
  if (!current(vm->gen)) {  // an older file's pages are never reused
    size_t pos = 0;
    unsigned n = 0;
    for (; n < vm->nr_runs && pos < keep; ++n) {
      vm->runs[n].len = std::min(vm->runs[n].len, keep - pos);
      pos += vm->runs[n].len;
    }
    vm->nr_runs = n;
    vm->spare = {};
    return;
  }
  release_spare(vm);
  size_t pos = 0;
  unsigned n = 0;
  for (; n < vm->nr_runs && pos < keep; ++n) {
    page_run& r = vm->runs[n];
    if (pos + r.len > keep) {
      pool_.free({r.off + (keep - pos), pos + r.len - keep});
      r.len = keep - pos;
    }
    pos += r.len;
  }
  for (unsigned i = n; i < vm->nr_runs; ++i) pool_.free(vm->runs[i]);
  vmas_ -= vm->nr_runs - n;
  vm->nr_runs = n;
}

int Vmalloc::shrink(vm_struct* vm, size_t size) {
  int rc = pal::map_none_fixed(reinterpret_cast<void*>(vm->addr + size), vm->size - size);
  if (rc != 0) return UVM_ENOMEM;
  drop_pages(vm, size);
  mapped_ -= vm->size - size;
  vm->size = size;
  return UVM_OK;
}

// The last resort, when the vm has as many runs as it may (or lives in its
// own memfd, sealed against growth): a fresh block and a copy.
void* Vmalloc::copy_to_new(vm_struct* vm, size_t size, int* status) {
  void* p = vm->flags & VM_USERMAP
                ? alloc_user(size, vm->caller, status)
                : alloc(size, vm->align, vm->flags & VM_NO_GUARD, vm->caller, status);
  if (p == nullptr) return nullptr;
  memcpy(p, reinterpret_cast<void*>(vm->addr + vm->offset), std::min(vm->size - vm->offset, size));
  free(reinterpret_cast<void*>(vm->addr + vm->offset));
  ++copied_;
  return p;
}

void* Vmalloc::move(vm_struct* vm, size_t size, int* status) {
  size_t n = pal::page_align(size);
  size_t guard = vm->flags & VM_GUARD ? pal::kPageSize : 0;
  size_t old = vm->size;
  *status = UVM_ENOMEM;
  if (!vma_room(vm->nr_runs + 2)) return nullptr;
  vmap_area* va = nullptr;
  // Twice the size when the space allows it, so the next growth is in place.
  int rc = n * 2 + guard > n ? space_.alloc(n * 2 + guard, vm->align, &va) : UVM_ENOSPC;
  if (rc != UVM_OK) rc = space_.alloc(n + guard, vm->align, &va);
  if (rc == UVM_ENOSPC) {
    purge();
    rc = space_.alloc(n + guard, vm->align, &va);
  }
  if (rc != UVM_OK) {
    *status = rc;
    return nullptr;
  }
  if (add_pages(vm, n - old) != UVM_OK) {
    space_.free(va->va_start);
    return vm->nr_runs == kMaxRuns ? copy_to_new(vm, size, status) : nullptr;
  }
  bool mapped = map_range(vm, va->va_start, 0, n) == 0;
  // The data written so far is mapped at once, so it costs no fault again;
  // its holes stay holes.
  if (mapped)
    pal::populate_resident(reinterpret_cast<void*>(vm->addr), reinterpret_cast<void*>(va->va_start),
                           old);
  if (!mapped || pal::map_none_fixed(reinterpret_cast<void*>(vm->addr), old) != 0) {
    // Nothing was changed at the old address: undo the new one.
    pal::map_none_fixed(reinterpret_cast<void*>(va->va_start), n);
    drop_pages(vm, old);
    space_.free(va->va_start);
    return nullptr;
  }
  vmap_area* old_va;
  space_.unlink_busy(vm->addr, &old_va);
  space_.free_area(old_va);
  vm->va = va;
  va->vm = vm;
  vm->addr = va->va_start;
  vm->size = n;
  vm->requested = size;
  mapped_ += n - old;
  ++moved_;
  *status = UVM_OK;
  return reinterpret_cast<void*>(vm->addr);
}

void* Vmalloc::realloc(void* p, size_t size, const void* caller, int* status) {
  if (p == nullptr) return alloc(size, 1, 0, caller, status);
  uintptr_t addr = area_of(p);
  // The live area that starts at addr, without the busy lock; the busy
  // lock's classification says why not.
  vmap_area* va = space_.lookup(addr);
  if (va == nullptr || !VmSpace::live(*va, addr)) {
    *status = space_.classify(addr, nullptr);
    if (*status == UVM_OK) *status = UVM_ENOTALLOC;  // freed meanwhile by another thread
    return nullptr;
  }
  *status = UVM_OK;
  if (size == 0) {
    *status = free(p);
    return nullptr;
  }
  size_t n = pal::page_align(size);
  if (n < size) {
    *status = UVM_EOVERFLOW;
    return nullptr;
  }
  // From here the caller owns the area: nobody else may free or move it.
  if (va->flags != VMAP_VMALLOC) {
    *status = UVM_EWRONGKIND;
    return nullptr;
  }
  auto* vm = static_cast<vm_struct*>(va->vm);
  vm->flags &= ~VM_SAMPLE;  // a grown block's touches no longer tell of its first size
  // Its own sealed file, or an older pool file (mapped copy-on-write since a
  // fork): growth cannot map more of the same file.
  // Under efence the block must end at its guard page whatever its size.
  if (config().efence && (vm->flags & VM_GUARD)) return copy_to_new(vm, size, status);
  // A shareable block's file is sealed at its size: any resize is a copy
  // into a new one, so an export always covers exactly the allocation.
  if ((vm->flags & VM_USERMAP) && n != vm->size) return copy_to_new(vm, size, status);
  if (!current(vm->gen)) {
    if (n <= vm->size) {
      if (n < vm->size) *status = shrink(vm, n);
      return *status == UVM_OK ? p : nullptr;
    }
    return copy_to_new(vm, size, status);
  }
  size_t guard = vm->flags & VM_GUARD ? pal::kPageSize : 0;
  *status = UVM_OK;
  if (n <= vm->size) {
    if (n < vm->size) *status = shrink(vm, n);
    if (*status != UVM_OK) return nullptr;
    vm->requested = size;
    return p;
  }
  if (n + guard < n) {
    *status = UVM_EOVERFLOW;
    return nullptr;
  }
  // In place when the area (with its unmapped tail) or the range after it
  // has room for the new size and the guard page.
  if (va->size() < n + guard && space_.grow_busy(va, n + guard - va->size()) != UVM_OK)
    return move(vm, size, status);
  size_t old = vm->size;
  if (add_pages(vm, n - old) != UVM_OK) {
    if (vm->nr_runs == kMaxRuns) return copy_to_new(vm, size, status);
    *status = UVM_ENOMEM;
    return nullptr;
  }
  if (map_range(vm, addr, old, n) != 0) {
    pal::map_none_fixed(reinterpret_cast<void*>(addr + old), n - old);
    drop_pages(vm, old);
    *status = UVM_ENOMEM;
    return nullptr;
  }
  vm->size = n;
  vm->requested = size;
  mapped_ += n - old;
  ++grown_in_place_;
  return p;
}

}  // namespace uvm
