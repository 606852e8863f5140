// The C++ API: memory_resource, STL allocator and buffer.
#include <gtest/gtest.h>

#include <cstring>
#include <memory_resource>
#include <vector>

#include "uvmalloc/uvmalloc.hpp"

namespace {

TEST(CppApi, MemoryResourceServesPmrContainers) {
  std::pmr::vector<int> v(uvm::vmalloc_memory_resource());
  for (int i = 0; i < 1 << 20; ++i) v.push_back(i);
  EXPECT_TRUE(uvm_is_vmalloc_addr(v.data()));
  for (int i = 0; i < 1 << 20; i += 4097) EXPECT_EQ(v[i], i);
  std::pmr::memory_resource* r = uvm::vmalloc_memory_resource();
  uvm::vmalloc_resource other;
  EXPECT_TRUE(r->is_equal(other));
  EXPECT_FALSE(r->is_equal(*std::pmr::new_delete_resource()));
  void* p = r->allocate(1 << 20, 1 << 16);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (1 << 16), 0u);
  r->deallocate(p, 1 << 20, 1 << 16);
}

TEST(CppApi, MemoryResourceThrowsBadAlloc) {
  EXPECT_THROW((void)uvm::vmalloc_memory_resource()->allocate(size_t{1} << 62, 8), std::bad_alloc);
}

TEST(CppApi, StlAllocator) {
  std::vector<double, uvm::allocator<double>> v(1 << 18, 1.5);
  EXPECT_TRUE(uvm_is_vmalloc_addr(v.data()));
  EXPECT_EQ(v[12345], 1.5);
  v.resize(1 << 20, 2.5);
  EXPECT_TRUE(uvm_is_vmalloc_addr(v.data()));
  EXPECT_EQ(v[(1 << 20) - 1], 2.5);
  uvm::allocator<double> a;
  EXPECT_THROW((void)a.allocate(SIZE_MAX / 4), std::bad_array_new_length);
  EXPECT_TRUE(a == uvm::allocator<int>());
}

TEST(CppApi, BufferOwnsAndMoves) {
  uvm::buffer b(300000, uvm::buffer::init::zeroed);
  ASSERT_TRUE(b);
  EXPECT_EQ(b.size(), 300000u);
  EXPECT_EQ(b.capacity(), 303104u);  // 74 pages
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b.as<unsigned char>()[i], 0);
  std::memset(b.data(), 7, b.size());
  void* p = b.data();
  uvm::buffer c(std::move(b));
  EXPECT_FALSE(b);
  EXPECT_EQ(c.data(), p);
  uvm::buffer d;
  d = std::move(c);
  EXPECT_EQ(d.as<unsigned char>()[299999], 7);
  void* raw = d.release();
  EXPECT_FALSE(d);
  EXPECT_EQ(uvm_vmalloc_size(raw), 303104u);
  uvm_vfree(raw);
  EXPECT_EQ(uvm_vmalloc_size(raw), 0u);
  EXPECT_THROW(uvm::buffer(size_t{1} << 62), std::bad_alloc);
}

}  // namespace
