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
  UVM_EFOREIGN = 7,  /* address is outside the vmalloc space */
  UVM_EWRONGKIND = 8 /* an area of another kind (uvm_vmap, vm_map_ram, vmalloc) */
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

/* ---- Pages as objects (the kernel's alloc_pages + vmap family) ----
 * A uvm_pages handle is a run of pages of the page memfd that the caller
 * owns. The same pages may be mapped any number of times; writes through one
 * mapping are seen through every other. */
typedef struct uvm_pages uvm_pages;
/* n contiguous pages; their contents are unspecified (as alloc_pages
 * without __GFP_ZERO). NULL with errno on failure. */
UVM_API uvm_pages* uvm_alloc_pages(size_t n);
/* Give up the handle; the pages go back to the pool once no uvm_vmap or
 * uvm_vm_map_ram mapping of them remains. NULL is fine. */
UVM_API void uvm_free_pages(uvm_pages* pages);
UVM_API size_t uvm_pages_count(const uvm_pages* pages);

#define UVM_VMAP_NO_GUARD 1u /* no guard page after the mapping */
/* Map the pages of count handles back to back (each handle whole), followed
 * by a guard page unless UVM_VMAP_NO_GUARD. NULL with errno on failure. */
UVM_API void* uvm_vmap(uvm_pages* const* pages, size_t count, unsigned flags);
/* Remove a uvm_vmap mapping; the pages stay with their handles. */
UVM_API void uvm_vunmap(void* addr);
/* Fast path for short-lived mappings of few pages (at most 64 in total):
 * carved from a per-thread block of the space without the tree locks, no
 * guard page (the kernel's vmap_block). Unmap with uvm_vm_unmap_ram and the
 * same total page count. */
UVM_API void* uvm_vm_map_ram(uvm_pages* const* pages, size_t count);
UVM_API void uvm_vm_unmap_ram(void* addr, size_t pages);

struct uvm_page_info {
  uvm_pages* pages;   /* the handle mapped there (uvm_vmap, vm_map_ram), else NULL */
  size_t index;       /* page index within that handle, or within the area */
  size_t file_offset; /* the page's offset in its memfd */
  size_t offset;      /* byte offset of addr within the page */
};
/* The page behind an address of any live area. */
UVM_API int uvm_vmalloc_to_page(const void* addr, struct uvm_page_info* info);

/* ---- Sharing with another process (vmalloc_user + remap_vmalloc_range) ----
 * A shareable allocation has a sealed memfd of its own (never the pool's), so
 * handing its descriptor to another process reaches exactly its pages. */
UVM_API void* uvm_vmalloc_user(size_t size);
struct uvm_export {
  int fd;        /* a new descriptor (O_CLOEXEC) the caller closes */
  size_t offset; /* where the allocation starts in fd */
  size_t length; /* mapped length (page multiple) */
};
/* Export a uvm_vmalloc_user allocation: mmap(NULL, length, PROT_READ |
 * PROT_WRITE, MAP_SHARED, fd, offset) in any process maps the same pages.
 * UVM_EWRONGKIND for an allocation that was not made shareable. */
UVM_API int uvm_export(const void* p, struct uvm_export* out);

/* ---- Magic ring buffer ----
 * The same pages mapped twice back to back: a read or write of up to `size`
 * bytes starting anywhere in the first copy never wraps. */
struct uvm_ring {
  unsigned char* base; /* 2 * size bytes of address space */
  size_t size;         /* capacity, a page multiple */
  uvm_pages* pages;
};
UVM_API int uvm_ring_create(struct uvm_ring* ring, size_t size);
UVM_API void uvm_ring_destroy(struct uvm_ring* ring);

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
/* Usable size of the allocation starting at p, or 0: the size asked rounded
 * up to pages, or up to half as much again when a freed block was reused. */
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
  size_t trimmed;        /* of those, areas whose tail was unmapped first */
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
  /* What the process really holds, mapped or not. Mapped memfd pages are in
   * RssShmem; pages left in a memfd after unmapping are in no RSS figure. */
  size_t rss_anon;  /* RssAnon of /proc/self/status */
  size_t rss_file;  /* RssFile */
  size_t memfd;     /* every page in uvmalloc's pool files (current and kept after fork) */
  size_t footprint; /* rss_anon + rss_file + memfd: each page counted once */
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
/* uvm_purge(), and return the bytes of memfd pages it gave back to the
 * kernel: afterwards uvmalloc holds only the pages of live blocks. What
 * malloc_trim(0) does under the shim. */
UVM_API size_t uvm_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* UVMALLOC_UVMALLOC_H */
