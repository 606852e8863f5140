// Fault injection for the platform layer: tests make a chosen system call
// fail to check that every caller fails cleanly and loses nothing. One
// relaxed atomic load per call when nothing is armed.
#pragma once

#include <atomic>

namespace uvm::pal {

enum class fault : int {
  mmap_fixed,  // map_file_fixed, map_file_private_fixed, map_none_fixed
  anon,        // map_anon (metadata slabs)
  memfd,       // memfd_create (the /dev/shm fallback is tried next)
  shm,         // the /dev/shm fallback
  set_size,    // ftruncate
  punch,       // fallocate PUNCH_HOLE
  populate,    // populate (MADV_POPULATE_READ)
  uring_init,  // io_uring_queue_init
  uring_cqe,   // an io_uring completion (its result becomes -errno)
  fd_lost,     // same_file: the descriptor no longer names its file
  count
};

// Fail calls nth, nth + 1, ..., nth + times - 1 from now (nth = 1: the next
// call) of `what` with `err`.
void inject_fault(fault what, unsigned nth, int err, unsigned times = 1);
void clear_faults();
// For pal itself: true (and *err set) when this call must fail.
bool injected(fault what, int* err);

}  // namespace uvm::pal
