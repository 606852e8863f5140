// The entry points behind the shim's madvise, mprotect, mlock and mlockall
// (preload_mm.cc): the fork exclusion, then the instance (vm_advise.cc).
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "api_internal.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

// After api.cc's child handler (registered earlier, at instance creation,
// and child handlers run in registration order): the child's new pool file
// is in place and its fork lock fresh.
void mm_child() {
  if (Vmalloc* vm = instance_if_ready()) vm->mm_fork_child();
}

std::once_flag g_child_once;

Vmalloc* mm_instance() {
  Vmalloc* vm = instance_if_ready();
  if (vm != nullptr)
    std::call_once(g_child_once, [] { pthread_atfork(nullptr, nullptr, mm_child); });
  return vm;
}

}  // namespace

bool mm_space(uintptr_t* lo, uintptr_t* hi) {
  Vmalloc* vm = instance_if_ready();
  if (vm == nullptr) return false;
  *lo = vm->space_start();
  *hi = vm->space_end();
  return true;
}

int mm_advise(uintptr_t start, size_t len, int advice) {
  Vmalloc* vm = mm_instance();
  if (vm == nullptr) return -ENOMEM;
  fork_guard g;
  return vm->mm_advise(start, len, advice);
}

int mm_protect(uintptr_t start, size_t len, int prot) {
  Vmalloc* vm = mm_instance();
  if (vm == nullptr) return -ENOMEM;
  fork_guard g;
  return vm->mm_protect(start, len, prot);
}

int mm_lock(uintptr_t start, size_t len, unsigned flags, bool lock) {
  Vmalloc* vm = mm_instance();
  if (vm == nullptr) return -ENOMEM;
  fork_guard g;
  return vm->mm_lock(start, len, flags, lock);
}

int mm_lockall(int flags) {
  // A reservation made after MCL_FUTURE would be locked whole (and refused
  // over RLIMIT_MEMLOCK): make it now.
  if (flags & MCL_FUTURE) instance();
  Vmalloc* vm = mm_instance();
  if (vm == nullptr) return pal::lock_all(flags);
  fork_guard g;
  return vm->mm_lockall(flags);
}

int mm_unlockall() {
  Vmalloc* vm = mm_instance();
  if (vm == nullptr) return pal::unlock_all();
  fork_guard g;
  return vm->mm_unlockall();
}

}  // namespace uvm
