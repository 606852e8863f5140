// pal_uring: the one io_uring of the page pool (liburing), used to work on
// the memfd off the caller's path: punching holes to release pages,
// allocating pages ahead of demand, and writing zeros into holes. io_uring
// punts these to its worker thread, so submitting returns at once. Where io_uring_queue_init fails
// (kernel.io_uring_disabled, seccomp), enabled() is false and the pool does
// the same work synchronously.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "pal_fault.h"

namespace uvm::pal {

// alloc: fallocate mode 0; the pages exist but shmem clears each one at
// its first fault, on the caller's path. zero: write zeros (at most
// kZeroChunk bytes), which leaves the pages cleared and up to date, so a
// later MAP_POPULATE only maps them (a quarter of the cost). Only for
// ranges nobody maps until the write has completed.
enum class file_op : uint8_t { alloc, punch, zero };
inline constexpr size_t kZeroChunk = size_t{2} << 20;

class AsyncFile {
 public:
  AsyncFile() = default;
  AsyncFile(const AsyncFile&) = delete;
  AsyncFile& operator=(const AsyncFile&) = delete;
  ~AsyncFile();

  // 0, or -errno from io_uring_queue_init.
  int init(unsigned entries);
  // In a fork child: drop the parent's ring (its queues are shared memory
  // with the parent) and make a new one.
  void reinit_in_child(unsigned entries);
  // Stop using the ring without closing or unmapping anything (its
  // descriptor number may belong to someone else now).
  void abandon() {
    enabled_ = false;
    inflight_ = 0;
  }
  bool enabled() const { return enabled_; }
  unsigned inflight() const { return inflight_; }

  // Queue one operation on `fd`; false when the ring is full or disabled.
  bool queue(int fd, file_op op, size_t off, size_t len, uint64_t tag);
  // Hand queued operations to the kernel: 0 or -errno.
  int submit();

  // Call fn(tag, result) for each finished operation; with `wait`, block
  // until everything in flight has finished. Returns how many were reaped.
  template <typename Fn>
  unsigned reap(Fn&& fn, bool wait = false) {
    unsigned n = 0;
    // Waiting on operations still sitting in the SQ would never return.
    if (wait && enabled_ && inflight_ > 0) io_uring_submit(&ring_);
    while (enabled_ && inflight_ > 0) {
      io_uring_cqe* cqe = nullptr;
      int rc = wait ? io_uring_wait_cqe(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
      if (rc != 0 || cqe == nullptr) break;
      uint64_t tag = io_uring_cqe_get_data64(cqe);
      int res = cqe->res;
      int err;
      if (injected(fault::uring_cqe, &err)) res = -err;
      io_uring_cqe_seen(&ring_, cqe);
      --inflight_;
      ++n;
      fn(tag, res);
    }
    return n;
  }

 private:
  io_uring ring_{};
  const void* zeros_ = nullptr;  // kZeroChunk of the zero page, read-only
  bool enabled_ = false;
  unsigned inflight_ = 0;  // queued or submitted, not yet reaped
};

}  // namespace uvm::pal
