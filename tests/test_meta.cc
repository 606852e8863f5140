// kmem_cache: objects are distinct, zeroed, reused, and never from malloc.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "meta.h"

namespace uvm {
namespace {

TEST(KmemCache, ObjectsAreDistinctZeroedAndAligned) {
  kmem_cache cache("test", 40);
  std::set<void*> seen;
  std::vector<void*> objs;
  for (int i = 0; i < 10000; ++i) {  // spans several slabs
    auto* p = static_cast<unsigned char*>(cache.alloc());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u);
    for (int b = 0; b < 40; ++b) ASSERT_EQ(p[b], 0);
    std::fill(p, p + 40, 0xab);
    EXPECT_TRUE(seen.insert(p).second);
    objs.push_back(p);
  }
  EXPECT_EQ(cache.in_use(), 10000u);
  for (void* p : objs) cache.free(p);
  EXPECT_EQ(cache.in_use(), 0u);
  size_t slabs = cache.slab_bytes();
  // Freed objects are reused (no new slab) and come back zeroed.
  for (int i = 0; i < 10000; ++i) {
    auto* p = static_cast<unsigned char*>(cache.alloc());
    EXPECT_EQ(seen.count(p), 1u);
    EXPECT_EQ(p[39], 0);
  }
  EXPECT_EQ(cache.slab_bytes(), slabs);
}

TEST(KmemCache, TwoThreads) {
  kmem_cache cache("threads", 64);
  auto work = [&](int tag) {
    std::vector<int*> mine;
    for (int round = 0; round < 200; ++round) {
      for (int i = 0; i < 100; ++i) {
        auto* p = static_cast<int*>(cache.alloc());
        ASSERT_NE(p, nullptr);
        *p = tag;
        mine.push_back(p);
      }
      for (int* p : mine) {
        ASSERT_EQ(*p, tag);
        cache.free(p);
      }
      mine.clear();
    }
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
  EXPECT_EQ(cache.in_use(), 0u);
}

}  // namespace
}  // namespace uvm
