// What the tests of a Vmalloc of their own share: the sizes they speak in,
// one instance per test made from a vm_config, checked whole at the end,
// and allocations that must succeed or must fail.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace uvm::test {

constexpr size_t P = pal::kPageSize;
constexpr size_t MiB = size_t{1} << 20;
constexpr size_t GiB = size_t{1} << 30;

inline size_t round_up(size_t n) {
  return pal::page_align(n);
}

// Mixed into a gtest fixture, whose TearDown() calls check_at_end().
class VmallocOwner {
 protected:
  void start(const vm_config& c) {
    vm = std::make_unique<Vmalloc>();
    ASSERT_EQ(vm->init(c), UVM_OK);
    ASSERT_EQ(vm->check(), "");
  }
  void check_at_end() {
    if (vm != nullptr) {
      EXPECT_EQ(vm->check(), "");
    }
  }

  // An allocation that must succeed.
  char* alloc(size_t size, size_t align = 1, unsigned flags = 0) {
    int status = -1;
    void* p = vm->alloc(size, align, flags, nullptr, &status);
    EXPECT_NE(p, nullptr) << "size " << size << " align " << align << " status " << status;
    EXPECT_EQ(status, p != nullptr ? UVM_OK : status);
    return static_cast<char*>(p);
  }
  // Status of an allocation that should fail (and must return null).
  int alloc_fails(size_t size, size_t align = 1, unsigned flags = 0) {
    int status = -1;
    void* p = vm->alloc(size, align, flags, nullptr, &status);
    EXPECT_EQ(p, nullptr) << "size " << size << " align " << align;
    if (p != nullptr) vm->free(p);
    return status;
  }

  std::unique_ptr<Vmalloc> vm;
};

}  // namespace uvm::test
