#include "uvmalloc/uvmalloc.h"

#define UVM_STR2(x) #x
#define UVM_STR(x) UVM_STR2(x)

extern "C" const char* uvm_strerror(int status) {
  switch (status) {
    case UVM_OK:
      return "success";
    case UVM_EINVAL:
      return "invalid argument (zero size, alignment not a power of two or empty window)";
    case UVM_EOVERFLOW:
      return "size overflows";
    case UVM_ENOSPC:
      return "no free range of the vmalloc space fits";
    case UVM_ENOMEM:
      return "out of memory for pages, mappings or metadata";
    case UVM_ENOTALLOC:
      return "double free or never allocated";
    case UVM_EINTERIOR:
      return "pointer into the middle of an allocation";
    case UVM_EFOREIGN:
      return "pointer outside the vmalloc space";
    case UVM_EWRONGKIND:
      return "area of another kind (free uvm_vmap areas with uvm_vunmap, vm_map_ram ones with "
             "uvm_vm_unmap_ram)";
    default:
      return "unknown uvmalloc status";
  }
}

extern "C" const char* uvm_version(void) {
  return UVM_STR(UVMALLOC_VERSION_MAJOR) "." UVM_STR(UVMALLOC_VERSION_MINOR) "." UVM_STR(
      UVMALLOC_VERSION_PATCH);
}
