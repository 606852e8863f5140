// Helpers shared by the tests: a fault probe, a zero check, a small fast
// PRNG, and a content pattern that tells which block (tag) and which offset a word
// belongs to.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace uvm::test {

// Write one byte at `p`; dies of SIGSEGV if it faults (ASan's own handler
// would turn the fault into a report and exit(1)).
inline void poke(void* p) {
  signal(SIGSEGV, SIG_DFL);
  *static_cast<volatile char*>(p) = 1;
}

// True when [p, p + size) holds only zero bytes.
inline bool all_zero(const void* p, size_t size) {
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < size; ++i)
    if (c[i] != 0) return false;
  return true;
}

// splitmix64
struct Rng {
  uint64_t s;
  uint64_t operator()() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>((*this)() % n); }
};

// Every 64-bit word of [p, p + size) gets tag ^ its index (times a constant).
inline void fill(char* p, size_t size, uint64_t tag) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = tag ^ (i * 0x9e3779b97f4a7c15ull);
    memcpy(p + i, &v, 8);
  }
}

// Offset of the first word that does not match fill(p, size, tag), or size.
inline size_t verify(const char* p, size_t size, uint64_t tag) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = tag ^ (i * 0x9e3779b97f4a7c15ull), got;
    memcpy(&got, p + i, 8);
    if (got != v) return i;
  }
  return size;
}

}  // namespace uvm::test
