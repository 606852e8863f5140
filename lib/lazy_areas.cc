#include "lazy_areas.h"

namespace uvm {

void LazyAreas::insert(vm_struct* vm, uint64_t now) {
  vm->freed_ns = now;
  bins_.insert(vm);
  vm->lru_next = nullptr;
  vm->lru_prev = tail_;
  (tail_ != nullptr ? tail_->lru_next : head_) = vm;
  tail_ = vm;
  bytes_.store(bytes_.load(std::memory_order_relaxed) + vm->size, std::memory_order_relaxed);
  ++areas_;
}

void LazyAreas::unlink(vm_struct* vm) {
  bins_.remove(vm);
  (vm->lru_prev != nullptr ? vm->lru_prev->lru_next : head_) = vm->lru_next;
  (vm->lru_next != nullptr ? vm->lru_next->lru_prev : tail_) = vm->lru_prev;
  bytes_.store(bytes_.load(std::memory_order_relaxed) - vm->size, std::memory_order_relaxed);
  --areas_;
}

vm_struct* LazyAreas::detach_all() {
  vm_struct* all = head_;
  bins_.clear();
  head_ = tail_ = nullptr;
  bytes_.store(0, std::memory_order_relaxed);
  areas_ = 0;
  return all;
}

size_t LazyAreas::detach_older(uint64_t before, vm_struct*** tail) {
  size_t bytes = 0;
  while (head_ != nullptr && head_->freed_ns < before) {
    vm_struct* vm = head_;
    unlink(vm);
    bytes += vm->size;
    **tail = vm;
    *tail = &vm->lru_next;
  }
  **tail = nullptr;
  return bytes;
}

std::string LazyAreas::check() const {
  size_t n, bytes;
  std::string why = bins_.check(&n, &bytes);
  if (!why.empty()) return "bins: " + why;
  if (bytes != bytes_.load() || n != areas_) return "counters are wrong";
  size_t in_order = 0;
  uint64_t last = 0;
  for (const vm_struct* vm = head_; vm != nullptr; vm = vm->lru_next, ++in_order) {
    if ((vm->lru_prev == nullptr ? head_ : vm->lru_prev->lru_next) != vm ||
        (vm->lru_next == nullptr ? tail_ : vm->lru_next->lru_prev) != vm)
      return "the free-order list is broken";
    if (vm->freed_ns < last) return "the free-order list is out of order";
    last = vm->freed_ns;
    if (in_order > n) break;
  }
  if (in_order != n) return "the free-order list does not hold every area";
  return {};
}

}  // namespace uvm
