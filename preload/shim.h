// What the shim's files share: the next allocator, the routing threshold and
// ownership by address. preload.cc is the malloc family; each other file
// interposes one more family of calls a program makes on its memory.
#pragma once

#include <atomic>
#include <cstddef>

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

// Requests of threshold() bytes or more go to uvmalloc.
size_t threshold();
// mallopt(M_MMAP_THRESHOLD): route from `bytes` on (at least 1).
void set_threshold(size_t bytes);

// True when `p` lies in the vmalloc space (a block of uvmalloc's).
bool ours(const void* p);

}  // namespace uvm::shim
