// C++ allocation under the shim: operator new (libstdc++'s, which calls
// malloc) of large arrays lands in uvmalloc, aligned new (which calls
// aligned_alloc) keeps its alignment, containers that grow past the threshold
// keep their contents, and failures throw std::bad_alloc or return nullptr
// (nothrow) instead of crashing. Never links uvmalloc.
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <numeric>
#include <string>
#include <vector>

#include "preload_test.h"

namespace {

constexpr size_t MiB = size_t{1} << 20;
volatile size_t v_huge = SIZE_MAX / 4;

void test_new_array() {
  char* a = new char[64 * MiB];
  uvmt_escape(a);
  UVMT_CHECK(uvmt_in_uvm(a));
  std::fill_n(a, 64 * MiB, 'x');
  UVMT_CHECK(a[64 * MiB - 1] == 'x');
  delete[] a;

  // Value-initialised: zero, also when the pages were used before.
  char* dirty = new char[8 * MiB];
  std::fill_n(dirty, 8 * MiB, 'd');
  uvmt_escape(dirty);
  delete[] dirty;
  auto* z = new uint64_t[1 * MiB]();
  uvmt_escape(z);
  UVMT_CHECK(uvmt_in_uvm(z));
  UVMT_CHECK(std::all_of(z, z + 1 * MiB, [](uint64_t v) { return v == 0; }));
  delete[] z;

  // Small stays with the next allocator.
  auto* s = new int[10];
  uvmt_escape(s);
  UVMT_CHECK(!uvmt_in_uvm(s));
  delete[] s;

  // make_unique / shared_ptr of a large array.
  auto u = std::make_unique<double[]>(2 * MiB);
  UVMT_CHECK(uvmt_in_uvm(u.get()));
  u[2 * MiB - 1] = 1.5;
  UVMT_CHECK(u[0] == 0.0 && u[2 * MiB - 1] == 1.5);
}

struct alignas(4096) Page {
  unsigned char b[4096];
};

struct alignas(2 * 1024 * 1024) Huge {
  unsigned char b[2 * 1024 * 1024];
};

void test_aligned_new() {
  for (size_t align = 64; align <= 64 * MiB; align <<= 1) {
    void* p = ::operator new(3 * MiB, std::align_val_t(align));
    uvmt_escape(p);
    UVMT_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0);
    UVMT_CHECK(uvmt_in_uvm(p));
    std::fill_n(static_cast<char*>(p), 3 * MiB, 'a');
    ::operator delete(p, std::align_val_t(align));
  }
  auto* pages = new Page[100];  // 400 KiB, over-aligned type
  uvmt_escape(pages);
  UVMT_CHECK(reinterpret_cast<uintptr_t>(pages) % 4096 == 0);
  UVMT_CHECK(uvmt_in_uvm(pages));
  delete[] pages;
  auto* huge = new Huge[3];
  uvmt_escape(huge);
  UVMT_CHECK(reinterpret_cast<uintptr_t>(huge) % (2 * MiB) == 0);
  UVMT_CHECK(uvmt_in_uvm(huge));
  huge[2].b[2 * MiB - 1] = 7;
  delete[] huge;
}

void test_containers() {
  std::vector<uint32_t> v;
  for (uint32_t i = 0; i < 16 * MiB; ++i) v.push_back(i * 2654435761u);
  UVMT_CHECK(uvmt_in_uvm(v.data()));
  bool ok = true;
  for (uint32_t i = 0; i < 16 * MiB; ++i) ok &= v[i] == i * 2654435761u;
  UVMT_CHECK(ok);
  v.resize(100);
  v.shrink_to_fit();
  UVMT_CHECK(!uvmt_in_uvm(v.data()));
  UVMT_CHECK(v[99] == 99u * 2654435761u);

  std::string s;
  for (int i = 0; i < 200000; ++i) s += std::to_string(i);
  UVMT_CHECK(uvmt_in_uvm(s.data()));
  UVMT_CHECK(s.compare(0, 10, "0123456789") == 0);
  UVMT_CHECK(s.size() == 1088890);

  std::vector<std::vector<char>> many;
  for (int i = 0; i < 64; ++i) many.emplace_back(256 * 1024 + i * 4096, static_cast<char>(i));
  for (int i = 0; i < 64; ++i) {
    UVMT_CHECK(uvmt_in_uvm(many[i].data()));
    UVMT_CHECK(many[i].back() == static_cast<char>(i));
  }
}

void test_failures() {
  bool threw = false;
  try {
    char* p = new char[v_huge];
    uvmt_escape(p);
    delete[] p;
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  UVMT_CHECK(threw);
  char* q = new (std::nothrow) char[v_huge];
  UVMT_CHECK(q == nullptr);
  threw = false;
  try {
    void* p = ::operator new(v_huge, std::align_val_t(1 << 20));
    uvmt_escape(p);
    ::operator delete(p, std::align_val_t(1 << 20));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  UVMT_CHECK(threw);
  // Still fine afterwards.
  auto* ok = new char[4 * MiB];
  uvmt_escape(ok);
  UVMT_CHECK(uvmt_in_uvm(ok));
  delete[] ok;
}

}  // namespace

int main() {
  uvmt_require_shim();
  test_new_array();
  test_aligned_new();
  test_containers();
  test_failures();
  std::printf("new: %d failure(s)\n", uvmt_failures);
  return uvmt_failures ? 1 : 0;
}
