// size_bins: lazily freed areas binned by size class, sixteen classes per
// power of two (so a bin's areas differ by at most a sixteenth), each bin a
// doubly linked list, with a bitmap of the bins that hold anything. Insert
// and remove are O(1) with no comparisons, which matters because every
// free and every reuse goes through here; the smallest fit is found by
// walking the bins upward from the request's class.
//
// T is intrusive: it has `size_t size` (bytes, a page multiple) and
// `T* bin_prev, *bin_next`.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

namespace uvm {

template <typename T>
class SizeBins {
 public:
  static constexpr unsigned kBins = 512;  // up to 2^32 pages
  // bin_of(): sixteen bins for each bit of a 32-bit page count.
  static_assert(kBins == 16 * 32, "bin_of() and kBins disagree");

  static unsigned bin_of(size_t bytes) {
    size_t pages = bytes >> 12;
    if (pages == 0) pages = 1;
    unsigned e = static_cast<unsigned>(std::bit_width(pages)) - 1;
    size_t m = e >= 4 ? pages >> (e - 4) : pages << (4 - e);
    unsigned bin = e * 16 + static_cast<unsigned>(m & 15);
    return bin < kBins ? bin : kBins - 1;
  }

  // Most recently inserted first within a bin (its pages are the warmest).
  void insert(T* x) {
    unsigned b = bin_of(x->size);
    x->bin_prev = nullptr;
    x->bin_next = head_[b];
    if (head_[b] != nullptr) head_[b]->bin_prev = x;
    head_[b] = x;
    nonempty_[b / 64] |= uint64_t{1} << (b % 64);
  }

  void remove(T* x) {
    unsigned b = bin_of(x->size);
    (x->bin_prev != nullptr ? x->bin_prev->bin_next : head_[b]) = x->bin_next;
    if (x->bin_next != nullptr) x->bin_next->bin_prev = x->bin_prev;
    if (head_[b] == nullptr) nonempty_[b / 64] &= ~(uint64_t{1} << (b % 64));
  }

  // The first area of at least `size` and at most `limit` bytes for which
  // ok(area) holds, from the smallest class up (so at most a sixteenth
  // larger than the smallest fit); null after `max_probes` areas were
  // looked at.
  template <typename Ok>
  T* find(size_t size, size_t limit, int max_probes, Ok&& ok) const {
    unsigned last = bin_of(limit);
    for (unsigned b = next_nonempty(bin_of(size)); b <= last; b = next_nonempty(b + 1)) {
      for (T* x = head_[b]; x != nullptr; x = x->bin_next) {
        if (max_probes-- == 0) return nullptr;
        if (x->size >= size && x->size <= limit && ok(x)) return x;
      }
    }
    return nullptr;
  }

  void clear() {
    for (T*& h : head_) h = nullptr;
    for (uint64_t& w : nonempty_) w = 0;
  }

  // Links, bins and the bitmap agree; `count` and `bytes` get the totals.
  std::string check(size_t* count, size_t* bytes) const {
    *count = *bytes = 0;
    for (unsigned b = 0; b < kBins; ++b) {
      bool bit = (nonempty_[b / 64] >> (b % 64)) & 1;
      if (bit != (head_[b] != nullptr)) return "a bin's bitmap bit is wrong";
      const T* prev = nullptr;
      for (const T* x = head_[b]; x != nullptr; prev = x, x = x->bin_next) {
        if (x->bin_prev != prev) return "a bin's links are broken";
        if (bin_of(x->size) != b) return "an area is in the wrong bin";
        ++*count;
        *bytes += x->size;
      }
    }
    return {};
  }

 private:
  // The first non-empty bin at or after `b`, or kBins.
  unsigned next_nonempty(unsigned b) const {
    while (b < kBins) {
      uint64_t w = nonempty_[b / 64] >> (b % 64);
      if (w != 0) return b + static_cast<unsigned>(std::countr_zero(w));
      b = (b / 64 + 1) * 64;
    }
    return kBins;
  }

  T* head_[kBins] = {};
  uint64_t nonempty_[kBins / 64] = {};
};

}  // namespace uvm
