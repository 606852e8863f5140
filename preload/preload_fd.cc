// Descriptors and forks the program makes behind the malloc family's back.
//
// uvmalloc's descriptors (the pool file, old pool files kept after a fork,
// the copy of stderr for the exit report) sit at high numbers that the
// program never opened. With glibc those numbers would be free, so close()
// of one fails with EBADF, and close_range()/closefrom() close everything
// but them. What gets past this (a raw system call, dup2 onto the number) is
// caught before the next use by the file identity check (lib/page_pool.cc).
//
// _Fork() runs no fork handlers; it is wrapped in uvmalloc's so its child
// gets the same private snapshot as fork()'s. Children of a raw fork system
// call or clone() without CLONE_VM are detected afterwards (lib/api.cc).
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "api_internal.h"
#include "pal.h"
#include "shim.h"

#define UVM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

int close_range_raw(unsigned first, unsigned last, int flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

// close_range over [first, last] except uvmalloc's own descriptors.
int close_range_sparing(unsigned first, unsigned last, int flags) {
  unsigned from = first;
  for (unsigned fd = first; fd <= last && fd <= static_cast<unsigned>(INT_MAX); ++fd) {
    if (!uvm::pal::fd_owned(static_cast<int>(fd))) {
      // Only numbers below the highest owned one need looking at one by one.
      if (!uvm::pal::fd_owned_above(static_cast<int>(fd))) break;
      continue;
    }
    if (fd > from && close_range_raw(from, fd - 1, flags) != 0) return -1;
    from = fd + 1;
  }
  if (from > last || from == 0) return 0;  // 0: wrapped past UINT_MAX
  return close_range_raw(from, last, flags);
}

}  // namespace

UVM_EXPORT int close(int fd) {
  using close_fn = int (*)(int);
  static close_fn next = reinterpret_cast<close_fn>(uvm::shim::next_symbol("close"));
  if (uvm::pal::fd_owned(fd)) {
    errno = EBADF;  // what the program would get where the number is free
    return -1;
  }
  return next != nullptr ? next(fd) : static_cast<int>(syscall(SYS_close, fd));
}

UVM_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (first > last) {
    errno = EINVAL;
    return -1;
  }
  return close_range_sparing(first, last, flags);
}

UVM_EXPORT void closefrom(int lowfd) {
  close_range_sparing(lowfd < 0 ? 0u : static_cast<unsigned>(lowfd), ~0u, 0);
}

UVM_EXPORT pid_t _Fork() {
  using fork_fn = pid_t (*)();
  static fork_fn next = reinterpret_cast<fork_fn>(uvm::shim::next_symbol("_Fork"));
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  uvm::fork_prepare();
  pid_t pid = next();
  if (pid == 0)
    uvm::fork_child();
  else
    uvm::fork_parent();
  return pid;
}
