// pal_uring: the one io_uring of the page pool (liburing), used to work on
// the memfd off the caller's path: punching holes to release pages,
// allocating pages ahead of demand, and writing zeros into holes. io_uring
// punts these to its worker thread, so submitting returns at once. Where io_uring_queue_init fails
// (kernel.io_uring_disabled, seccomp), enabled() is false and the pool does
// the same work synchronously.
//
// <liburing.h> stays in pal_uring.cc: the ring lives in storage of its own
// here, and reap() hands each completion over through a plain function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

struct io_uring;  // <liburing.h>

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
    using F = std::remove_reference_t<Fn>;
    return reap_each([](void* f, uint64_t tag, int res) { (*static_cast<F*>(f))(tag, res); }, &fn,
                     wait);
  }
  unsigned reap_each(void (*fn)(void* ctx, uint64_t tag, int res), void* ctx, bool wait);

  // Room for a struct io_uring (pal_uring.cc checks that it fits).
  static constexpr size_t kRingBytes = 512, kRingAlign = 16;

 private:
  ::io_uring* ring();
  alignas(kRingAlign) unsigned char ring_[kRingBytes] = {};
  const void* zeros_ = nullptr;  // kZeroChunk of the zero page, read-only
  bool enabled_ = false;
  unsigned inflight_ = 0;  // queued or submitted, not yet reaped
};

}  // namespace uvm::pal
