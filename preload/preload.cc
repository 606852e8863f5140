// libuvmalloc_preload.so: LD_PRELOAD it and allocations of `threshold` bytes
// or more (UVMALLOC_CONF=threshold:N, default 128 KiB) go to uvmalloc; the
// rest go to the next allocator (dlsym RTLD_NEXT: glibc, or jemalloc & co.
// when preloaded after us). Ownership is decided by address alone: a pointer
// inside the vmalloc space is ours, anything else is the next allocator's.
//
// Bootstrap: dlsym may itself call malloc/calloc before the next allocator is
// known; those calls are served from a small static arena whose blocks are
// never passed to anyone's free.
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "api_internal.h"
#include "pal.h"
#include "shim.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

#define UVM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using malloc_fn = void* (*)(size_t);
using free_fn = void (*)(void*);
using calloc_fn = void* (*)(size_t, size_t);
using realloc_fn = void* (*)(void*, size_t);
using memalign_fn = void* (*)(size_t, size_t);
using posix_memalign_fn = int (*)(void**, size_t, size_t);
using usable_fn = size_t (*)(void*);

struct next_allocator {
  malloc_fn malloc;
  free_fn free;
  calloc_fn calloc;
  realloc_fn realloc;
  memalign_fn memalign;
  posix_memalign_fn posix_memalign;  // may be null: then memalign
  usable_fn usable_size;             // may be null: then 0
};

next_allocator g_next;
std::atomic<int> g_next_state{0};  // 0: unknown, 1: resolving, 2: ready

void free_slow(void* p);

// What the small path of every entry point reads, and nothing else: a
// compare against these, then a call through g_next. Plain loads (acquire on
// `small`, which is published after g_next), no call into the core.
//  - small: requests below it go to the next allocator. 0 until the next
//    allocator is known and the threshold read, so that every call takes the
//    slow path (bootstrap, configuration) until then.
//  - space_lo, space_len: the vmalloc space, learned from the instance
//    (uvm::mm_space) before the first block of it is handed out, so every
//    pointer of ours is seen inside. Length 0 until then: nothing is ours.
//    The space is one reservation fixed at init, and a child made by fork has
//    it at the same address, so it is never updated after.
struct alignas(64) hot_state {
  std::atomic<size_t> small{0};
  // The next allocator's free once it is known; until then the slow path
  // (which resolves it).
  std::atomic<free_fn> free{free_slow};
  std::atomic<uintptr_t> space_lo{0};
  std::atomic<uintptr_t> space_len{0};
};
hot_state g_hot;

// The bootstrap arena: 16-byte aligned bump allocation with a size header.
alignas(64) unsigned char g_boot[256 * 1024];
std::atomic<size_t> g_boot_used{0};

// 0 until first read from the configuration (or set by mallopt).
size_t g_threshold = 0;

bool in_boot(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_boot) < sizeof g_boot;
}

// One compare: p - lo wraps for addresses below the space. The length is
// published after the start, so a length read is never paired with an old
// start.
bool in_space(const void* p) {
  uintptr_t len = g_hot.space_len.load(std::memory_order_acquire);
  uintptr_t lo = g_hot.space_lo.load(std::memory_order_relaxed);
  return reinterpret_cast<uintptr_t>(p) - lo < len;
}

// Requests below this go to the next allocator (0: take the slow path).
size_t small_limit() {
  return g_hot.small.load(std::memory_order_acquire);
}

void* boot_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  size_t used = g_boot_used.load(std::memory_order_relaxed);
  for (;;) {
    size_t start = (used + 16 + align - 1) & ~(align - 1);  // room for the header
    if (start + size > sizeof g_boot || start + size < start) return nullptr;
    if (g_boot_used.compare_exchange_weak(used, start + size)) {
      memcpy(g_boot + start - sizeof(size_t), &size, sizeof size);
      return g_boot + start;  // zeroed: static storage, never reused
    }
  }
}

size_t boot_size(const void* p) {
  size_t size;
  memcpy(&size, static_cast<const unsigned char*>(p) - sizeof size, sizeof size);
  return size;
}

}  // namespace

namespace uvm::shim {

// Resolve the next allocator once; calls made meanwhile (from dlsym itself)
// are served by the bootstrap arena.
bool next_ready() {
  int state = g_next_state.load(std::memory_order_acquire);
  if (state == 2) return true;
  int expected = 0;
  if (!g_next_state.compare_exchange_strong(expected, 1)) {
    // Another thread (or dlsym re-entering us) is resolving.
    while (g_next_state.load(std::memory_order_acquire) == 1 && expected == 1) {
      // A re-entrant call from the resolving thread must not spin: use boot.
      return false;
    }
    return g_next_state.load(std::memory_order_acquire) == 2;
  }
  next_allocator n;
  n.malloc = reinterpret_cast<malloc_fn>(dlsym(RTLD_NEXT, "malloc"));
  n.free = reinterpret_cast<free_fn>(dlsym(RTLD_NEXT, "free"));
  n.calloc = reinterpret_cast<calloc_fn>(dlsym(RTLD_NEXT, "calloc"));
  n.realloc = reinterpret_cast<realloc_fn>(dlsym(RTLD_NEXT, "realloc"));
  n.memalign = reinterpret_cast<memalign_fn>(dlsym(RTLD_NEXT, "memalign"));
  n.posix_memalign = reinterpret_cast<posix_memalign_fn>(dlsym(RTLD_NEXT, "posix_memalign"));
  n.usable_size = reinterpret_cast<usable_fn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  if (n.malloc == nullptr || n.free == nullptr || n.calloc == nullptr || n.realloc == nullptr ||
      n.memalign == nullptr) {
    static const char msg[] = "uvmalloc: cannot find the next allocator's malloc\n";
    if (write(2, msg, sizeof msg - 1) < 0) abort();
    abort();
  }
  g_next = n;
  g_hot.free.store(n.free, std::memory_order_release);
  g_next_state.store(2, std::memory_order_release);
  return true;
}

// Requests this large go to uvmalloc (read once from the configuration).
size_t threshold() {
  size_t t = __atomic_load_n(&g_threshold, __ATOMIC_RELAXED);
  if (t != 0) return t;
  t = uvm::large_threshold();
  set_threshold(t);
  return t;
}

void set_threshold(size_t bytes) {
  if (bytes == 0) bytes = 1;
  __atomic_store_n(&g_threshold, bytes, __ATOMIC_RELAXED);
  // Once the small path is open it follows the threshold; before, the slow
  // path opens it with this value.
  if (g_next_state.load(std::memory_order_acquire) == 2)
    g_hot.small.store(bytes, std::memory_order_release);
}

void* next_symbol(const char* name) {
  return dlsym(RTLD_NEXT, name);
}

bool ours(const void* p) {
  return in_space(p);
}

}  // namespace uvm::shim

namespace {

using uvm::shim::next_ready;
using uvm::shim::ours;

// The slow paths' start: false while the next allocator is being resolved
// (serve from the bootstrap arena). Once it is known, opens the small path.
bool ready() {
  if (!next_ready()) return false;
  if (small_limit() == 0) {
    size_t zero = 0;
    g_hot.small.compare_exchange_strong(zero, uvm::shim::threshold(), std::memory_order_release,
                                        std::memory_order_relaxed);
  }
  return true;
}

bool is_large(size_t size) {
  return size >= uvm::shim::threshold();
}

// The space's bounds, once the instance exists: called before a block of it
// is handed out.
void learn_space() {
  if (g_hot.space_len.load(std::memory_order_acquire) != 0) return;
  uintptr_t lo, hi;
  if (!uvm::mm_space(&lo, &hi)) return;
  g_hot.space_lo.store(lo, std::memory_order_relaxed);
  g_hot.space_len.store(hi - lo, std::memory_order_release);
}

void* large_alloc(size_t size, size_t align, unsigned flags, const void* caller) {
  // uvmalloc first; when it cannot (space full, VMA budget, memfd refused),
  // the next allocator serves the request instead of failing it.
  int saved = errno;
  void* p = uvm::alloc(size, align, flags, caller);
  if (p != nullptr) {
    learn_space();
    return p;
  }
  errno = saved;
  if (align <= 16) return flags & uvm::VM_ZERO ? g_next.calloc(1, size) : g_next.malloc(size);
  p = g_next.memalign(align, size);
  if (p != nullptr && (flags & uvm::VM_ZERO)) memset(p, 0, size);
  return p;
}

size_t usable_size_slow(void* p) {
  if (p == nullptr) return 0;
  if (ours(p)) return uvm_vmalloc_size(p);
  if (in_boot(p)) return boot_size(p);
  if (!ready()) return 0;
  return g_next.usable_size ? g_next.usable_size(p) : 0;
}

[[gnu::noinline]] void* aligned_slow(size_t align, size_t size, const void* caller) {
  if (!ready()) return boot_alloc(size, align);
  if (is_large(size)) return large_alloc(size, align, 0, caller);
  return g_next.memalign(align, size);
}

// `align` is a power of two.
void* aligned(size_t align, size_t size, const void* caller) {
  if (__builtin_expect(size < small_limit(), 1)) return g_next.memalign(align, size);
  return aligned_slow(align, size, caller);
}

bool is_pow2(size_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

[[gnu::noinline]] void* malloc_slow(size_t size, const void* caller) {
  if (!ready()) return boot_alloc(size, 16);
  if (is_large(size)) return large_alloc(size, 1, 0, caller);
  return g_next.malloc(size);
}

[[gnu::noinline]] void free_slow(void* p) {
  if (p == nullptr || in_boot(p)) return;
  if (ours(p)) {
    uvm::free(p, "free");
    return;
  }
  if (ready()) g_next.free(p);
}

[[gnu::noinline]] void* calloc_slow(size_t n, size_t size, size_t bytes, const void* caller) {
  if (!ready()) return boot_alloc(bytes, 16);
  if (is_large(bytes)) return large_alloc(bytes, 1, uvm::VM_ZERO, caller);
  return g_next.calloc(n, size);
}

[[gnu::noinline]] void* realloc_slow(void* p, size_t size, const void* caller) {
  if (p == nullptr) {
    if (!ready()) return boot_alloc(size, 16);
    return is_large(size) ? large_alloc(size, 1, 0, caller) : g_next.malloc(size);
  }
  if (size == 0) {  // glibc: free and return NULL
    free(p);
    return nullptr;
  }
  if (in_boot(p) || !ready()) {
    void* q = ready() ? malloc(size) : boot_alloc(size, 16);
    if (q != nullptr) memcpy(q, p, std::min(size, boot_size(p)));
    return q;
  }
  bool large = is_large(size);
  if (ours(p)) {
    if (large) {
      int saved = errno;
      void* q = uvm::realloc(p, size, caller, "realloc");  // no copy
      if (q != nullptr) return q;
      if (!ours(p) || uvm_vmalloc_size(p) == 0) return nullptr;  // bad pointer (reported)
      errno = saved;
    }
    // Below the threshold, or uvmalloc is out of room: move to the next
    // allocator.
    void* q = g_next.malloc(size);
    if (q == nullptr) return nullptr;
    memcpy(q, p, std::min(size, uvm_vmalloc_size(p)));
    uvm::free(p, "realloc");
    return q;
  }
  if (!large) return g_next.realloc(p, size);
  void* q = large_alloc(size, 1, 0, caller);
  if (q == nullptr) return nullptr;
  memcpy(q, p, std::min(size, usable_size_slow(p)));
  g_next.free(p);
  return q;
}

}  // namespace

// The small path of each entry point: compares against g_hot, then a tail
// call to the next allocator. Everything else is in the *_slow functions.

UVM_EXPORT void* malloc(size_t size) {
  if (__builtin_expect(size < small_limit(), 1)) return g_next.malloc(size);
  return malloc_slow(size, __builtin_return_address(0));
}

UVM_EXPORT void free(void* p) {
  // Neither ours nor the arena's: the next allocator's (free(NULL) included,
  // which it ignores), or free_slow while that is not known.
  if (__builtin_expect(!in_space(p) && !in_boot(p), 1))
    return g_hot.free.load(std::memory_order_acquire)(p);
  free_slow(p);
}

UVM_EXPORT void* calloc(size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (__builtin_expect(bytes < small_limit(), 1)) return g_next.calloc(n, size);
  return calloc_slow(n, size, bytes, __builtin_return_address(0));
}

UVM_EXPORT void* realloc(void* p, size_t size) {
  // realloc(p, 0) takes the slow path: glibc's meaning whatever the next
  // allocator's.
  if (__builtin_expect(size < small_limit() && size != 0 && !in_space(p) && !in_boot(p), 1))
    return g_next.realloc(p, size);
  return realloc_slow(p, size, __builtin_return_address(0));
}

UVM_EXPORT void* reallocarray(void* p, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, bytes);
}

UVM_EXPORT int posix_memalign(void** out, size_t align, size_t size) {
  if (!is_pow2(align) || align % sizeof(void*) != 0) return EINVAL;
  if (__builtin_expect(size < small_limit() && g_next.posix_memalign != nullptr, 1))
    return g_next.posix_memalign(out, align, size);
  int saved = errno;
  void* p = aligned_slow(align, size, __builtin_return_address(0));
  errno = saved;
  if (p == nullptr && size != 0) return ENOMEM;
  *out = p;
  return 0;
}

UVM_EXPORT void* aligned_alloc(size_t align, size_t size) {
  if (!is_pow2(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return aligned(align, size, __builtin_return_address(0));
}

UVM_EXPORT void* memalign(size_t align, size_t size) {
  if (__builtin_expect(is_pow2(align), 1)) return aligned(align, size, __builtin_return_address(0));
  if (align > (SIZE_MAX >> 1) + 1) {  // no power of two that large
    errno = EINVAL;
    return nullptr;
  }
  size_t a = 1;  // glibc rounds a non-power-of-two alignment up
  while (a < align) a <<= 1;
  return aligned(a, size, __builtin_return_address(0));
}

UVM_EXPORT void* valloc(size_t size) {
  return aligned(uvm::pal::kPageSize, size, __builtin_return_address(0));
}

UVM_EXPORT void* pvalloc(size_t size) {
  size_t page = uvm::pal::kPageSize;
  size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return aligned(page, rounded, __builtin_return_address(0));
}

UVM_EXPORT size_t malloc_usable_size(void* p) {
  if (__builtin_expect(p != nullptr && !in_space(p) && !in_boot(p) && small_limit() != 0 &&
                           g_next.usable_size != nullptr,
                       1))
    return g_next.usable_size(p);
  return usable_size_slow(p);
}

UVM_EXPORT void free_sized(void* p, size_t) {
  free(p);
}

UVM_EXPORT void free_aligned_sized(void* p, size_t, size_t) {
  free(p);
}
