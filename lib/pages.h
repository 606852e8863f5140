// The caller-owned page handle of the public API (the kernel's struct page,
// but for a whole run): pages of the pool's memfd plus a reference count, one
// for the owner and one for each mapping, so pages never return to the pool
// while something still maps them.
#pragma once

#include <atomic>

#include "page_pool.h"

struct uvm_pages {
  uvm::page_run run;
  std::atomic<long> refs;
  uint32_t gen;  // the pool file its pages are in (fork.cc)
};

namespace uvm {

kmem_cache_of<uvm_pages>& pages_cache();

}  // namespace uvm
