/* uvmalloc: a user-space vmalloc. Public C API (prefix uvm_).
 *
 * Large allocations live in one reserved PROT_NONE range (the "vmalloc space")
 * and are backed by pages of a memfd, mapped contiguously. */
#ifndef UVMALLOC_UVMALLOC_H
#define UVMALLOC_UVMALLOC_H

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
  UVM_EINVAL = 1,      /* size 0, alignment not a power of two, empty window */
  UVM_EOVERFLOW = 2,   /* size (plus alignment or guard) wraps around */
  UVM_ENOSPC = 3,      /* no free range fits in the window */
  UVM_ENOMEM = 4,      /* metadata, pages or mappings could not be had */
  UVM_ENOTALLOC = 5,   /* address is in the space but no live area starts there */
  UVM_EINTERIOR = 6,   /* address points inside a live area, not at its start */
  UVM_EFOREIGN = 7     /* address is outside the vmalloc space */
} uvm_status;

/* A short constant description of a status, e.g. "double free or never allocated". */
UVM_API const char* uvm_strerror(int status);

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
UVM_API const char* uvm_version(void);

#ifdef __cplusplus
}
#endif

#endif /* UVMALLOC_UVMALLOC_H */
