// meta: fixed-size object caches for the allocator's own records (the kernel's
// kmem_cache). Slabs come straight from pal::map_anon, never from malloc, so
// the library can sit underneath a malloc shim. Slabs are kept for the life of
// the process; freed objects go on a free list for reuse.
//
// Locking: lock_ guards the free list, the bump range and the counts. Every
// caller is inside an operation, which the fork barrier holds off across
// fork(), so no thread is ever inside a cache when the child is made.
#pragma once

#include <cstddef>
#include <mutex>

namespace uvm {

class kmem_cache {
 public:
  kmem_cache(const char* name, size_t object_size);
  kmem_cache(const kmem_cache&) = delete;
  kmem_cache& operator=(const kmem_cache&) = delete;

  // Zeroed object, or nullptr when no slab could be mapped.
  void* alloc();
  void free(void* obj);

  const char* name() const { return name_; }
  size_t in_use() const;
  size_t slab_bytes() const;

 private:
  static constexpr size_t kSlabSize = 64 * 1024;
  struct free_obj {
    free_obj* next;
  };

  const char* name_;
  size_t size_;
  mutable std::mutex lock_;
  free_obj* free_ = nullptr;
  char* bump_ = nullptr;  // unused tail of the newest slab
  char* bump_end_ = nullptr;
  size_t in_use_ = 0;
  size_t slabs_ = 0;
};

// Typed front end: objects are constructed in place and destroyed on free.
template <typename T>
class kmem_cache_of {
 public:
  explicit kmem_cache_of(const char* name) : cache_(name, sizeof(T)) {}
  template <typename... Args>
  T* alloc(Args&&... args) {
    void* p = cache_.alloc();
    return p == nullptr ? nullptr : new (p) T(static_cast<Args&&>(args)...);
  }
  void free(T* obj) {
    obj->~T();
    cache_.free(obj);
  }
  size_t in_use() const { return cache_.in_use(); }

 private:
  kmem_cache cache_;
};

}  // namespace uvm
