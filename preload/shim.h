// What the shim's files share: the next allocator, the routing threshold and
// ownership by address. preload.cc is the malloc family, preload_new.cc the
// C++ one; each other file interposes one more family of calls a program
// makes on its memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "pal.h"

// Hidden also where only declared, so that the small paths in every file
// reach the shared state PC-relative, not through the GOT.
#pragma GCC visibility push(hidden)

namespace uvm::shim {

// True once the next allocator's entry points are known (false only while
// dlsym itself is allocating).
bool next_ready();
// The next definition of `name` after the shim (dlsym RTLD_NEXT), or null.
void* next_symbol(const char* name);
// next_symbol(name) as a function of type Fn, looked up once into `slot`.
template <class Fn>
Fn next_cached(std::atomic<Fn>& slot, const char* name) {
  Fn f = slot.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<Fn>(next_symbol(name));
    slot.store(f, std::memory_order_release);
  }
  return f;
}

// The C++ family's next definitions (preload_new.cc), resolved with the
// malloc family's, before the small path opens.
void resolve_new_family();

// False when the program's malloc is not the shim's (an allocator preloaded
// before it, or the program's own): then the shim routes nothing to
// uvmalloc and passes every call to that allocator (see next_ready).
bool active();

// Requests of threshold() bytes or more go to uvmalloc.
size_t threshold();
// mallopt(M_MMAP_THRESHOLD): route from `bytes` on (at least 1).
void set_threshold(size_t bytes);

// True when `p` lies in the vmalloc space (a block of uvmalloc's).
bool ours(const void* p);

// What the small path of every entry point reads, and nothing else: a
// compare against these, then a call to the next allocator. Plain loads
// (acquire on `small`, which is published after the next allocator's entry
// points), no call into the core.
//  - small: requests below it go to the next allocator. 0 until the next
//    allocator is known and the threshold read, so that every call takes the
//    slow path (bootstrap, configuration) until then.
//  - free: the next allocator's free once it is known; until then the slow
//    path (which resolves it).
//  - space_lo, space_len: the vmalloc space, learned from the instance
//    (uvm::mm_space) before the first block of it is handed out, so every
//    pointer of ours is seen inside. Length 0 until then: nothing is ours.
//    The space is one reservation fixed at init, and a child made by fork has
//    it at the same address, so it is never updated after.
struct alignas(64) hot_state {
  std::atomic<size_t> small;
  std::atomic<void (*)(void*)> free;
  std::atomic<uintptr_t> space_lo;
  std::atomic<uintptr_t> space_len;
};
extern hot_state g_hot;

// The bootstrap arena: dlsym may call malloc & co. before the next allocator
// is known; those calls are served from here, and its blocks are never
// passed to anyone's free.
inline constexpr size_t kBootSize = 256 * 1024;
extern unsigned char g_boot[kBootSize];

inline bool in_boot(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_boot) < kBootSize;
}

// One compare: p - lo wraps for addresses below the space. The length is
// published after the start, so a length read is never paired with an old
// start.
inline bool in_space(const void* p) {
  uintptr_t len = g_hot.space_len.load(std::memory_order_acquire);
  uintptr_t lo = g_hot.space_lo.load(std::memory_order_relaxed);
  return reinterpret_cast<uintptr_t>(p) - lo < len;
}

// Requests below this go to the next allocator (0: take the slow path).
inline size_t small_limit() {
  return g_hot.small.load(std::memory_order_acquire);
}

using pal::is_pow2;

// The slow paths' start: false while the next allocator is being resolved
// (serve from the bootstrap arena). Once it is known, opens the small path.
bool ready();
// 16-byte aligned (or `align`) bootstrap memory, zeroed; null when full.
void* boot_alloc(size_t size, size_t align);
// Whether a request of `size` bytes goes to uvmalloc.
bool is_large(size_t size);
// A large request: uvmalloc's block, or the next allocator's when uvmalloc
// cannot serve it; null with errno ENOMEM when neither can. flags: uvm::VM_*.
void* large_alloc(size_t size, size_t align, unsigned flags, const void* caller);

}  // namespace uvm::shim

#pragma GCC visibility pop
