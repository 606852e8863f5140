// pal: the platform layer. Every system call uvmalloc makes goes through here,
// so the rest of the library is plain bookkeeping and fault injection has one
// place to hook. Functions return -errno (or nullptr with errno set) on failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uvm::pal {

inline constexpr size_t kPageShift = 12;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;

// True when the kernel's page size matches kPageSize (checked once at start).
bool page_size_ok();

// A PROT_NONE, MAP_NORESERVE range: address space only, no memory charged.
// `align` (a power of two) is honoured by over-reserving and trimming.
void* reserve(size_t size, size_t align);
// Read-write private anonymous memory for the allocator's own metadata.
void* map_anon(size_t size);
int unmap(void* addr, size_t size);

}  // namespace uvm::pal
