#include "populate.h"

#include <bit>

namespace uvm {

PopulatePolicy::PopulatePolicy() {
  for (unsigned i = 0; i < kClasses; ++i) {
    density_[i].store(100, std::memory_order_relaxed);
    allocs_[i].store(0, std::memory_order_relaxed);
    samples_[i].store(0, std::memory_order_relaxed);
  }
}

unsigned PopulatePolicy::class_of(size_t bytes) {
  return static_cast<unsigned>(std::bit_width(bytes)) % kClasses;
}

bool PopulatePolicy::decide(size_t bytes, bool* sample) {
  *sample = false;
  if (bytes < kMinBytes) return true;
  unsigned c = class_of(bytes);
  // Once two samples agree on a clear answer, look far less often.
  unsigned d = density_[c].load(std::memory_order_relaxed);
  bool settled = samples_[c].load(std::memory_order_relaxed) >= 2 && (d >= 80 || d <= 10);
  unsigned every = settled ? kSampleEvery * 8 : kSampleEvery;
  if (allocs_[c].fetch_add(1, std::memory_order_relaxed) % every == 0) {
    *sample = true;
    return false;
  }
  return !sparse(bytes);
}

void PopulatePolicy::learn(size_t bytes, size_t touched, size_t pages) {
  if (pages == 0) return;
  unsigned c = class_of(bytes);
  auto now = static_cast<uint32_t>(touched * 100 / pages);
  // The first sample replaces the prior guess; later ones get half the
  // weight, as a program's phases change.
  uint32_t old = density_[c].load(std::memory_order_relaxed);
  bool first = samples_[c].fetch_add(1, std::memory_order_relaxed) == 0;
  density_[c].store(first ? now : (old + now) / 2, std::memory_order_relaxed);
}

bool PopulatePolicy::sparse(size_t bytes) const {
  return bytes >= kMinBytes && density(bytes) < kDenseShare;
}

unsigned PopulatePolicy::density(size_t bytes) const {
  return density_[class_of(bytes)].load(std::memory_order_relaxed);
}

}  // namespace uvm
