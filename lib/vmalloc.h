// vmalloc: areas of the vmalloc space glued to runs of pool pages (the
// kernel's vm_struct and __vmalloc_node_range), with guard pages, lazy purge
// and same-size reuse.
//
// User space differs from the kernel in one place: the "TLB flush" that lazy
// purge batches is here the mmap/munmap syscalls and the mmap_lock they take.
// A freed area therefore stays mapped to its pages (the "lazy" state) until
// `lazy_max` bytes have gathered; a purge then puts PROT_NONE back over
// runs of adjacent areas with one mmap each, and returns the pages to the
// pool. Until then an allocation of the same size reuses a lazy area with no
// syscall at all (the kernel's per-node vmap pools). Setting lazy to 0 unmaps
// at once, so a use after free faults.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "config.h"
#include "page_pool.h"
#include "rbtree.h"
#include "vmap.h"

namespace uvm {

enum vm_flags : unsigned {
  VM_ALLOC = 1u << 0,     // made by vmalloc
  VM_NO_GUARD = 1u << 1,  // no guard page after the area
  VM_ZERO = 1u << 2,      // the caller wants zeroed memory
  VM_GUARD = 1u << 3,     // the area was given a guard page
};

// Page runs one area may map; vrealloc adds runs when it cannot extend the
// last one (runs mostly double, so 16 covers growth from a page to terabytes).
inline constexpr unsigned kMaxRuns = 16;

struct vm_struct {
  uintptr_t addr;
  size_t size;       // mapped bytes (page multiple)
  size_t requested;  // bytes the caller asked for
  size_t align;
  unsigned flags;
  unsigned nr_runs;
  page_run runs[kMaxRuns];  // memfd pages, mapped back to back from addr
  page_run spare;           // holes right after the last run, kept for growth
  size_t spare_queued;      // bytes at the start of spare already prefaulting
  const void* caller;
  // The area: the mapped part, then an unmapped tail (the guard page, and
  // room to grow after a vrealloc moved it).
  vmap_area* va;
  // While lazily freed: by (size, guard, addr) for reuse, by addr for purge.
  rb_node lazy_size;
  rb_node lazy_addr;
  vm_struct* purge_next;
};

struct vm_stats {
  size_t reserved, mapped, lazy, areas, vmas, vma_limit;
  size_t allocs, frees, reused, purges, purged_areas, purge_calls, vma_refusals;
  size_t bad_frees;
  size_t grown_in_place, moved, copied;
};

class Vmalloc {
 public:
  Vmalloc() = default;
  Vmalloc(const Vmalloc&) = delete;
  Vmalloc& operator=(const Vmalloc&) = delete;
  ~Vmalloc();

  int init(const vm_config& cfg);
  // Settings that can change after init (pool, lazy, guard, bad_free...).
  void configure(const vm_config& cfg);
  const vm_config& config() const { return cfg_; }

  // `size` bytes aligned to `align` (a power of two); null with *status set
  // on failure (UVM_EINVAL, UVM_EOVERFLOW, UVM_ENOSPC, UVM_ENOMEM).
  void* alloc(size_t size, size_t align, unsigned flags, const void* caller, int* status);
  // UVM_OK, or why `p` starts no live area (nothing is changed then).
  int free(void* p);
  // Resize in place or move without copying (vrealloc.cc). Null with
  // *status set on failure, the old block untouched; a bad `p` gives its
  // classification (UVM_ENOTALLOC, UVM_EINTERIOR, UVM_EFOREIGN).
  void* realloc(void* p, size_t size, const void* caller, int* status);
  // Unmap every lazily freed area now.
  void purge();
  // purge() and release every warm pool page.
  void purge_all() {
    purge();
    pool_.release_all();
  }

  bool contains(const void* p) const { return space_.contains(reinterpret_cast<uintptr_t>(p)); }
  // Copy of the live area containing `p`; UVM_OK when `p` is its start,
  // UVM_EINTERIOR inside it, UVM_ENOTALLOC / UVM_EFOREIGN otherwise.
  int find(const void* p, vm_struct* out) const;

  vm_stats stats() const;
  pool_stats pool() const { return pool_.stats(); }
  size_t committed() const { return pool_.file_allocated(); }
  // One line per area in /proc/vmallocinfo's format.
  void info(FILE* out) const;
  // Invariants of the space, the pool and the lazy lists ("" when all hold).
  std::string check() const;

 private:
  vm_struct* lazy_take(size_t size, size_t guard, size_t align);
  void lazy_add(vm_struct* vm);
  void release(vm_struct* vm);
  bool vma_room(long vmas);
  int shrink(vm_struct* vm, size_t size);
  int add_pages(vm_struct* vm, size_t extra);
  void prefault_ahead(vm_struct* vm, size_t len);
  void drop_pages(vm_struct* vm, size_t keep);
  int map_range(const vm_struct* vm, uintptr_t base, size_t from, size_t to);
  void* move(vm_struct* vm, size_t size, int* status);
  void* copy_to_new(vm_struct* vm, size_t size, int* status);

  vm_config cfg_;
  VmSpace space_;
  PagePool pool_;
  long vma_limit_ = 0;
  bool thp_ = false;

  mutable std::mutex lazy_lock_;
  rb_root lazy_by_size_;
  rb_root lazy_by_addr_;
  size_t lazy_bytes_ = 0;
  size_t lazy_areas_ = 0;

  std::atomic<long> vmas_{0};
  std::atomic<size_t> mapped_{0};
  std::atomic<size_t> allocs_{0}, frees_{0}, reused_{0}, purges_{0}, purged_areas_{0};
  std::atomic<size_t> purge_calls_{0}, vma_refusals_{0};
  std::atomic<size_t> grown_in_place_{0}, moved_{0}, copied_{0};
};

kmem_cache_of<vm_struct>& vm_struct_cache();

}  // namespace uvm
