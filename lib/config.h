// config: every setting in one place, with its UVMALLOC_CONF name (the
// MALLOC_CONF style: "key:value,key:value"). Sizes take K, M, G, T suffixes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "page_pool.h"

namespace uvm {

struct vm_config {
  size_t reserve = size_t{64} << 30;     // reserve: vmalloc space to reserve
  size_t min_reserve = size_t{1} << 30;  // smallest reservation accepted
  size_t lazy_max =
      size_t{128} << 20;           // lazy: freed-but-mapped bytes before a purge (0: unmap at once)
  bool guard = true;               // guard: a PROT_NONE page after each area
  long vma_max = 0;                // vma_max: VMAs uvmalloc may create (0: from max_map_count)
  long vma_headroom = 8192;        // vma_headroom: VMAs left to the program
  bool thp = true;                 // thp: MADV_HUGEPAGE where shmem THP is "advise"
  bool stats_at_exit = false;      // stats: print stats and vmallocinfo at exit
  bool footprint_at_exit = false;  // footprint: print the process's footprint at exit
  bool abort_on_bad_free = true;   // bad_free: abort (default) or warn
  bool segv_report = true;         // segv: explain faults in the vmalloc space (segv.cc)
  bool efence = false;             // efence: end blocks against their guard page
  bool purge_thread = true;        // purge_thread: release on time while idle (purge_worker.h)
  size_t populate = SIZE_MAX;      // populate: prefault recycled pages of blocks up to this size
  size_t threshold = size_t{128} << 10;  // threshold: the shim routes malloc of this or more here
  pool_config pool;  // pool_max, decay_ms, refill, uring, live_share, live_floor
};

// Apply "key:value,..." to *cfg. Unknown keys and bad values are reported
// through `warn` (one message each) and skipped. Returns how many were bad.
int parse_config(const char* conf, vm_config* cfg, void (*warn)(const char* msg));

// Fit cfg->reserve and cfg->min_reserve to a soft RLIMIT_AS of `as_limit`
// bytes (SIZE_MAX: none). The PROT_NONE reservation counts fully against the
// limit and the next allocator needs the rest: take an eighth at most, 2 MiB
// aligned (VmSpace::reserve aligns to huge pages), halving down to a
// sixty-fourth if refused.
void fit_reserve_to_limit(vm_config* cfg, size_t as_limit);

}  // namespace uvm
