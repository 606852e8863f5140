// A chain, LD_PRELOAD=libuvmalloc_preload.so:libNEXT.so, from the program's
// side: every form of operator new and delete and the malloc family, below
// and above the threshold, interleaved, with each block checked to come from
// the allocator it should (uvmalloc's by its address in the vmalloc space,
// NEXT's by NEXT's own account of its blocks), and the shim's count of live
// blocks (in malloc_info) following. Then realloc across the threshold,
// fork with both kinds live, and the new-handler loop.
//
// Usage: test_chain glibc|jemalloc|mimalloc|tcmalloc [inert]
// "inert": the other order, LD_PRELOAD=libNEXT.so:libuvmalloc_preload.so,
// where every block must be NEXT's and none uvmalloc's. Never links
// uvmalloc or NEXT.
#include <dlfcn.h>
#include <malloc.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "preload_test.h"

// C23 / glibc 2.41; glibc 2.36 lacks them, the shim exports them.
extern "C" void free_sized(void* p, size_t size) __attribute__((weak));
extern "C" void free_aligned_sized(void* p, size_t align, size_t size) __attribute__((weak));

namespace {

constexpr size_t KiB = size_t{1} << 10;
constexpr size_t MiB = size_t{1} << 20;

bool g_inert = false;

// NEXT's account of its blocks, looked up at run time (the program links
// none of them): whether `p`, just returned by an allocation that started
// when counter() read `before`, is NEXT's.
struct next_allocator {
  std::string name;
  bool (*mi_is_in_heap_region)(const void*) = nullptr;  // mimalloc
  int (*tc_ownership)(const void*) = nullptr;           // tcmalloc: 1 = owned
  uint64_t* je_allocated = nullptr;                     // jemalloc: bytes this thread allocated

  uint64_t counter() const { return je_allocated ? *je_allocated : 0; }

  bool owns(const void* p, uint64_t before) const {
    if (name == "mimalloc") return mi_is_in_heap_region(p);
    if (name == "tcmalloc") return tc_ownership(p) == 1;
    if (name == "jemalloc") return *je_allocated > before;
    return in_glibc_memory(p);
  }

  // glibc has no such account: its main arena ([heap]), or a private
  // anonymous mapping (its mmapped chunks), which uvmalloc's never are.
  static bool in_glibc_memory(const void* p) {
    FILE* f = fopen("/proc/self/maps", "r");
    UVMT_REQUIRE(f != nullptr);
    char line[512];
    bool in = false;
    while (!in && fgets(line, sizeof line, f) != nullptr) {
      line[strcspn(line, "\n")] = 0;
      unsigned long lo, hi, off, inode;
      char perms[8], dev[16];
      int path = 0;
      if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &inode, &path) <
          6)
        continue;
      bool anon = inode == 0 && (line[path] == 0 || strcmp(line + path, "[heap]") == 0);
      in = anon && strcmp(perms, "rw-p") == 0 && reinterpret_cast<uintptr_t>(p) >= lo &&
           reinterpret_cast<uintptr_t>(p) < hi;
    }
    fclose(f);
    return in;
  }
};

next_allocator g_next;

void find_next(const char* name) {
  g_next.name = name;
  if (g_next.name == "mimalloc") {
    g_next.mi_is_in_heap_region =
        reinterpret_cast<bool (*)(const void*)>(dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
    UVMT_REQUIRE(g_next.mi_is_in_heap_region != nullptr);
  } else if (g_next.name == "tcmalloc") {
    g_next.tc_ownership =
        reinterpret_cast<int (*)(const void*)>(dlsym(RTLD_DEFAULT, "MallocExtension_GetOwnership"));
    UVMT_REQUIRE(g_next.tc_ownership != nullptr);
  } else if (g_next.name == "jemalloc") {
    using mallctl_fn = int (*)(const char*, void*, size_t*, void*, size_t);
    auto mallctl = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl"));
    UVMT_REQUIRE(mallctl != nullptr);
    size_t len = sizeof g_next.je_allocated;
    UVMT_REQUIRE(mallctl("thread.allocatedp", &g_next.je_allocated, &len, nullptr, 0) == 0);
  } else {
    UVMT_REQUIRE(g_next.name == "glibc");
  }
}

// uvmalloc's live blocks by the shim's own count: the <uvmalloc count=N/>
// element it adds to malloc_info (none while there is no instance).
size_t shim_blocks() {
  char* doc = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&doc, &len);
  UVMT_REQUIRE(mem != nullptr);
  UVMT_REQUIRE(malloc_info(0, mem) == 0);
  fclose(mem);
  const char* e = strstr(doc, "<uvmalloc count=\"");
  size_t n = e != nullptr ? strtoull(e + 17, nullptr, 10) : 0;
  free(doc);
  return n;
}

// Checks that `p`, of `size` bytes, came from where a request of `size`
// should go, and is usable. Aligned new is routed by the size libstdc++
// would pass to aligned_alloc: `size` rounded up to `round_to`.
void check_owner(const char* what, void* p, size_t size, size_t align, uint64_t before,
                 size_t round_to = 1) {
  size_t routed = (size + round_to - 1) / round_to * round_to;
  bool large = routed >= uvmt_threshold() && !g_inert;
  bool in_next = g_next.owns(p, before);  // first: reading the maps allocates
  bool in_uvm = uvmt_in_uvm(p);
  if (in_uvm != large || in_next == large) {
    fprintf(stderr, "%s(%zu): %p is %s, %s%s's, expected %s\n", what, size, p,
            in_uvm ? "uvmalloc's" : "not uvmalloc's", in_next ? "" : "not ", g_next.name.c_str(),
            large ? "uvmalloc's" : g_next.name.c_str());
    ++uvmt_failures;
  }
  UVMT_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0);
  UVMT_CHECK(malloc_usable_size(p) >= size);
  uvmt_fill(p, size, static_cast<unsigned>(size));
}

// One way to allocate and the matching way to free.
struct form {
  const char* name;
  size_t align;
  size_t round_to;  // aligned new: its alignment
  std::function<void*(size_t)> alloc;
  std::function<void(void*, size_t)> release;
};

std::vector<form> forms() {
  constexpr auto a64 = std::align_val_t(64);
  constexpr auto a4k = std::align_val_t(4096);
  const auto& nt = std::nothrow;
  return {
      {"new", 16, 1, [](size_t n) { return ::operator new(n); },
       [](void* p, size_t) { ::operator delete(p); }},
      {"new/sized delete", 16, 1, [](size_t n) { return ::operator new(n); },
       [](void* p, size_t n) { ::operator delete(p, n); }},
      {"new[]", 16, 1, [](size_t n) { return ::operator new[](n); },
       [](void* p, size_t) { ::operator delete[](p); }},
      {"new[]/sized delete[]", 16, 1, [](size_t n) { return ::operator new[](n); },
       [](void* p, size_t n) { ::operator delete[](p, n); }},
      {"new nothrow", 16, 1, [&](size_t n) { return ::operator new(n, nt); },
       [&](void* p, size_t) { ::operator delete(p, nt); }},
      {"new[] nothrow", 16, 1, [&](size_t n) { return ::operator new[](n, nt); },
       [&](void* p, size_t) { ::operator delete[](p, nt); }},
      {"new aligned", 64, 64, [=](size_t n) { return ::operator new(n, a64); },
       [=](void* p, size_t) { ::operator delete(p, a64); }},
      {"new aligned/sized delete", 4096, 4096, [=](size_t n) { return ::operator new(n, a4k); },
       [=](void* p, size_t n) { ::operator delete(p, n, a4k); }},
      {"new aligned/nothrow delete", 64, 64, [=](size_t n) { return ::operator new(n, a64); },
       [&](void* p, size_t) { ::operator delete(p, a64, nt); }},
      {"new[] aligned", 4096, 4096, [=](size_t n) { return ::operator new[](n, a4k); },
       [=](void* p, size_t) { ::operator delete[](p, a4k); }},
      {"new[] aligned/sized delete[]", 64, 64, [=](size_t n) { return ::operator new[](n, a64); },
       [=](void* p, size_t n) { ::operator delete[](p, n, a64); }},
      {"new aligned nothrow", 4096, 4096, [&](size_t n) { return ::operator new(n, a4k, nt); },
       [&](void* p, size_t) { ::operator delete(p, a4k, nt); }},
      {"new[] aligned nothrow", 64, 64, [&](size_t n) { return ::operator new[](n, a64, nt); },
       [&](void* p, size_t) { ::operator delete[](p, a64, nt); }},
      {"malloc", 16, 1, [](size_t n) { return malloc(n); }, [](void* p, size_t) { free(p); }},
      {"calloc", 16, 1, [](size_t n) { return calloc(1, n); }, [](void* p, size_t) { free(p); }},
      {"aligned_alloc", 4096, 1, [](size_t n) { return aligned_alloc(4096, n); },
       [](void* p, size_t) { free(p); }},
      {"posix_memalign", 64, 1,
       [](size_t n) {
         void* p = nullptr;
         return posix_memalign(&p, 64, n) == 0 ? p : nullptr;
       },
       [](void* p, size_t) { free(p); }},
      // Entry points some NEXT lacks (jemalloc: pvalloc, reallocarray; all
      // three: free_sized), so the shim's serve them even when inert.
      {"valloc", 4096, 1, [](size_t n) { return valloc(n); }, [](void* p, size_t) { free(p); }},
      {"pvalloc", 4096, 4096, [](size_t n) { return pvalloc(n); },
       [](void* p, size_t) { free(p); }},
      {"reallocarray", 16, 1, [](size_t n) { return reallocarray(nullptr, 1, n); },
       [](void* p, size_t) { free(p); }},
      {"malloc/free_sized", 16, 1, [](size_t n) { return malloc(n); },
       [](void* p, size_t n) { free_sized(p, n); }},
      {"aligned_alloc/free_aligned_sized", 64, 1, [](size_t n) { return aligned_alloc(64, n); },
       [](void* p, size_t n) { free_aligned_sized(p, 64, n); }},
  };
}

struct live {
  const form* f;
  void* p;
  size_t size;
};

// Every form at every size, all live at once, freed in a shuffled order.
void test_forms() {
  size_t t = uvmt_threshold();
  const size_t sizes[] = {24, 1000, 64 * KiB, t - 1, t, 1 * MiB + 5, 3 * MiB};
  std::vector<form> all = forms();
  std::vector<live> blocks;
  size_t shim_before = shim_blocks();
  size_t large = 0;
  for (const form& f : all) {
    for (size_t n : sizes) {
      uint64_t before = g_next.counter();
      void* p = f.alloc(n);
      UVMT_REQUIRE(p != nullptr);
      check_owner(f.name, p, n, f.align, before, f.round_to);
      blocks.push_back({&f, p, n});
      if ((n + f.round_to - 1) / f.round_to * f.round_to >= t && !g_inert) ++large;
    }
  }
  UVMT_CHECK(shim_blocks() - shim_before == large);
  uint64_t rng = 7;
  for (size_t i = blocks.size(); i > 1; --i) {
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    std::swap(blocks[i - 1], blocks[(rng >> 33) % i]);
  }
  for (const live& b : blocks) {
    UVMT_CHECK(uvmt_verify(b.p, b.size, static_cast<unsigned>(b.size)) == static_cast<size_t>(-1));
    b.f->release(b.p, b.size);
  }
  UVMT_CHECK(shim_blocks() == shim_before);
}

// realloc moves a block between the two allocators with its contents, and
// each side reports its usable size.
void test_realloc() {
  size_t t = uvmt_threshold();
  uint64_t before = g_next.counter();
  auto* p = static_cast<unsigned char*>(malloc(1000));
  UVMT_REQUIRE(p != nullptr);
  check_owner("malloc", p, 1000, 16, before);
  const size_t steps[] = {t / 2, t, 3 * MiB, t - 1, 200, 5 * MiB};
  size_t have = 1000;
  for (size_t n : steps) {
    before = g_next.counter();
    auto* q = static_cast<unsigned char*>(realloc(p, n));
    UVMT_REQUIRE(q != nullptr);
    UVMT_CHECK(uvmt_verify(q, std::min(have, n), static_cast<unsigned>(have)) ==
               static_cast<size_t>(-1));
    check_owner("realloc", q, n, 16, before);
    p = q;
    have = n;
  }
  free(p);
}

// fork with both kinds live: each process frees the other's view of them
// and allocates anew without disturbing the other.
void test_fork() {
  size_t t = uvmt_threshold();
  const size_t sizes[] = {100, 4000, t, 8 * MiB};
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t n : sizes) {
    blocks.push_back({new char[n], n});
    uvmt_fill(blocks.back().first, n, static_cast<unsigned>(n) + 1);
    blocks.push_back({static_cast<char*>(malloc(n)), n});
    uvmt_fill(blocks.back().first, n, static_cast<unsigned>(n) + 2);
  }
  fflush(nullptr);
  pid_t pid = fork();
  UVMT_REQUIRE(pid >= 0);
  if (pid == 0) {
    int bad = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto [p, n] = blocks[i];
      unsigned seed = static_cast<unsigned>(n) + (i % 2 ? 2 : 1);
      bad += uvmt_verify(p, n, seed) != static_cast<size_t>(-1);
      memset(p, 0x5a, n);
      if (i % 2) {
        free(p);
      } else {
        delete[] p;
      }
    }
    for (size_t n : sizes) {
      uint64_t before = g_next.counter();
      char* q = new char[n];
      check_owner("new[] in the child", q, n, 16, before);
      delete[] q;
    }
    _exit(bad == 0 && uvmt_failures == 0 ? 0 : 1);
  }
  int status = 0;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid);
  UVMT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto [p, n] = blocks[i];
    UVMT_CHECK(uvmt_verify(p, n, static_cast<unsigned>(n) + (i % 2 ? 2 : 1)) ==
               static_cast<size_t>(-1));
    if (i % 2) {
      free(p);
    } else {
      delete[] p;
    }
  }
}

int g_handler_calls;
volatile size_t v_impossible = size_t{1} << 62;

// What a new-handler may throw: a bad_alloc.
struct handler_gave_up : std::bad_alloc {};

// The new-handler is called until it uninstalls itself (then bad_alloc),
// or throws (its exception, or null from the nothrow forms).
void test_new_handler() {
  g_handler_calls = 0;
  std::set_new_handler([] {
    if (++g_handler_calls == 3) std::set_new_handler(nullptr);
  });
  bool threw = false;
  try {
    uvmt_escape(::operator new(v_impossible));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  UVMT_CHECK(threw && g_handler_calls == 3);

  g_handler_calls = 0;
  std::set_new_handler([] {
    if (++g_handler_calls == 2) throw handler_gave_up();
  });
  threw = false;
  try {
    uvmt_escape(::operator new[](v_impossible, std::align_val_t(4096)));
  } catch (const handler_gave_up&) {
    threw = true;  // its own exception, as libstdc++ lets it through
  }
  UVMT_CHECK(threw && g_handler_calls == 2);
  g_handler_calls = 0;
  UVMT_CHECK(::operator new(v_impossible, std::nothrow) == nullptr);
  UVMT_CHECK(g_handler_calls == 2);
  g_handler_calls = 0;
  UVMT_CHECK(::operator new[](v_impossible, std::align_val_t(64), std::nothrow) == nullptr);
  UVMT_CHECK(g_handler_calls == 2);
  std::set_new_handler(nullptr);
  UVMT_CHECK(::operator new[](v_impossible, std::nothrow) == nullptr);

  // Still served afterwards.
  uint64_t before = g_next.counter();
  void* p = ::operator new(4 * MiB);
  check_owner("new", p, 4 * MiB, 16, before);
  ::operator delete(p);
}

}  // namespace

int main(int argc, char** argv) {
  uvmt_require_shim();
  UVMT_REQUIRE(argc >= 2);
  g_inert = argc >= 3 && strcmp(argv[2], "inert") == 0;
  find_next(argv[1]);
  UVMT_REQUIRE(free_sized != nullptr && free_aligned_sized != nullptr);
  // The shim up (its first large block maps the space), or, inert, not.
  void* probe = malloc(8 * MiB);
  uvmt_escape(probe);
  uintptr_t lo, hi;
  UVMT_REQUIRE(uvmt_find_space(&lo, &hi) == !g_inert);
  free(probe);
  test_forms();
  test_realloc();
  test_fork();
  // Inert, failures are NEXT's own: jemalloc throws bad_alloc in place of
  // the handler's exception, mimalloc aborts where a throwing new fails.
  if (!g_inert) test_new_handler();
  std::printf("chain %s%s: %d failure(s)\n", argv[1], g_inert ? " (inert)" : "", uvmt_failures);
  return uvmt_failures ? 1 : 0;
}
