/* uvmalloc: a user-space vmalloc. Public C API (prefix uvm_).
 *
 * Large allocations live in one reserved PROT_NONE range (the "vmalloc space")
 * and are backed by pages of a memfd, mapped contiguously. */
#ifndef UVMALLOC_UVMALLOC_H
#define UVMALLOC_UVMALLOC_H

#include <stddef.h>
#include <stdio.h>

#if defined(__GNUC__)
#define UVM_API __attribute__((visibility("default")))
#else
#define UVM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define UVMALLOC_VERSION_MAJOR 0
#define UVMALLOC_VERSION_MINOR 1
#define UVMALLOC_VERSION_PATCH 0

/* Outcome of an operation on the vmalloc space. */
typedef enum uvm_status {
  UVM_OK = 0,
  UVM_EINVAL = 1,    /* size 0, alignment not a power of two, empty window */
  UVM_EOVERFLOW = 2, /* size (plus alignment or guard) wraps around */
  UVM_ENOSPC = 3,    /* no free range fits in the window */
  UVM_ENOMEM = 4,    /* metadata, pages or mappings could not be had */
  UVM_ENOTALLOC = 5, /* address is in the space but no live area starts there */
  UVM_EINTERIOR = 6, /* address points inside a live area, not at its start */
  UVM_EFOREIGN = 7   /* address is outside the vmalloc space */
} uvm_status;

/* A short constant description of a status, e.g. "double free or never allocated". */
UVM_API const char* uvm_strerror(int status);

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
UVM_API const char* uvm_version(void);

/* ---- Allocation (mm/vmalloc.c's vmalloc family) ----
 * All return NULL with errno set on failure: EINVAL for a zero size or a bad
 * alignment, ENOMEM otherwise. Memory is page-granular, virtually contiguous,
 * and followed by a PROT_NONE guard page (setting guard:0 turns that off). */
UVM_API void* uvm_vmalloc(size_t size);
/* Zeroed, also when the pages are recycled. */
UVM_API void* uvm_vzalloc(size_t size);
/* `align` must be a power of two; alignments up to 1 GiB and beyond work. */
UVM_API void* uvm_vmalloc_align(size_t size, size_t align);
/* n * size bytes, zeroed; NULL with ENOMEM when n * size overflows. */
UVM_API void* uvm_vcalloc(size_t n, size_t size);
/* Free; NULL is fine. A pointer that starts no live area (double free,
 * interior or foreign pointer) is reported on stderr with the area it falls
 * in, then abort()s, or is ignored with setting bad_free:warn. */
UVM_API void uvm_vfree(void* p);
/* uvm_vfree that returns the uvm_status instead of reporting. */
UVM_API int uvm_vfree_status(void* p);

/* Resize without copying: grows in place when the range after the block is
 * free, else maps the same pages at a new address; shrinks in place and
 * returns the tail pages to the pool. Contents and alignment are kept.
 * uvm_vrealloc(NULL, n) allocates; uvm_vrealloc(p, 0) frees and returns NULL.
 * On failure returns NULL with errno set and p untouched. A p that starts no
 * live area is reported as for uvm_vfree. */
UVM_API void* uvm_vrealloc(void* p, size_t size);

/* ---- Inspection ---- */
/* True when p lies in the vmalloc space (live or not). */
UVM_API int uvm_is_vmalloc_addr(const void* p);

struct uvm_area {
  void* addr;         /* start of the area */
  size_t size;        /* usable bytes (page multiple), guard page excluded */
  size_t requested;   /* bytes the caller asked for */
  size_t pages;       /* size / page size */
  const void* caller; /* return address of the allocating call */
};
/* Area containing p: UVM_OK when p is its start, UVM_EINTERIOR when p is
 * inside it (*area is filled in both cases), UVM_ENOTALLOC or UVM_EFOREIGN. */
UVM_API int uvm_find_vm_area(const void* p, struct uvm_area* area);
/* Usable size of the allocation starting at p, or 0. */
UVM_API size_t uvm_vmalloc_size(const void* p);
/* One line per area, in the format of /proc/vmallocinfo. */
UVM_API void uvm_vmalloc_info(FILE* out);

struct uvm_stats {
  size_t reserved;  /* bytes of address space reserved */
  size_t mapped;    /* bytes mapped: live areas plus lazily freed ones */
  size_t lazy;      /* bytes freed but still mapped, awaiting purge */
  size_t committed; /* bytes the page memfd really holds */
  size_t in_use;    /* bytes of pages owned by areas */
  size_t pooled;    /* warm free bytes kept in the page pool */
  size_t released;  /* bytes punched back to the kernel since start */
  size_t refilled;  /* bytes allocated ahead of demand since start */
  size_t areas;     /* live allocations */
  size_t vmas;      /* VMAs created by uvmalloc (estimate) */
  size_t vma_limit; /* VMAs uvmalloc allows itself */
  size_t allocs, frees;
  size_t reused;         /* allocations served by a lazily freed area */
  size_t warm_hits;      /* allocations mapped onto existing pages */
  size_t cold_allocs;    /* allocations mapped onto holes */
  size_t purges;         /* lazy purge batches */
  size_t purged_areas;   /* areas unmapped by those batches */
  size_t syscalls_saved; /* mmap calls avoided by reuse and purge coalescing */
  size_t vma_refusals;   /* allocations refused for the VMA limit */
  size_t grown_in_place; /* uvm_vrealloc growths that did not move */
  size_t moved;          /* uvm_vrealloc moves (pages re-mapped, not copied) */
  size_t copied;         /* uvm_vrealloc moves that had to copy */
  int async;             /* io_uring is doing release and refill */
};
UVM_API int uvm_stats(struct uvm_stats* out);
UVM_API void uvm_stats_print(FILE* out);

/* ---- Control ---- */
/* Settings in the UVMALLOC_CONF format ("reserve:64G,pool_max:1G,..."). Before
 * the first allocation every key applies; afterwards all but reserve and
 * uring do. UVMALLOC_CONF (ignored for setuid programs) overrides these.
 * Returns UVM_OK or UVM_EINVAL when a key or value was bad (reported). */
UVM_API int uvm_configure(const char* conf);
/* Unmap every lazily freed area and release every warm pool page now. */
UVM_API void uvm_purge(void);

#ifdef __cplusplus
}
#endif

#endif /* UVMALLOC_UVMALLOC_H */
