#include "meta.h"

#include <cstring>
#include <new>

#include "pal.h"

namespace uvm {

kmem_cache::kmem_cache(const char* name, size_t object_size) : name_(name) {
  // Round up so every object is pointer-aligned and can hold the free link.
  size_t a = alignof(std::max_align_t);
  size_ = (object_size < sizeof(free_obj) ? sizeof(free_obj) : object_size);
  size_ = (size_ + a - 1) & ~(a - 1);
}

void* kmem_cache::alloc() {
  std::lock_guard<std::mutex> g(lock_);
  void* obj;
  if (free_ != nullptr) {
    obj = free_;
    free_ = free_->next;
  } else {
    if (bump_ == nullptr || bump_ + size_ > bump_end_) {
      void* slab = pal::map_anon(kSlabSize);
      if (slab == nullptr) return nullptr;
      bump_ = static_cast<char*>(slab);
      bump_end_ = bump_ + kSlabSize;
      ++slabs_;
    }
    obj = bump_;
    bump_ += size_;
  }
  ++in_use_;
  std::memset(obj, 0, size_);
  return obj;
}

void kmem_cache::free(void* obj) {
  if (obj == nullptr) return;
  std::lock_guard<std::mutex> g(lock_);
  auto* f = static_cast<free_obj*>(obj);
  f->next = free_;
  free_ = f;
  --in_use_;
}

size_t kmem_cache::in_use() const {
  std::lock_guard<std::mutex> g(lock_);
  return in_use_;
}

size_t kmem_cache::slab_bytes() const {
  std::lock_guard<std::mutex> g(lock_);
  return slabs_ * kSlabSize;
}

}  // namespace uvm
