// The C++ API as a consumer meets it: uvmalloc.hpp (std::span: C++20)
// built with the compiler's default standard, which the installed package
// raises (the CMake target's cxx_std_20, pkg-config's uvmalloc-cxx).
#include <cstdio>
#include <cstring>
#include <uvmalloc/uvmalloc.hpp>
#include <vector>

int main() {
  uvm::ring_buffer ring(1 << 16);
  std::span<std::byte> w = ring.write_window();
  std::memset(w.data(), 'x', w.size());
  ring.commit(w.size());
  if (ring.read_window().size() != w.size()) return 1;
  std::vector<int, uvm::allocator<int>> v(1 << 20, 7);
  if (v[(1 << 20) - 1] != 7) return 1;
  std::printf("c++ consumer (__cplusplus %ld): ring of %zu bytes, vector of %zu ints\n",
              static_cast<long>(__cplusplus), ring.capacity(), v.size());
  return 0;
}
