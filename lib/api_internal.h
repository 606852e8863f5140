// What the C API shares with the preload shim: the process-wide Vmalloc and
// the report for pointers that start no live area.
#pragma once

#include <signal.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace uvm {

class Vmalloc;

// Held shared by every operation on the instance and exclusively across
// fork(), so the fork handlers see no operation half done.
class fork_guard {
 public:
  fork_guard();
  ~fork_guard();
  fork_guard(const fork_guard&) = delete;
  fork_guard& operator=(const fork_guard&) = delete;

 private:
  unsigned slot_;  // the fork barrier's slot it entered by
};

// The shim's routing threshold, without creating the instance (so programs
// that never allocate large blocks pay nothing).
size_t large_threshold();

// The process-wide instance, created on first call; null if it cannot be.
Vmalloc* instance();
// The instance if it exists already (no creation); async-signal-safe.
Vmalloc* instance_if_ready();
// The same, after mending a fork without handlers or a lost pool descriptor
// (api.cc mend()): what every operation that may use pages calls.
Vmalloc* instance_mended();

// The errno for a failed call's UVM_* status.
int status_errno(int status);

// An operation that makes something: `op(vm, &status)` on the instance under
// a fork_guard, null with errno set when it (or the instance) fails.
template <typename T, typename Op>
T* make_or_errno(Op op) {
  Vmalloc* vm = instance();
  if (vm == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  int status = 0;
  T* made;
  {
    fork_guard g;
    made = op(vm, &status);
  }
  if (made == nullptr) errno = status_errno(status);
  return made;
}

// The fork handlers (pthread_atfork), for the shim's _Fork().
void fork_prepare();
void fork_parent();
void fork_child();
// The allocation entry points behind the C API, for callers (the preload
// shim) that name their own caller and call: null with errno set on failure.
void* alloc(size_t size, size_t align, unsigned flags, const void* caller);
// Bad pointers are reported (and abort unless bad_free:warn), naming `call`.
void* realloc(void* p, size_t size, const void* caller, const char* call);
void free(void* p, const char* call);

// The program's memory calls on the vmalloc space (api_mm.cc), for the
// shim's madvise, mprotect, mlock and mlockall: 0 or -errno, as the kernel
// gives them on private anonymous memory. mm_space() gives the space's
// bounds (false while there is no instance); the others take a page-aligned
// range inside them.
bool mm_space(uintptr_t* lo, uintptr_t* hi);
int mm_advise(uintptr_t start, size_t len, int advice);
int mm_protect(uintptr_t start, size_t len, int prot);
int mm_lock(uintptr_t start, size_t len, unsigned flags, bool lock);
// mlockall/munlockall for the whole process; mlockall with MCL_FUTURE
// creates the instance first, so its reservation is never locked.
int mm_lockall(int flags);
int mm_unlockall();

// Explain SIGSEGVs in the vmalloc space (segv.cc); chains to the handler
// installed before it.
void install_segv_handler();
// sigaction(SIGSEGV, act, old) as the program sees it (the shim's
// interposer): once our handler is in, the program's disposition is recorded
// and reported back, never ours; before, the call goes to the kernel. 0, or
// -1 with errno set.
int segv_program_action(const struct sigaction* act, struct sigaction* old);
// In a fork child: the writers' lock of segv_program_action may have been
// held by a parent thread that the child does not have.
void segv_fork_child();

namespace shim {
// The C library's sigaction, past the shim's interposer (preload_signal.cc).
// Weak: null outside the shim, where ::sigaction is the C library's.
using sigaction_fn = int (*)(int, const struct sigaction*, struct sigaction*);
[[gnu::weak]] sigaction_fn next_sigaction();
}  // namespace shim

// One line on stderr naming the call, the pointer and the area it falls in,
// then abort() unless bad_free:warn is set.
void report_bad_pointer(const char* call, const void* p, int status);

}  // namespace uvm
