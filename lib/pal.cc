#include "pal.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace uvm::pal {

bool page_size_ok() { return sysconf(_SC_PAGESIZE) == static_cast<long>(kPageSize); }

void* reserve(size_t size, size_t align) {
  if (align < kPageSize) align = kPageSize;
  size_t span = size + align - kPageSize;
  if (span < size) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = (base + align - 1) & ~(align - 1);
  if (start > base) munmap(p, start - base);
  uintptr_t tail = base + span - (start + size);
  if (tail != 0) munmap(reinterpret_cast<void*>(start + size), tail);
  return reinterpret_cast<void*>(start);
}

void* map_anon(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

int unmap(void* addr, size_t size) { return munmap(addr, size) == 0 ? 0 : -errno; }

}  // namespace uvm::pal
