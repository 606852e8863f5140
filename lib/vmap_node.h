// vmap_node: the per-CPU part of vmalloc (Linux 6.9's struct vmap_node,
// "Mitigate a vmap lock contention"). Each CPU frees into its own node and
// reuses from it first, so threads on different CPUs that free and allocate
// blocks write no common cache line: each node holds its lazily freed areas
// under its own lock, its own operation counters (summed on read), and its
// share of the global lazy byte count not yet published.
//
// Locks: lazy.lock() (an AdaptiveMutex: other CPUs take it to steal)
// guards `lazy` (but its bytes()) and `published`; the counters and the
// `freed` history are atomics written by any thread that ran on this CPU.
// Several node locks are taken in index order only, after the space's busy
// lock and never before it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "lazy_areas.h"

namespace uvm {

struct alignas(128) vmap_node {
  LazyAreas lazy;
  // lazy.bytes() as last added to Vmalloc's lazy total: the node publishes
  // only when the two drift apart by a batch (the kernel's percpu_counter).
  size_t published = 0;
  std::atomic<size_t> allocs{0}, frees{0}, reused{0}, trimmed{0};
  // The last areas freed on this node, so a use after free can name what
  // was there (segv.cc reads every node's, lock-free).
  struct freed_area {
    std::atomic<uintptr_t> start{0}, end{0}, caller{0};
    std::atomic<uint64_t> when{0};  // pal::coarse_ns
  };
  static constexpr unsigned kFreedHistory = 16;
  freed_area freed[kFreedHistory];
  std::atomic<unsigned> freed_next{0};
};

}  // namespace uvm
