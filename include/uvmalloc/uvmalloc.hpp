// uvmalloc C++ API: a std::pmr::memory_resource, an STL allocator and an
// owning buffer, all over the C API in uvmalloc.h.
#pragma once

#include <uvmalloc/uvmalloc.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory_resource>
#include <new>
#include <span>
#include <utility>

namespace uvm {

// Every allocation is a uvm_vmalloc_align area; meant for large blocks (each
// takes at least a page plus its guard page).
class vmalloc_resource final : public std::pmr::memory_resource {
 protected:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    void* p = uvm_vmalloc_align(bytes == 0 ? 1 : bytes, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void do_deallocate(void* p, std::size_t, std::size_t) override { uvm_vfree(p); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return dynamic_cast<const vmalloc_resource*>(&other) != nullptr;
  }
};

// The process-wide resource.
inline vmalloc_resource* vmalloc_memory_resource() {
  static vmalloc_resource r;
  return &r;
}

// STL allocator: std::vector<T, uvm::allocator<T>>.
template <typename T>
struct allocator {
  using value_type = T;

  allocator() noexcept = default;
  template <typename U>
  allocator(const allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    void* p = uvm_vmalloc_align(n == 0 ? 1 : n * sizeof(T), alignof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { uvm_vfree(p); }

  template <typename U>
  bool operator==(const allocator<U>&) const noexcept {
    return true;
  }
};

// An owning, move-only block of vmalloc memory.
class buffer {
 public:
  enum class init { uninitialized, zeroed };

  buffer() noexcept = default;
  explicit buffer(std::size_t size, init how = init::uninitialized)
      : data_(how == init::zeroed ? uvm_vzalloc(size) : uvm_vmalloc(size)), size_(size) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  buffer(buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  buffer& operator=(buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  ~buffer() { reset(); }

  void* data() const noexcept { return data_; }
  template <typename T>
  T* as() const noexcept {
    return static_cast<T*>(data_);
  }
  std::size_t size() const noexcept { return size_; }
  // Usable bytes: the size rounded up to whole pages.
  std::size_t capacity() const noexcept { return data_ ? uvm_vmalloc_size(data_) : 0; }
  explicit operator bool() const noexcept { return data_ != nullptr; }

  void reset() noexcept {
    uvm_vfree(data_);
    data_ = nullptr;
    size_ = 0;
  }
  // Give up ownership; the caller frees with uvm_vfree.
  void* release() noexcept {
    size_ = 0;
    return std::exchange(data_, nullptr);
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// A single-producer single-consumer byte queue on a magic ring (the same
// pages mapped twice back to back): every read and write window is one
// contiguous span, so producers and consumers never split a record at the
// wrap.
class ring_buffer {
 public:
  // Capacity rounds up to whole pages.
  explicit ring_buffer(std::size_t capacity) {
    if (uvm_ring_create(&ring_, capacity) != UVM_OK) throw std::bad_alloc();
  }
  ring_buffer(const ring_buffer&) = delete;
  ring_buffer& operator=(const ring_buffer&) = delete;
  ~ring_buffer() { uvm_ring_destroy(&ring_); }

  std::size_t capacity() const noexcept { return ring_.size; }
  // Bytes ready to read (exact for the consumer, a lower bound for others).
  std::size_t size() const noexcept {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

  // Producer: the free space, contiguous; then commit() what was written.
  std::span<std::byte> write_window() noexcept {
    std::size_t head = head_.load(std::memory_order_relaxed);
    std::size_t used = head - tail_.load(std::memory_order_acquire);
    return {reinterpret_cast<std::byte*>(ring_.base) + head % ring_.size, ring_.size - used};
  }
  void commit(std::size_t n) noexcept { head_.fetch_add(n, std::memory_order_release); }

  // Consumer: the readable bytes, contiguous; then consume() what was read.
  std::span<const std::byte> read_window() const noexcept {
    std::size_t tail = tail_.load(std::memory_order_relaxed);
    std::size_t ready = head_.load(std::memory_order_acquire) - tail;
    return {reinterpret_cast<const std::byte*>(ring_.base) + tail % ring_.size, ready};
  }
  void consume(std::size_t n) noexcept { tail_.fetch_add(n, std::memory_order_release); }

  // Copy in as much of [data, data + n) as fits; returns the bytes written.
  std::size_t write(const void* data, std::size_t n) noexcept {
    std::span<std::byte> w = write_window();
    n = n < w.size() ? n : w.size();
    std::memcpy(w.data(), data, n);
    commit(n);
    return n;
  }
  // Copy out up to n bytes; returns the bytes read.
  std::size_t read(void* out, std::size_t n) noexcept {
    std::span<const std::byte> r = read_window();
    n = n < r.size() ? n : r.size();
    std::memcpy(out, r.data(), n);
    consume(n);
    return n;
  }

 private:
  uvm_ring ring_{};
  alignas(64) std::atomic<std::size_t> head_{0};  // bytes ever written
  alignas(64) std::atomic<std::size_t> tail_{0};  // bytes ever read
};

}  // namespace uvm
