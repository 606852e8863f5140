// The memory calls a program makes on its memory: madvise, mprotect,
// mlock/mlock2/munlock, mlockall/munlockall, munmap and mremap. Outside the
// vmalloc space they go straight to the next definition (libc); inside it
// they go to the library (lib/vm_advise.cc), which makes them behave on a
// block as on glibc's private anonymous memory, across fork() and free().
//
// munmap and mremap of any part of the vmalloc space are refused loudly
// (EINVAL and one line on stderr) rather than obeyed or emulated: obeying
// leaves a hole that the program's next mmap takes and that uvmalloc later
// maps over (the block's free or purge puts PROT_NONE back over its whole
// range), and retiring the range for good would cost the space and the VMA
// budget for the life of the process and make free() of the block special.
// munmap of a malloc'd block is undefined behaviour with any allocator (it
// only happens to work on glibc's mmap'd chunks), so the refusal names the
// block and says what to do instead.
//
// The library's own calls (pal) reach these interposers too, since the shim
// exports the names: a call whose return address is inside the shim goes
// to libc at once.
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "api_internal.h"
#include "pal.h"
#include "shim.h"
#include "uvmalloc/uvmalloc.h"

#define UVM_EXPORT extern "C" __attribute__((visibility("default")))

// The shim's own extent, from the linker.
extern "C" char __ehdr_start[] __attribute__((visibility("hidden")));
extern "C" char _end[] __attribute__((visibility("hidden")));

namespace {

constexpr uintptr_t P = uvm::pal::kPageSize;

bool from_shim(const void* ra) {
  return ra >= static_cast<const void*>(__ehdr_start) && ra < static_cast<const void*>(_end);
}

using advise_fn = int (*)(void*, size_t, int);
using protect_fn = int (*)(void*, size_t, int);
using lock_fn = int (*)(const void*, size_t);
using lock2_fn = int (*)(const void*, size_t, unsigned);
using lockall_fn = int (*)(int);
using unlockall_fn = int (*)();
using unmap_fn = int (*)(void*, size_t);
using remap_fn = void* (*)(void*, size_t, size_t, int, ...);

std::atomic<advise_fn> g_madvise;
std::atomic<protect_fn> g_mprotect;
std::atomic<lock_fn> g_mlock, g_munlock;
std::atomic<lock2_fn> g_mlock2;
std::atomic<lockall_fn> g_mlockall;
std::atomic<unlockall_fn> g_munlockall;
std::atomic<unmap_fn> g_munmap;
std::atomic<remap_fn> g_mremap;

// Without a next definition (a static libc, an old one without mlock2):
// the system call itself.
int real_madvise(uintptr_t a, size_t len, int advice) {
  if (auto f = uvm::shim::next_cached(g_madvise, "madvise"))
    return f(reinterpret_cast<void*>(a), len, advice);
  return static_cast<int>(syscall(SYS_madvise, a, len, advice));
}
int real_mprotect(uintptr_t a, size_t len, int prot) {
  if (auto f = uvm::shim::next_cached(g_mprotect, "mprotect"))
    return f(reinterpret_cast<void*>(a), len, prot);
  return static_cast<int>(syscall(SYS_mprotect, a, len, prot));
}
int real_mlock2(uintptr_t a, size_t len, unsigned flags) {
  if (flags == 0)
    if (auto f = uvm::shim::next_cached(g_mlock, "mlock"))
      return f(reinterpret_cast<void*>(a), len);
  if (auto f = uvm::shim::next_cached(g_mlock2, "mlock2"))
    return f(reinterpret_cast<void*>(a), len, flags);
  return static_cast<int>(syscall(SYS_mlock2, a, len, flags));
}
int real_munlock(uintptr_t a, size_t len) {
  if (auto f = uvm::shim::next_cached(g_munlock, "munlock"))
    return f(reinterpret_cast<void*>(a), len);
  return static_cast<int>(syscall(SYS_munlock, a, len));
}

// A call's range [a, e) against the vmalloc space [lo, hi). `inside` is
// false for calls that are none of the space's business: no instance yet,
// an unaligned start or an empty or wrapping range (the kernel refuses
// those itself), or a range wholly outside.
struct span {
  uintptr_t a, e, lo, hi;
  bool inside;
};

span classify(const void* addr, size_t len) {
  span s{};
  s.a = reinterpret_cast<uintptr_t>(addr);
  size_t rounded = uvm::pal::page_align(len);
  if (len == 0 || rounded < len || s.a % P != 0 || s.a + rounded < s.a) return s;
  s.e = s.a + rounded;
  if (!uvm::mm_space(&s.lo, &s.hi)) return s;
  s.inside = s.a < s.hi && s.e > s.lo;
  return s;
}

int set_errno(int rc) {
  if (rc == 0) return 0;
  errno = -rc;
  return -1;
}

// -errno of a libc-style call.
int status(int rc) {
  return rc == 0 ? 0 : -errno;
}

// The parts of `s` below and above the space go to `real`, the part inside
// to `lib`; in address order, stopping at the first error unless the call
// goes on past unmapped parts (madvise: `past_enomem`).
template <typename Real, typename Lib>
int split(const span& s, bool past_enomem, Real&& real, Lib&& lib) {
  int gap = 0;
  auto step = [&](int rc) {
    if (rc == -ENOMEM && past_enomem) {
      gap = rc;
      return 0;
    }
    return rc;
  };
  uintptr_t in_a = s.a < s.lo ? s.lo : s.a, in_e = s.e > s.hi ? s.hi : s.e;
  int rc = 0;
  if (s.a < s.lo) rc = step(status(real(s.a, s.lo - s.a)));
  if (rc == 0) rc = step(lib(in_a, in_e - in_a));
  if (rc == 0 && s.e > s.hi) rc = step(status(real(s.hi, s.e - s.hi)));
  return rc != 0 ? rc : gap;
}

void refuse(const char* call, const void* addr, size_t len) {
  char line[400];
  uvm_area area;
  int n;
  if (uvm_find_vm_area(addr, &area) == UVM_OK || uvm_find_vm_area(addr, &area) == UVM_EINTERIOR)
    n = snprintf(line, sizeof line,
                 "uvmalloc: %s(%p, %zu): refused (EINVAL): inside the malloc block %p (%zu "
                 "bytes) in uvmalloc's vmalloc space; free() the block instead\n",
                 call, addr, len, area.addr, area.size);
  else
    n = snprintf(line, sizeof line,
                 "uvmalloc: %s(%p, %zu): refused (EINVAL): the range is in uvmalloc's vmalloc "
                 "space, which only malloc's blocks use\n",
                 call, addr, len);
  if (n > 0 && write(2, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1) < 0)
    return;
}

bool overlaps_space(const void* addr, size_t len) {
  uintptr_t lo, hi, a = reinterpret_cast<uintptr_t>(addr);
  if (!uvm::mm_space(&lo, &hi)) return false;
  uintptr_t e = a + len < a ? UINTPTR_MAX : a + len;
  return a < hi && e > lo;
}

}  // namespace

UVM_EXPORT int madvise(void* addr, size_t len, int advice) {
  span s = classify(addr, len);
  if (from_shim(__builtin_return_address(0)) || !s.inside) return real_madvise(s.a, len, advice);
  return set_errno(split(
      s, true, [&](uintptr_t a, size_t n) { return real_madvise(a, n, advice); },
      [&](uintptr_t a, size_t n) { return uvm::mm_advise(a, n, advice); }));
}

UVM_EXPORT int mprotect(void* addr, size_t len, int prot) {
  span s = classify(addr, len);
  if (from_shim(__builtin_return_address(0)) || !s.inside) return real_mprotect(s.a, len, prot);
  return set_errno(split(
      s, false, [&](uintptr_t a, size_t n) { return real_mprotect(a, n, prot); },
      [&](uintptr_t a, size_t n) { return uvm::mm_protect(a, n, prot); }));
}

namespace {

// mlock rounds the start down to a page, unlike madvise and mprotect.
int lock_range(const void* addr, size_t len, unsigned flags, bool lock, const void* ra) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t down = a & ~(P - 1);
  size_t full = len + (a - down);
  span s = full < len ? span{} : classify(reinterpret_cast<void*>(down), full);
  if (from_shim(ra) || !s.inside || flags & ~static_cast<unsigned>(MLOCK_ONFAULT))
    return lock ? real_mlock2(a, len, flags) : real_munlock(a, len);
  return set_errno(split(
      s, false,
      [&](uintptr_t b, size_t n) { return lock ? real_mlock2(b, n, flags) : real_munlock(b, n); },
      [&](uintptr_t b, size_t n) { return uvm::mm_lock(b, n, flags, lock); }));
}

}  // namespace

UVM_EXPORT int mlock(const void* addr, size_t len) {
  return lock_range(addr, len, 0, true, __builtin_return_address(0));
}

UVM_EXPORT int mlock2(const void* addr, size_t len, unsigned flags) {
  return lock_range(addr, len, flags, true, __builtin_return_address(0));
}

UVM_EXPORT int munlock(const void* addr, size_t len) {
  return lock_range(addr, len, 0, false, __builtin_return_address(0));
}

UVM_EXPORT int mlockall(int flags) {
  // An inert shim makes no instance (mm_lockall would, to keep its
  // reservation unlocked).
  if (from_shim(__builtin_return_address(0)) || !uvm::shim::active()) {
    if (auto f = uvm::shim::next_cached(g_mlockall, "mlockall")) return f(flags);
    return static_cast<int>(syscall(SYS_mlockall, flags));
  }
  return set_errno(uvm::mm_lockall(flags));
}

UVM_EXPORT int munlockall() {
  if (from_shim(__builtin_return_address(0))) {
    if (auto f = uvm::shim::next_cached(g_munlockall, "munlockall")) return f();
    return static_cast<int>(syscall(SYS_munlockall));
  }
  return set_errno(uvm::mm_unlockall());
}

UVM_EXPORT int munmap(void* addr, size_t len) {
  if (!from_shim(__builtin_return_address(0)) && len != 0 && overlaps_space(addr, len)) {
    refuse("munmap", addr, len);
    errno = EINVAL;
    return -1;
  }
  if (auto f = uvm::shim::next_cached(g_munmap, "munmap")) return f(addr, len);
  return static_cast<int>(syscall(SYS_munmap, addr, len));
}

UVM_EXPORT void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) {
  void* new_addr = nullptr;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  if (!from_shim(__builtin_return_address(0)) &&
      ((old_len != 0 && overlaps_space(old, old_len)) ||
       ((flags & MREMAP_FIXED) && overlaps_space(new_addr, new_len)))) {
    refuse("mremap", old, old_len);
    errno = EINVAL;
    return MAP_FAILED;
  }
  if (auto f = uvm::shim::next_cached(g_mremap, "mremap"))
    return f(old, old_len, new_len, flags, new_addr);
  return reinterpret_cast<void*>(syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
}
