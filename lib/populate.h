// populate: whether a new area's warm pages are prefaulted when mapped.
// Prefaulting pages that exist costs about a third of faulting them in one
// by one, but is wasted on pages the program never touches (a buffer touched
// at its ends, a calloc'd table used sparsely). So the choice is learned per
// size class (a power of two): one new area in kSampleEvery (in eight
// times as many once the answer is clear) is mapped without prefault and, when freed, the share of
// its pages the program faulted in is read from the page tables. Classes touched more densely than
// kDenseShare percent are prefaulted; sparser ones are not, and their zeroed
// allocations take holes (which read as zeros) rather than clearing pages.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace uvm {

class PopulatePolicy {
 public:
  static constexpr unsigned kSampleEvery = 32;
  static constexpr unsigned kDenseShare = 30;            // percent: the cost break-even
  static constexpr size_t kMinBytes = size_t{64} << 10;  // smaller: always prefault

  PopulatePolicy();
  // For a new area of `bytes`: prefault its warm pages? *sample is set when
  // the area is to be measured at free (it is then not prefaulted).
  bool decide(size_t bytes, bool* sample);
  // A sampled area of `bytes` is freed: `touched` of `pages` looked at were
  // faulted in.
  void learn(size_t bytes, size_t touched, size_t pages);
  // Areas of this size are touched sparsely (as last measured).
  bool sparse(size_t bytes) const;
  // Percent of pages touched in this size class, as learned (100 at first).
  unsigned density(size_t bytes) const;

 private:
  static constexpr unsigned kClasses = 64;
  static unsigned class_of(size_t bytes);

  std::atomic<uint32_t> density_[kClasses];
  std::atomic<uint32_t> allocs_[kClasses];
  std::atomic<uint32_t> samples_[kClasses];
};

}  // namespace uvm
