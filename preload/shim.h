// What the shim's files share: the next allocator, the routing threshold and
// ownership by address. preload.cc is the malloc family; each other file
// interposes one more family of calls a program makes on its memory.
#pragma once

#include <cstddef>

namespace uvm::shim {

// True once the next allocator's entry points are known (false only while
// dlsym itself is allocating).
bool next_ready();
// The next definition of `name` after the shim (dlsym RTLD_NEXT), or null.
void* next_symbol(const char* name);

// Requests of threshold() bytes or more go to uvmalloc.
size_t threshold();
// mallopt(M_MMAP_THRESHOLD): route from `bytes` on (at least 1).
void set_threshold(size_t bytes);

// True when `p` lies in the vmalloc space (a block of uvmalloc's).
bool ours(const void* p);

}  // namespace uvm::shim
