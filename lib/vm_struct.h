// vm_struct: the record of one area of vmalloc, vmalloc_user or vmap (the
// kernel's struct vm_struct), hung from its vmap_area (va->vm).
#pragma once

#include <cstddef>
#include <cstdint>

#include "free_tree.h"
#include "page_pool.h"
#include "rbtree.h"

struct uvm_pages;

namespace uvm {

enum vm_flags : unsigned {
  VM_ALLOC = 1u << 0,     // made by vmalloc
  VM_NO_GUARD = 1u << 1,  // no guard page after the area
  VM_ZERO = 1u << 2,      // the caller wants zeroed memory
  VM_GUARD = 1u << 3,     // the area was given a guard page
  VM_USERMAP = 1u << 4,   // own sealed memfd, exportable (vmalloc_user)
  VM_MAP = 1u << 5,       // caller's pages (vmap)
  VM_SAMPLE = 1u << 6,    // mapped without prefault, to measure its touches (populate.h)
};

// vmap_area::flags: which kind of record va->vm is.
enum vmap_kind : unsigned {
  VMAP_VMALLOC = 0,  // a vm_struct of vmalloc or vmalloc_user
  VMAP_MAP = 1,      // a vm_struct of vmap
  VMAP_RAM = 2,      // a vmap_block of vm_map_ram
};

// Page runs one area may map; vrealloc adds runs when it cannot extend the
// last one (runs mostly double, so 16 covers growth from a page to terabytes).
inline constexpr unsigned kMaxRuns = 16;

struct vm_struct {
  uintptr_t addr;
  size_t size;       // mapped bytes (page multiple)
  size_t requested;  // bytes the caller asked for
  size_t offset;     // the caller's pointer is addr + offset (efence), else 0
  size_t align;
  unsigned flags;
  unsigned nr_runs;
  page_run runs[kMaxRuns];  // memfd pages, mapped back to back from addr
  page_run spare;           // holes right after the last run, kept for growth
  int fd;                   // VM_USERMAP: the area's own memfd
  uint32_t gen;             // the pool file its pages are in (fork.cc)
  // VM_MAP: the handles mapped back to back (an array of nr_handles).
  uvm_pages** handles;
  size_t nr_handles;
  const void* caller;
  // The area: the mapped part, then an unmapped tail (the guard page, and
  // room to grow after a vrealloc moved it).
  vmap_area* va;
  // While lazily freed: in a size bin of its vmap node for reuse, and in the
  // node's free order (oldest first) for the choice of what to purge; sorted
  // by address through lazy_addr while being purged (lazy_areas.h).
  vm_struct* bin_prev;
  vm_struct* bin_next;
  rb_node lazy_addr;
  vm_struct* lru_prev;
  vm_struct* lru_next;
  vm_struct* purge_next;
  uint64_t freed_ns;  // when it was lazily freed (pal::coarse_ns)
  // The program's own mprotect/mlock/madvise on the block (vm_advise.cc);
  // null until it makes one.
  struct vm_attrs* attrs;
};

}  // namespace uvm
