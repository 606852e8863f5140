#include "pal_uring.h"

#include <liburing.h>
#include <linux/falloc.h>

#include <cerrno>
#include <new>

#include "pal.h"
#include "pal_fault.h"

namespace uvm::pal {

static_assert(sizeof(io_uring) <= AsyncFile::kRingBytes &&
                  alignof(io_uring) <= AsyncFile::kRingAlign,
              "AsyncFile's ring storage is too small for this liburing");

io_uring* AsyncFile::ring() {
  return std::launder(reinterpret_cast<io_uring*>(ring_));
}

unsigned AsyncFile::reap_each(void (*fn)(void*, uint64_t, int), void* ctx, bool wait) {
  unsigned n = 0;
  // Waiting on operations still sitting in the SQ would never return.
  if (wait && enabled_ && inflight_ > 0) io_uring_submit(ring());
  while (enabled_ && inflight_ > 0) {
    io_uring_cqe* cqe = nullptr;
    int rc = wait ? io_uring_wait_cqe(ring(), &cqe) : io_uring_peek_cqe(ring(), &cqe);
    if (rc != 0 || cqe == nullptr) break;
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    int err;
    if (injected(fault::uring_cqe, &err)) res = -err;
    io_uring_cqe_seen(ring(), cqe);
    --inflight_;
    ++n;
    fn(ctx, tag, res);
  }
  return n;
}

AsyncFile::~AsyncFile() {
  if (enabled_) io_uring_queue_exit(ring());
}

int AsyncFile::init(unsigned entries) {
  int err;
  if (injected(fault::uring_init, &err)) {
    enabled_ = false;
    return -err;
  }
  int rc = io_uring_queue_init(entries, ring(), 0);
  enabled_ = rc == 0;
  // The source of zero writes: anonymous memory never written reads as
  // the zero page, so this costs no memory (kept across a fork).
  if (enabled_ && zeros_ == nullptr) zeros_ = map_zeros(kZeroChunk);
  if (enabled_) {
    // One worker: fallocates on one file serialise on its inode lock anyway,
    // and a second worker would spin on that lock, taking a core from the
    // program (this machine has two).
    unsigned workers[2] = {1, 1};
    io_uring_register_iowq_max_workers(ring(), workers);
  }
  return rc;
}

void AsyncFile::reinit_in_child(unsigned entries) {
  if (!enabled_) return;        // uring:0 or it failed: the child does without, too
  io_uring_queue_exit(ring());  // unmaps and closes only our copies
  inflight_ = 0;
  init(entries);
}

bool AsyncFile::queue(int fd, file_op op, size_t off, size_t len, uint64_t tag) {
  if (!enabled_) return false;
  // Completions are only reaped by peeking, so never queue more than the CQ holds.
  if (inflight_ >= ring()->cq.ring_entries) return false;
  if (op == file_op::zero && (len > kZeroChunk || zeros_ == nullptr)) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(ring());
  if (sqe == nullptr) return false;
  if (op == file_op::zero) {
    io_uring_prep_write(sqe, fd, zeros_, static_cast<unsigned>(len), off);
  } else {
    int mode = op == file_op::punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0;
    io_uring_prep_fallocate(sqe, fd, mode, static_cast<off_t>(off), static_cast<off_t>(len));
  }
  // Straight to the worker: a buffered write to shmem would otherwise run
  // inline, in the submitting caller, which is what this is here to avoid.
  sqe->flags |= IOSQE_ASYNC;
  io_uring_sqe_set_data64(sqe, tag);
  ++inflight_;
  return true;
}

int AsyncFile::submit() {
  if (!enabled_) return -ENOSYS;
  int rc = io_uring_submit(ring());
  return rc < 0 ? rc : 0;
}

}  // namespace uvm::pal
