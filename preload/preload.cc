// libuvmalloc_preload.so: LD_PRELOAD it and allocations of `threshold` bytes
// or more (UVMALLOC_CONF=threshold:N, default 128 KiB) go to uvmalloc; the
// rest go to the next allocator (dlsym RTLD_NEXT: glibc, or jemalloc & co.
// when preloaded after us). Ownership is decided by address alone: a pointer
// inside the vmalloc space is ours, anything else is the next allocator's.
// With an allocator preloaded before us the program never calls our malloc:
// then the shim is inert and says so (resolve_order).
//
// Bootstrap: dlsym may itself call malloc/calloc before the next allocator is
// known; those calls are served from a small static arena whose blocks are
// never passed to anyone's free.
#include <dlfcn.h>
#include <malloc.h>
#include <sys/auxv.h>
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
// Set once at resolution, before g_next_state is 2: the program's malloc is
// not ours (see resolve_order).
bool g_inert = false;

void free_slow(void* p);

// 0 until first read from the configuration (or set by mallopt).
size_t g_threshold = 0;

std::atomic<size_t> g_boot_used{0};

size_t boot_size(const void* p) {
  size_t size;
  memcpy(&size, static_cast<const unsigned char*>(p) - sizeof size, sizeof size);
  return size;
}

// True when `f` is defined by the shim itself.
bool own_symbol(const void* f) {
  static const void* const marker = reinterpret_cast<const void*>(&own_symbol);
  Dl_info a, b;
  return dladdr(f, &a) != 0 && dladdr(marker, &b) != 0 && a.dli_fbase == b.dli_fbase;
}

// The definition of `name` the program would get without the shim: the
// first one in the global scope that is not ours. With the shim first in
// LD_PRELOAD that is dlsym(RTLD_NEXT); with another allocator before it, that
// allocator's.
void* program_symbol(const char* name) {
  void* f = dlsym(RTLD_DEFAULT, name);
  if (f == nullptr || own_symbol(f)) return dlsym(RTLD_NEXT, name);
  return f;
}

// The program's malloc and free are the shim's only when nothing before it
// in the global scope defines them. Otherwise (LD_PRELOAD=libother.so:
// libuvmalloc_preload.so, or an allocator linked into the program itself)
// the program allocates and frees with that allocator, and a uvmalloc block
// handed out by one of our entry points it lacks (free_sized, pvalloc,
// operator new...) would reach its free: the shim stays out of the way
// (inert) and says so once.
void resolve_order() {
  const void* owner = nullptr;
  for (const char* name : {"malloc", "free"}) {
    void* f = dlsym(RTLD_DEFAULT, name);
    if (f != nullptr && !own_symbol(f)) owner = f;
  }
  if (owner == nullptr) return;
  g_inert = true;
  Dl_info info;
  char line[640];
  int n;
  Dl_info prog;  // the main program, by its program headers
  bool in_program = dladdr(reinterpret_cast<void*>(getauxval(AT_PHDR)), &prog) != 0 &&
                    dladdr(owner, &info) != 0 && info.dli_fbase == prog.dli_fbase;
  if (!in_program && dladdr(owner, &info) != 0 && info.dli_fname != nullptr)
    n = snprintf(line, sizeof line,
                 "uvmalloc: inactive: %s comes before libuvmalloc_preload.so in LD_PRELOAD, so "
                 "every allocation goes to it; put the shim first "
                 "(LD_PRELOAD=libuvmalloc_preload.so:%s, as uvmalloc-run --small does)\n",
                 info.dli_fname, info.dli_fname);
  else
    n = snprintf(line, sizeof line,
                 "uvmalloc: inactive: the program defines malloc itself, so every allocation "
                 "goes to its allocator\n");
  if (n > 0 && write(2, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1) < 0) {
    // stderr is gone: nothing more to say
  }
}

// Resolved at load, so that an inert shim says so even if the program never
// calls one of its entry points.
__attribute__((constructor)) void resolve_at_load() {
  uvm::shim::next_ready();
}

}  // namespace

namespace uvm::shim {

hot_state g_hot{{0}, {free_slow}, {0}, {0}};
alignas(64) unsigned char g_boot[kBootSize];

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
  resolve_order();
  next_allocator n;
  n.malloc = reinterpret_cast<malloc_fn>(program_symbol("malloc"));
  n.free = reinterpret_cast<free_fn>(program_symbol("free"));
  n.calloc = reinterpret_cast<calloc_fn>(program_symbol("calloc"));
  n.realloc = reinterpret_cast<realloc_fn>(program_symbol("realloc"));
  n.memalign = reinterpret_cast<memalign_fn>(program_symbol("memalign"));
  n.posix_memalign = reinterpret_cast<posix_memalign_fn>(program_symbol("posix_memalign"));
  n.usable_size = reinterpret_cast<usable_fn>(program_symbol("malloc_usable_size"));
  if (n.malloc == nullptr || n.free == nullptr || n.calloc == nullptr || n.realloc == nullptr ||
      n.memalign == nullptr) {
    static const char msg[] = "uvmalloc: cannot find the next allocator's malloc\n";
    if (write(2, msg, sizeof msg - 1) < 0) abort();
    abort();
  }
  g_next = n;
  resolve_new_family();
  g_hot.free.store(n.free, std::memory_order_release);
  g_next_state.store(2, std::memory_order_release);
  return true;
}

bool active() {
  return next_ready() && !g_inert;
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
  // path opens it with this value. An inert shim keeps it shut.
  if (g_next_state.load(std::memory_order_acquire) == 2 && !g_inert)
    g_hot.small.store(bytes, std::memory_order_release);
}

void* next_symbol(const char* name) {
  return dlsym(RTLD_NEXT, name);
}

bool ours(const void* p) {
  return in_space(p);
}

bool ready() {
  if (!next_ready()) return false;
  if (small_limit() == 0) {
    // Inert: every request below SIZE_MAX takes the small path, the rest
    // the slow one, where is_large() says no.
    size_t zero = 0;
    g_hot.small.compare_exchange_strong(zero, g_inert ? SIZE_MAX : threshold(),
                                        std::memory_order_release, std::memory_order_relaxed);
  }
  return true;
}

bool is_large(size_t size) {
  return !g_inert && size >= threshold();
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

}  // namespace uvm::shim

namespace {

using namespace uvm::shim;

// The space's bounds, once the instance exists: called before a block of it
// is handed out.
void learn_space() {
  if (g_hot.space_len.load(std::memory_order_acquire) != 0) return;
  uintptr_t lo, hi;
  if (!uvm::mm_space(&lo, &hi)) return;
  g_hot.space_lo.store(lo, std::memory_order_relaxed);
  g_hot.space_len.store(hi - lo, std::memory_order_release);
}

}  // namespace

namespace uvm::shim {

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
  if (align <= 16) {
    p = flags & uvm::VM_ZERO ? g_next.calloc(1, size) : g_next.malloc(size);
  } else {
    p = g_next.memalign(align, size);
    if (p != nullptr && (flags & uvm::VM_ZERO)) memset(p, 0, size);
  }
  // glibc's errno whatever the next allocator's (mimalloc and jemalloc leave
  // it alone for some sizes they refuse).
  if (p == nullptr) errno = ENOMEM;
  return p;
}

}  // namespace uvm::shim

namespace {

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
    if (q == nullptr) {
      errno = ENOMEM;  // as large_alloc
      return nullptr;
    }
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
