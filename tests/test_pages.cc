// Pages as objects: uvm_alloc_pages / uvm_free_pages, uvm_vmap / uvm_vunmap,
// uvm_vm_map_ram / uvm_vm_unmap_ram (per-thread blocks) and
// uvm_vmalloc_to_page.
//
// PagesTest runs every scenario twice: through the C API (the process-wide
// instance) and on a fresh uvm::Vmalloc. Scenario bodies run on a new thread
// each, so every one starts with a fresh vm_map_ram block.
//
// Tests named *Bug* are regression tests for library bugs found and fixed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pal.h"
#include "test_util.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace uvm {
namespace {

using uvm::test::poke;
using uvm::test::Rng;

constexpr size_t P = pal::kPageSize;
constexpr size_t MiB = size_t{1} << 20;
constexpr size_t GiB = size_t{1} << 30;
constexpr size_t kBlockBytes = 4 * MiB;  // a vm_map_ram block (vmap_block.cc)

// Page contents: word i of a page holds tag ^ (i * constant). Accesses go
// through volatile pointers: two mappings of the same pages alias, which the
// compiler cannot know.
void fill_page(void* page, uint64_t tag) {
  auto* w = static_cast<volatile uint64_t*>(page);
  for (size_t i = 0; i < P / 8; ++i) w[i] = tag ^ (i * 0x9e3779b97f4a7c15ull);
}
bool page_is(const void* page, uint64_t tag) {
  auto* w = static_cast<const volatile uint64_t*>(page);
  for (size_t i = 0; i < P / 8; ++i)
    if (w[i] != (tag ^ (i * 0x9e3779b97f4a7c15ull))) return false;
  return true;
}
uint64_t read_word(const void* p) {
  return *static_cast<const volatile uint64_t*>(p);
}
void write_word(void* p, uint64_t v) {
  *static_cast<volatile uint64_t*>(p) = v;
}

// The file offset and file name behind `addr`, from /proc/self/maps: an
// independent check of uvm_vmalloc_to_page.
bool maps_file_offset(const void* addr, size_t* off, std::string* path) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == nullptr) return false;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  char line[4096];
  bool found = false;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long start, end, offset;
    char perms[8];
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &offset, &name_at) < 4)
      continue;
    if (a < start || a >= end) continue;
    *off = offset + ((a - start) & ~(P - 1));
    std::string name = name_at > 0 ? line + name_at : "";
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    *path = name;
    found = true;
    break;
  }
  fclose(f);
  return found;
}

// Run `fn` on a new thread and wait: it starts with no vm_map_ram block.
void on_new_thread(const std::function<void()>& fn) {
  std::thread t(fn);
  t.join();
}

// Lowest address for which `in_space` holds, below `inside` (which is in the
// space) and at most `size` bytes below it.
uintptr_t space_start(const std::function<bool(uintptr_t)>& in_space, uintptr_t inside,
                      size_t size) {
  uintptr_t lo = inside > size ? inside - size : 0;  // not in the space
  uintptr_t hi = inside & ~(P - 1);                  // in the space
  while (hi - lo > P) {
    uintptr_t mid = (lo + (hi - lo) / 2) & ~(P - 1);
    if (mid == lo) break;
    (in_space(mid) ? hi : lo) = mid;
  }
  return hi;
}

// ---- One interface over the C API and a uvm::Vmalloc instance --------------

struct Backend {
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual uvm_pages* alloc_pages(size_t n) = 0;
  virtual void free_pages(uvm_pages* h) = 0;
  virtual void* vmap(uvm_pages* const* h, size_t count, unsigned flags) = 0;
  // UVM_OK, or why not (the C API reports and aborts instead).
  virtual int vunmap(void* p) = 0;
  virtual void* map_ram(uvm_pages* const* h, size_t count) = 0;
  virtual int unmap_ram(void* p, size_t pages) = 0;
  virtual int to_page(const void* p, uvm_page_info* info) = 0;
  // Area containing p: status, and its start and usable size.
  virtual int find(const void* p, uintptr_t* start, size_t* size) = 0;
  virtual size_t areas() = 0;
  virtual size_t in_use() = 0;
  virtual uintptr_t start() = 0;
  virtual bool is_instance() const = 0;
};

struct CApi final : Backend {
  const char* name() const override { return "capi"; }
  uvm_pages* alloc_pages(size_t n) override { return uvm_alloc_pages(n); }
  void free_pages(uvm_pages* h) override { uvm_free_pages(h); }
  void* vmap(uvm_pages* const* h, size_t count, unsigned flags) override {
    return uvm_vmap(h, count, flags);
  }
  int vunmap(void* p) override {
    uvm_vunmap(p);
    return UVM_OK;
  }
  void* map_ram(uvm_pages* const* h, size_t count) override { return uvm_vm_map_ram(h, count); }
  int unmap_ram(void* p, size_t pages) override {
    uvm_vm_unmap_ram(p, pages);
    return UVM_OK;
  }
  int to_page(const void* p, uvm_page_info* info) override { return uvm_vmalloc_to_page(p, info); }
  int find(const void* p, uintptr_t* start, size_t* size) override {
    uvm_area a{};
    int rc = uvm_find_vm_area(p, &a);
    *start = reinterpret_cast<uintptr_t>(a.addr);
    *size = a.size;
    return rc;
  }
  size_t areas() override {
    struct uvm_stats s {};
    uvm_stats(&s);
    return s.areas;
  }
  size_t in_use() override {
    struct uvm_stats s {};
    uvm_stats(&s);
    // Less what lazy areas of earlier tests hold: the purge thread may
    // give those back at any moment.
    return s.in_use > s.lazy ? s.in_use - s.lazy : 0;
  }
  uintptr_t start() override {
    static const uintptr_t s = [] {
      void* p = uvm_vmalloc(P);
      struct uvm_stats st {};
      uvm_stats(&st);
      uintptr_t r = space_start(
          [](uintptr_t a) { return uvm_is_vmalloc_addr(reinterpret_cast<void*>(a)) != 0; },
          reinterpret_cast<uintptr_t>(p), st.reserved);
      uvm_vfree(p);
      return r;
    }();
    return s;
  }
  bool is_instance() const override { return false; }
};

struct Instance final : Backend {
  std::unique_ptr<Vmalloc> vm;
  uintptr_t start_ = 0;
  const char* name() const override { return "instance"; }
  uvm_pages* alloc_pages(size_t n) override {
    int st;
    return vm->alloc_pages(n, &st);
  }
  void free_pages(uvm_pages* h) override {
    if (h != nullptr) vm->put_pages(h);
  }
  void* vmap(uvm_pages* const* h, size_t count, unsigned flags) override {
    int st;
    return vm->vmap(h, count, flags, nullptr, &st);
  }
  int vunmap(void* p) override { return vm->vunmap(p); }
  void* map_ram(uvm_pages* const* h, size_t count) override {
    int st;
    return vm->vm_map_ram(h, count, &st);
  }
  int unmap_ram(void* p, size_t pages) override { return vm->vm_unmap_ram(p, pages); }
  int to_page(const void* p, uvm_page_info* info) override { return vm->to_page(p, info); }
  int find(const void* p, uintptr_t* start, size_t* size) override {
    vm_struct s{};
    int rc = vm->find(p, &s);
    *start = s.addr;
    *size = s.size;
    return rc;
  }
  size_t areas() override { return vm->stats().areas; }
  size_t in_use() override { return vm->pool().in_use; }
  uintptr_t start() override { return start_; }
  bool is_instance() const override { return true; }
};

vm_config instance_config() {
  vm_config c;
  c.reserve = 4 * GiB;
  c.min_reserve = GiB;
  c.pool.refill = MiB;
  return c;
}

// A fresh instance whose space start is (or, with `aligned` false, is not)
// 4 MiB aligned. Instances that do not fit stay alive while searching, so
// the next one lands elsewhere.
std::unique_ptr<Instance> make_instance(bool aligned) {
  std::vector<std::unique_ptr<Vmalloc>> rejected;
  std::vector<void*> spacers;
  struct Unmap {
    std::vector<void*>& v;
    ~Unmap() {
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i] != nullptr) pal::unmap(v[i], (1 + i % 3) * MiB);
    }
  } unmap_spacers{spacers};
  for (int i = 0; i < 64; ++i) {
    auto vm = std::make_unique<Vmalloc>();
    if (vm->init(instance_config()) != UVM_OK) return nullptr;
    int st;
    void* first = vm->alloc(P, 1, 0, nullptr, &st);  // lowest fit: the space start
    if (first == nullptr) return nullptr;
    uintptr_t start = reinterpret_cast<uintptr_t>(first);
    vm->free(first);
    vm->purge();
    if ((start % kBlockBytes == 0) == aligned) {
      auto inst = std::make_unique<Instance>();
      inst->vm = std::move(vm);
      inst->start_ = start;
      return inst;
    }
    rejected.push_back(std::move(vm));
    // Reservations are placed next to each other with the same alignment;
    // a spacer of another size moves the next one.
    spacers.push_back(pal::reserve((1 + spacers.size() % 3) * MiB, P));
  }
  return nullptr;
}

class PagesTest : public ::testing::TestWithParam<bool> {  // true: instance
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto inst = make_instance(true);
      ASSERT_NE(inst, nullptr);
      b = std::move(inst);
    } else {
      b = std::make_unique<CApi>();
    }
  }
  void TearDown() override {
    if (auto* inst = dynamic_cast<Instance*>(b.get())) {
      EXPECT_EQ(inst->vm->check(), "");
    }
  }

  std::unique_ptr<Backend> b;
};

INSTANTIATE_TEST_SUITE_P(Backend, PagesTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "instance" : "capi";
                         });

TEST_P(PagesTest, AllocCountAndFree) {
  on_new_thread([&] {
    errno = 0;
    EXPECT_EQ(b->alloc_pages(0), nullptr);
    if (!b->is_instance()) {
      EXPECT_EQ(errno, EINVAL);
    }
    errno = 0;
    EXPECT_EQ(b->alloc_pages(SIZE_MAX), nullptr);
    if (!b->is_instance()) {
      EXPECT_EQ(errno, ENOMEM);
    }
    EXPECT_EQ(uvm_pages_count(nullptr), 0u);
    b->free_pages(nullptr);
    size_t in_use = b->in_use();
    uvm_pages* one = b->alloc_pages(1);
    uvm_pages* seven = b->alloc_pages(7);
    ASSERT_NE(one, nullptr);
    ASSERT_NE(seven, nullptr);
    EXPECT_EQ(uvm_pages_count(one), 1u);
    EXPECT_EQ(uvm_pages_count(seven), 7u);
    EXPECT_EQ(b->in_use(), in_use + 8 * P);
    b->free_pages(one);
    EXPECT_EQ(b->in_use(), in_use + 7 * P);
    b->free_pages(seven);
    EXPECT_EQ(b->in_use(), in_use);
  });
}

// Handles of 2, 3 and 1 pages mapped back to back; each handle mapped alone
// too. Writes through either are seen through the other, and
// vmalloc_to_page names the handle, the index and the memfd offset.
TEST_P(PagesTest, VmapMapsHandlesBackToBack) {
  on_new_thread([&] {
    const size_t counts[3] = {2, 3, 1};
    uvm_pages* h[3];
    for (int i = 0; i < 3; ++i) {
      h[i] = b->alloc_pages(counts[i]);
      ASSERT_NE(h[i], nullptr);
    }
    auto* m = static_cast<char*>(b->vmap(h, 3, 0));
    ASSERT_NE(m, nullptr);
    uintptr_t start;
    size_t size;
    EXPECT_EQ(b->find(m, &start, &size), UVM_OK);
    EXPECT_EQ(start, reinterpret_cast<uintptr_t>(m));
    EXPECT_EQ(size, 6 * P);
    char* alone[3];
    for (int i = 0; i < 3; ++i) {
      alone[i] = static_cast<char*>(b->vmap(&h[i], 1, 0));
      ASSERT_NE(alone[i], nullptr);
    }
    size_t page = 0;
    for (int i = 0; i < 3; ++i) {
      for (size_t k = 0; k < counts[i]; ++k, ++page) {
        SCOPED_TRACE(testing::Message() << "handle " << i << " page " << k);
        uint64_t tag = 0x1000 + page;
        fill_page(m + page * P, tag);
        EXPECT_TRUE(page_is(alone[i] + k * P, tag));
        write_word(alone[i] + k * P + 64, 0xabcdef00 + page);
        EXPECT_EQ(read_word(m + page * P + 64), 0xabcdef00 + page);
        uvm_page_info info{}, info2{};
        ASSERT_EQ(b->to_page(m + page * P + 100, &info), UVM_OK);
        EXPECT_EQ(info.pages, h[i]);
        EXPECT_EQ(info.index, k);
        EXPECT_EQ(info.offset, 100u);
        ASSERT_EQ(b->to_page(alone[i] + k * P, &info2), UVM_OK);
        EXPECT_EQ(info2.pages, h[i]);
        EXPECT_EQ(info2.index, k);
        EXPECT_EQ(info2.offset, 0u);
        EXPECT_EQ(info2.file_offset, info.file_offset);
        size_t off;
        std::string path;
        ASSERT_TRUE(maps_file_offset(m + page * P, &off, &path));
        EXPECT_EQ(off, info.file_offset);
        EXPECT_NE(path.find("uvmalloc"), std::string::npos) << path;
      }
    }
    for (char* a : alone) EXPECT_EQ(b->vunmap(a), UVM_OK);
    EXPECT_EQ(b->vunmap(m), UVM_OK);
    for (uvm_pages* x : h) b->free_pages(x);
  });
}

TEST_P(PagesTest, SameHandleMappedTwiceAliases) {
  on_new_thread([&] {
    uvm_pages* h = b->alloc_pages(3);
    ASSERT_NE(h, nullptr);
    uvm_pages* twice[2] = {h, h};
    auto* m = static_cast<char*>(b->vmap(twice, 2, 0));
    ASSERT_NE(m, nullptr);
    auto* other = static_cast<char*>(b->vmap(&h, 1, 0));  // a separate call
    ASSERT_NE(other, nullptr);
    for (size_t k = 0; k < 3; ++k) {
      fill_page(m + k * P, 7 + k);
      EXPECT_TRUE(page_is(m + (3 + k) * P, 7 + k));
      EXPECT_TRUE(page_is(other + k * P, 7 + k));
    }
    write_word(other + 2 * P + 8, 0x5555);
    EXPECT_EQ(read_word(m + 2 * P + 8), 0x5555u);
    EXPECT_EQ(read_word(m + 5 * P + 8), 0x5555u);
    write_word(m + 4 * P, 0x6666);  // the second copy
    EXPECT_EQ(read_word(m + P), 0x6666u);
    EXPECT_EQ(read_word(other + P), 0x6666u);
    uvm_page_info i1{}, i2{};
    ASSERT_EQ(b->to_page(m + P, &i1), UVM_OK);
    ASSERT_EQ(b->to_page(m + 4 * P, &i2), UVM_OK);
    EXPECT_EQ(i1.pages, h);
    EXPECT_EQ(i2.pages, h);
    EXPECT_EQ(i1.index, 1u);
    EXPECT_EQ(i2.index, 1u);
    EXPECT_EQ(i1.file_offset, i2.file_offset);
    EXPECT_EQ(b->vunmap(other), UVM_OK);
    EXPECT_EQ(b->vunmap(m), UVM_OK);
    b->free_pages(h);
  });
}

TEST_P(PagesTest, VunmapKeepsThePages) {
  on_new_thread([&] {
    uvm_pages* h = b->alloc_pages(4);
    ASSERT_NE(h, nullptr);
    size_t in_use = b->in_use();
    auto* m = static_cast<char*>(b->vmap(&h, 1, 0));
    ASSERT_NE(m, nullptr);
    for (size_t k = 0; k < 4; ++k) fill_page(m + k * P, 100 + k);
    EXPECT_EQ(b->vunmap(m), UVM_OK);
    EXPECT_EQ(b->in_use(), in_use);  // the handle still owns them
    auto* again = static_cast<char*>(b->vmap(&h, 1, UVM_VMAP_NO_GUARD));
    ASSERT_NE(again, nullptr);
    for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(page_is(again + k * P, 100 + k)) << k;
    EXPECT_EQ(b->vunmap(again), UVM_OK);
    auto* ram = static_cast<char*>(b->map_ram(&h, 1));
    ASSERT_NE(ram, nullptr);
    for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(page_is(ram + k * P, 100 + k)) << k;
    EXPECT_EQ(b->unmap_ram(ram, 4), UVM_OK);
    b->free_pages(h);
    EXPECT_EQ(b->in_use(), in_use - 4 * P);
  });
}

TEST_P(PagesTest, FreedPagesStayValidUntilTheLastUnmap) {
  on_new_thread([&] {
    size_t in_use = b->in_use();
    uvm_pages* h = b->alloc_pages(4);
    ASSERT_NE(h, nullptr);
    auto* m1 = static_cast<char*>(b->vmap(&h, 1, 0));
    auto* m2 = static_cast<char*>(b->map_ram(&h, 1));
    ASSERT_NE(m1, nullptr);
    ASSERT_NE(m2, nullptr);
    for (size_t k = 0; k < 4; ++k) fill_page(m1 + k * P, 200 + k);
    uvm_page_info before{};
    ASSERT_EQ(b->to_page(m1, &before), UVM_OK);
    b->free_pages(h);  // two mappings left
    EXPECT_EQ(b->in_use(), in_use + 4 * P);
    for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(page_is(m2 + k * P, 200 + k));
    write_word(m2 + 3 * P, 0x77);
    EXPECT_EQ(read_word(m1 + 3 * P), 0x77u);
    // Not handed out again while mapped.
    uvm_pages* other = b->alloc_pages(4);
    ASSERT_NE(other, nullptr);
    auto* mo = static_cast<char*>(b->vmap(&other, 1, 0));
    ASSERT_NE(mo, nullptr);
    for (size_t k = 0; k < 4; ++k) {
      uvm_page_info io{}, ih{};
      ASSERT_EQ(b->to_page(mo + k * P, &io), UVM_OK);
      ASSERT_EQ(b->to_page(m1 + k * P, &ih), UVM_OK);
      EXPECT_NE(io.file_offset, ih.file_offset);
      fill_page(mo + k * P, 300 + k);
    }
    EXPECT_TRUE(page_is(m1, 200));
    EXPECT_EQ(b->vunmap(m1), UVM_OK);
    EXPECT_EQ(b->in_use(), in_use + 8 * P);
    EXPECT_TRUE(page_is(m2 + P, 201));
    uvm_page_info still{};
    ASSERT_EQ(b->to_page(m2, &still), UVM_OK);
    EXPECT_EQ(still.file_offset, before.file_offset);
    EXPECT_EQ(b->unmap_ram(m2, 4), UVM_OK);  // the last one: pages go back
    EXPECT_EQ(b->in_use(), in_use + 4 * P);
    EXPECT_EQ(b->vunmap(mo), UVM_OK);
    b->free_pages(other);
    EXPECT_EQ(b->in_use(), in_use);
  });
}

// With UVM_VMAP_NO_GUARD the page after the mapping is not part of it; by
// default it is the mapping's guard page (part of its area, never mapped).
TEST_P(PagesTest, NoGuardFlagLeavesNoGuardPage) {
  on_new_thread([&] {
    uvm_pages* h1 = b->alloc_pages(2);
    uvm_pages* h2 = b->alloc_pages(1);
    ASSERT_NE(h1, nullptr);
    ASSERT_NE(h2, nullptr);
    auto* g = static_cast<char*>(b->vmap(&h1, 1, 0));
    ASSERT_NE(g, nullptr);
    uintptr_t start;
    size_t size;
    EXPECT_EQ(b->find(g + 2 * P, &start, &size), UVM_EINTERIOR);  // its guard page
    EXPECT_EQ(start, reinterpret_cast<uintptr_t>(g));
    uvm_page_info info{};
    EXPECT_NE(b->to_page(g + 2 * P, &info), UVM_OK);
    auto* n = static_cast<char*>(b->vmap(&h1, 1, UVM_VMAP_NO_GUARD));
    ASSERT_NE(n, nullptr);
    int rc = b->find(n + 2 * P, &start, &size);
    EXPECT_TRUE(rc != UVM_EINTERIOR || start != reinterpret_cast<uintptr_t>(n))
        << "the page after a NO_GUARD mapping belongs to it";
    rc = b->to_page(n + 2 * P, &info);
    EXPECT_TRUE(rc != UVM_OK || info.pages != h1) << "still h1 past the end";
    if (b->is_instance()) {
      EXPECT_EQ(rc, UVM_ENOTALLOC);  // nothing there yet in a fresh space
    }
    auto* next = static_cast<char*>(b->vmap(&h2, 1, UVM_VMAP_NO_GUARD));
    ASSERT_NE(next, nullptr);
    if (b->is_instance()) {
      // A fresh space fills from the bottom: g (2 pages + guard), n, next.
      EXPECT_EQ(n, g + 3 * P);
      EXPECT_EQ(next, n + 2 * P);  // directly behind n, no gap
      ASSERT_EQ(b->to_page(n + 2 * P, &info), UVM_OK);
      EXPECT_EQ(info.pages, h2);
      EXPECT_EQ(info.index, 0u);
    }
    EXPECT_EQ(b->vunmap(next), UVM_OK);
    EXPECT_EQ(b->vunmap(n), UVM_OK);
    EXPECT_EQ(b->vunmap(g), UVM_OK);
    b->free_pages(h1);
    b->free_pages(h2);
  });
}

// Mappings of 1..64 pages, made of one or several handles: consecutive
// mappings of a thread are carved back to back from its block, with no guard.
TEST_P(PagesTest, VmMapRamOfOneTo64Pages) {
  on_new_thread([&] {
    Rng rng{17};
    char* prev_end = nullptr;
    size_t contiguous = 0;
    for (size_t n = 1; n <= 64; ++n) {
      SCOPED_TRACE(n);
      std::vector<uvm_pages*> hs;
      std::vector<size_t> first_page;
      for (size_t left = n; left > 0;) {
        size_t k = 1 + rng.below(std::min<size_t>(left, 16));
        first_page.push_back(n - left);
        hs.push_back(b->alloc_pages(k));
        ASSERT_NE(hs.back(), nullptr);
        left -= k;
      }
      auto* m = static_cast<char*>(b->map_ram(hs.data(), hs.size()));
      ASSERT_NE(m, nullptr);
      contiguous += m == prev_end;
      prev_end = m + n * P;
      auto* check = static_cast<char*>(b->vmap(hs.data(), hs.size(), 0));
      ASSERT_NE(check, nullptr);
      for (size_t i = 0; i < hs.size(); ++i) {
        for (size_t k = 0; k < uvm_pages_count(hs[i]); ++k) {
          size_t pg = first_page[i] + k;
          uvm_page_info info{};
          ASSERT_EQ(b->to_page(m + pg * P + 8, &info), UVM_OK) << pg;
          EXPECT_EQ(info.pages, hs[i]);
          EXPECT_EQ(info.index, k);
          EXPECT_EQ(info.offset, 8u);
          size_t off;
          std::string path;
          ASSERT_TRUE(maps_file_offset(m + pg * P, &off, &path));
          EXPECT_EQ(off, info.file_offset);
          fill_page(m + pg * P, (n << 16) + pg);
        }
      }
      for (size_t pg = 0; pg < n; ++pg) EXPECT_TRUE(page_is(check + pg * P, (n << 16) + pg));
      EXPECT_EQ(b->vunmap(check), UVM_OK);
      EXPECT_EQ(b->unmap_ram(m, n), UVM_OK);
      uvm_page_info gone{};
      EXPECT_NE(b->to_page(m, &gone), UVM_OK);
      for (uvm_pages* h : hs) b->free_pages(h);
    }
    EXPECT_GE(contiguous, 50u);  // all but the first of each block
  });
}

// Thousands of pages from one thread, with mappings still live when their
// block is retired: old blocks go back to the space once empty.
TEST_P(PagesTest, VmMapRamManyInARowRetiresBlocks) {
  on_new_thread([&] {
    uvm_pages* pool[8];
    for (size_t i = 0; i < 8; ++i) {
      pool[i] = b->alloc_pages(8);
      ASSERT_NE(pool[i], nullptr);
    }
    // Create this thread's block first, then measure.
    void* warm = b->map_ram(pool, 1);
    ASSERT_NE(warm, nullptr);
    EXPECT_EQ(b->unmap_ram(warm, 8), UVM_OK);
    size_t areas = b->areas();
    struct Live {
      char* m;
      size_t pages;
      uint64_t tag;
    };
    std::deque<Live> live;
    Rng rng{23};
    size_t total = 0;
    std::vector<uintptr_t> blocks;
    for (int i = 0; i < 400; ++i) {
      size_t count = 1 + rng.below(8);  // 8..64 pages
      std::vector<uvm_pages*> hs(count);
      for (size_t k = 0; k < count; ++k) hs[k] = pool[(i + k) % 8];
      auto* m = static_cast<char*>(b->map_ram(hs.data(), count));
      ASSERT_NE(m, nullptr) << i;
      uintptr_t blk = reinterpret_cast<uintptr_t>(m) & ~(kBlockBytes - 1);
      if (blocks.empty() || blocks.back() != blk) blocks.push_back(blk);
      total += count * 8;
      uint64_t tag = uint64_t{0xfeed} << 32 | static_cast<uint64_t>(i);
      // Page 0 of each handle is shared by all mappings: tag the last page,
      // which the mapping's last handle owns alone until its next use.
      write_word(m + (count * 8 - 1) * P, tag);
      live.push_back({m, count * 8, tag});
      if (live.size() > 12 || rng.below(4) == 0) {
        Live l = live.front();
        live.pop_front();
        uvm_page_info info{};
        ASSERT_EQ(b->to_page(l.m + (l.pages - 1) * P, &info), UVM_OK);
        EXPECT_EQ(info.index, 7u);
        EXPECT_EQ(b->unmap_ram(l.m, l.pages), UVM_OK);
      }
    }
    EXPECT_GT(total, 3 * 1024u);
    EXPECT_GE(blocks.size(), 4u);
    for (Live& l : live) EXPECT_EQ(b->unmap_ram(l.m, l.pages), UVM_OK);
    // Only this thread's current block is left.
    EXPECT_EQ(b->areas(), areas);
    for (uvm_pages* h : pool) b->free_pages(h);
  });
}

TEST_P(PagesTest, VmMapRamUnmappedByAnotherThread) {
  uvm_pages* h = nullptr;
  std::vector<char*> maps;
  const size_t n = 40;
  on_new_thread([&] {
    h = b->alloc_pages(3);
    ASSERT_NE(h, nullptr);
    for (size_t i = 0; i < n; ++i) {
      auto* m = static_cast<char*>(b->map_ram(&h, 1));
      ASSERT_NE(m, nullptr);
      maps.push_back(m);
    }
    fill_page(maps[0] + P, 0x4242);
  });
  ASSERT_EQ(maps.size(), n);
  on_new_thread([&] {
    for (size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(page_is(maps[i] + P, 0x4242)) << i;
      EXPECT_EQ(b->unmap_ram(maps[i], 3), UVM_OK);
      uvm_page_info info{};
      EXPECT_NE(b->to_page(maps[i], &info), UVM_OK);
    }
    // And the other way round: this thread maps, the main thread unmaps.
    for (size_t i = 0; i < n; ++i) {
      maps[i] = static_cast<char*>(b->map_ram(&h, 1));
      ASSERT_NE(maps[i], nullptr);
    }
  });
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(page_is(maps[i] + P, 0x4242)) << i;
    EXPECT_EQ(b->unmap_ram(maps[i], 3), UVM_OK);
  }
  b->free_pages(h);
}

// The instance reports a wrong count (the C API aborts: see
// PagesApiDeathTest) and keeps the mapping.
TEST_P(PagesTest, VmMapRamWrongCountIsRefused) {
  if (!b->is_instance()) GTEST_SKIP() << "the C API aborts: PagesApiDeathTest";
  on_new_thread([&] {
    uvm_pages* h = b->alloc_pages(3);
    ASSERT_NE(h, nullptr);
    auto* m = static_cast<char*>(b->map_ram(&h, 1));
    ASSERT_NE(m, nullptr);
    fill_page(m + 2 * P, 9);
    EXPECT_EQ(b->unmap_ram(m, 2), UVM_EINVAL);
    EXPECT_EQ(b->unmap_ram(m, 4), UVM_EINVAL);
    EXPECT_EQ(b->unmap_ram(m + P, 2), UVM_ENOTALLOC);  // not where it starts
    EXPECT_TRUE(page_is(m + 2 * P, 9));                // still mapped
    uvm_page_info info{};
    EXPECT_EQ(b->to_page(m + 2 * P, &info), UVM_OK);
    EXPECT_EQ(b->unmap_ram(m, 3), UVM_OK);
    EXPECT_EQ(b->unmap_ram(m, 3), UVM_ENOTALLOC);  // twice
    b->free_pages(h);
  });
}

// Over 64 pages vm_map_ram takes the vmap path (no guard); vm_unmap_ram with
// the right count still removes it.
TEST_P(PagesTest, VmMapRamOver64PagesFallsBackToVmap) {
  on_new_thread([&] {
    uvm_pages* h[2] = {b->alloc_pages(40), b->alloc_pages(25)};
    ASSERT_NE(h[0], nullptr);
    ASSERT_NE(h[1], nullptr);
    size_t areas = b->areas();
    auto* m = static_cast<char*>(b->map_ram(h, 2));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(b->areas(), areas + 1);
    uintptr_t start;
    size_t size;
    EXPECT_EQ(b->find(m, &start, &size), UVM_OK);  // an area of its own
    EXPECT_EQ(size, 65 * P);
    EXPECT_FALSE(b->find(m + 65 * P, &start, &size) == UVM_EINTERIOR &&
                 start == reinterpret_cast<uintptr_t>(m))
        << "no guard page";
    uvm_page_info info{};
    ASSERT_EQ(b->to_page(m + 41 * P, &info), UVM_OK);
    EXPECT_EQ(info.pages, h[1]);
    EXPECT_EQ(info.index, 1u);
    fill_page(m + 64 * P, 65);
    if (b->is_instance()) {
      EXPECT_EQ(b->unmap_ram(m, 64), UVM_EINVAL);
    }
    EXPECT_TRUE(page_is(m + 64 * P, 65));
    EXPECT_EQ(b->unmap_ram(m, 65), UVM_OK);
    EXPECT_EQ(b->areas(), areas);
    EXPECT_NE(b->to_page(m, &info), UVM_OK);
    b->free_pages(h[0]);
    b->free_pages(h[1]);
  });
}

// vmalloc_to_page for vm_map_ram and vmap mappings of the same handle agrees
// with itself and with /proc/self/maps.
TEST_P(PagesTest, VmallocToPageAgreesAcrossMappings) {
  on_new_thread([&] {
    uvm_pages* h = b->alloc_pages(5);
    ASSERT_NE(h, nullptr);
    auto* ram = static_cast<char*>(b->map_ram(&h, 1));
    auto* map = static_cast<char*>(b->vmap(&h, 1, 0));
    ASSERT_NE(ram, nullptr);
    ASSERT_NE(map, nullptr);
    std::vector<size_t> offsets;
    for (size_t k = 0; k < 5; ++k) {
      uvm_page_info a{}, c{};
      ASSERT_EQ(b->to_page(ram + k * P + 4095, &a), UVM_OK);
      ASSERT_EQ(b->to_page(map + k * P, &c), UVM_OK);
      EXPECT_EQ(a.pages, h);
      EXPECT_EQ(a.index, k);
      EXPECT_EQ(a.offset, 4095u);
      EXPECT_EQ(a.file_offset, c.file_offset);
      EXPECT_EQ(a.file_offset % P, 0u);
      size_t off;
      std::string path;
      ASSERT_TRUE(maps_file_offset(ram + k * P, &off, &path));
      EXPECT_EQ(off, a.file_offset);
      ASSERT_TRUE(maps_file_offset(map + k * P, &off, &path));
      EXPECT_EQ(off, a.file_offset);
      offsets.push_back(a.file_offset);
      // Same offset, same page.
      write_word(ram + k * P, 0xc0de + k);
      EXPECT_EQ(read_word(map + k * P), 0xc0de + k);
    }
    for (size_t k = 1; k < 5; ++k) EXPECT_EQ(offsets[k], offsets[0] + k * P);  // one run
    EXPECT_EQ(b->unmap_ram(ram, 5), UVM_OK);
    EXPECT_EQ(b->vunmap(map), UVM_OK);
    b->free_pages(h);
  });
}

// Two threads doing random alloc_pages / vmap / vm_map_ram / write / verify
// / unmap / free_pages: each sees only its own data.
void random_pages_worker(Backend* b, uint64_t seed, std::atomic<int>* errors) {
  Rng rng{seed};
  struct Handle {
    uvm_pages* h;
    uint64_t tag;  // page k holds tag + k
    bool freed;
    int maps;  // live mappings
  };
  struct Mapping {
    char* m;
    bool ram;
    std::vector<size_t> handles;  // indices into `hs`
    size_t pages;
  };
  std::vector<Handle> hs;
  std::vector<Mapping> ms;
  uint64_t next_tag = seed << 40;
  auto fail = [&](const char* what) {
    ADD_FAILURE() << "thread " << seed << ": " << what;
    ++*errors;
  };
  auto verify = [&](const Mapping& m) {
    size_t pg = 0;
    for (size_t i : m.handles) {
      size_t n = uvm_pages_count(hs[i].h);
      for (size_t k = 0; k < n; ++k, ++pg)
        if (!page_is(m.m + pg * P, hs[i].tag + k)) return false;
    }
    return true;
  };
  auto unmap = [&](size_t idx) {
    Mapping m = ms[idx];
    ms.erase(ms.begin() + static_cast<long>(idx));
    if (!verify(m)) fail("content differs before unmap");
    int rc = m.ram ? b->unmap_ram(m.m, m.pages) : b->vunmap(m.m);
    if (rc != UVM_OK) fail("unmap failed");
    for (size_t i : m.handles) --hs[i].maps;
  };
  for (int op = 0; op < 1500 && errors->load() < 10; ++op) {
    size_t r = rng.below(10);
    std::vector<size_t> usable;
    for (size_t i = 0; i < hs.size(); ++i)
      if (!hs[i].freed) usable.push_back(i);
    if (r < 2 || usable.empty()) {  // a new handle, written through a short mapping
      size_t n = 1 + rng.below(8);
      uvm_pages* h = b->alloc_pages(n);
      if (h == nullptr) {
        fail("alloc_pages");
        continue;
      }
      hs.push_back({h, next_tag, false, 0});
      next_tag += 1000;
      auto* m = static_cast<char*>(b->map_ram(&h, 1));
      if (m == nullptr) {
        fail("map_ram");
        continue;
      }
      for (size_t k = 0; k < n; ++k) fill_page(m + k * P, hs.back().tag + k);
      if (b->unmap_ram(m, n) != UVM_OK) fail("unmap_ram");
    } else if (r < 5 && ms.size() < 24) {  // map 1..4 handles
      Mapping m{nullptr, rng.below(2) == 0, {}, 0};
      size_t count = 1 + rng.below(4);
      std::vector<uvm_pages*> ptrs;
      for (size_t j = 0; j < count; ++j) {
        size_t i = usable[rng.below(usable.size())];
        m.handles.push_back(i);
        ptrs.push_back(hs[i].h);
        m.pages += uvm_pages_count(hs[i].h);
      }
      m.m = static_cast<char*>(
          m.ram ? b->map_ram(ptrs.data(), count)
                : b->vmap(ptrs.data(), count, rng.below(2) ? UVM_VMAP_NO_GUARD : 0u));
      if (m.m == nullptr) {
        fail("map");
        continue;
      }
      for (size_t i : m.handles) ++hs[i].maps;
      if (!verify(m)) fail("content differs in a new mapping");
      // vmalloc_to_page names the right handle for the first page.
      uvm_page_info info{};
      if (b->to_page(m.m, &info) != UVM_OK || info.pages != hs[m.handles[0]].h || info.index != 0)
        fail("vmalloc_to_page");
      ms.push_back(std::move(m));
    } else if (r < 7 && !ms.empty()) {  // rewrite a handle through a mapping
      Mapping& m = ms[rng.below(ms.size())];
      size_t which = rng.below(m.handles.size());
      size_t pg = 0;
      for (size_t j = 0; j < which; ++j) pg += uvm_pages_count(hs[m.handles[j]].h);
      Handle& h = hs[m.handles[which]];
      h.tag = next_tag;
      next_tag += 1000;
      for (size_t k = 0; k < uvm_pages_count(h.h); ++k) fill_page(m.m + (pg + k) * P, h.tag + k);
      for (const Mapping& other : ms)
        if (!verify(other)) fail("a rewrite was not seen through every mapping");
    } else if (r < 9 && !ms.empty()) {
      unmap(rng.below(ms.size()));
    } else if (!usable.empty()) {  // give up a handle; its mappings stay valid
      size_t i = usable[rng.below(usable.size())];
      b->free_pages(hs[i].h);
      hs[i].freed = true;
    }
  }
  while (!ms.empty()) unmap(ms.size() - 1);
  for (Handle& h : hs)
    if (!h.freed) b->free_pages(h.h);
}

TEST_P(PagesTest, TwoThreadsWithoutCrossTalk) {
  // Earlier tests' caches go first: the purge thread would give them back
  // at any moment during this one.
  uvm_trim();
  size_t in_use = b->in_use();
  std::atomic<int> errors{0};
  std::thread t1(random_pages_worker, b.get(), 1, &errors);
  std::thread t2(random_pages_worker, b.get(), 2, &errors);
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(b->in_use(), in_use);
}

// ---- C API only ---------------------------------------------------------------

TEST(PagesApi, VmallocToPageForVmallocAndSharedAreas) {
  auto* p = static_cast<char*>(uvm_vmalloc(5 * P));
  ASSERT_NE(p, nullptr);
  std::vector<size_t> offsets;
  for (size_t k = 0; k < 5; ++k) {
    p[k * P] = 1;
    uvm_page_info info{};
    ASSERT_EQ(uvm_vmalloc_to_page(p + k * P + 10, &info), UVM_OK);
    EXPECT_EQ(info.pages, nullptr);
    EXPECT_EQ(info.index, k);
    EXPECT_EQ(info.offset, 10u);
    size_t off;
    std::string path;
    ASSERT_TRUE(maps_file_offset(p + k * P, &off, &path));
    EXPECT_EQ(off, info.file_offset);
    offsets.push_back(info.file_offset);
  }
  std::sort(offsets.begin(), offsets.end());
  EXPECT_EQ(std::unique(offsets.begin(), offsets.end()), offsets.end());
  uvm_page_info info{};
  EXPECT_NE(uvm_vmalloc_to_page(p + 5 * P, &info), UVM_OK);  // the guard page
  int local = 0;
  EXPECT_EQ(uvm_vmalloc_to_page(&local, &info), UVM_EFOREIGN);
  // A vrealloc move keeps the pages: same offsets at the new address.
  uvm_page_info before{};
  ASSERT_EQ(uvm_vmalloc_to_page(p + 3 * P, &before), UVM_OK);
  auto* q = static_cast<char*>(uvm_vrealloc(p, 64 * MiB));
  ASSERT_NE(q, nullptr);
  struct uvm_stats st {};
  uvm_stats(&st);
  if (st.copied == 0) {
    uvm_page_info after{};
    ASSERT_EQ(uvm_vmalloc_to_page(q + 3 * P, &after), UVM_OK);
    EXPECT_EQ(after.file_offset, before.file_offset);
  }
  uvm_vfree(q);
  // A shareable area: offsets in its own memfd.
  auto* u = static_cast<char*>(uvm_vmalloc_user(3 * P));
  ASSERT_NE(u, nullptr);
  u[2 * P] = 1;
  ASSERT_EQ(uvm_vmalloc_to_page(u + 2 * P + 1, &info), UVM_OK);
  EXPECT_EQ(info.pages, nullptr);
  EXPECT_EQ(info.index, 2u);
  EXPECT_EQ(info.file_offset, 2 * P);
  EXPECT_EQ(info.offset, 1u);
  size_t off;
  std::string path;
  ASSERT_TRUE(maps_file_offset(u + 2 * P, &off, &path));
  EXPECT_EQ(off, 2 * P);
  EXPECT_NE(path.find("uvmalloc-user"), std::string::npos) << path;
  uvm_vfree(u);
}

TEST(PagesApiDeathTest, GuardPageAfterVmapFaults) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  uvm_pages* h = uvm_alloc_pages(2);
  ASSERT_NE(h, nullptr);
  auto* m = static_cast<char*>(uvm_vmap(&h, 1, 0));
  ASSERT_NE(m, nullptr);
  m[2 * P - 1] = 1;
  EXPECT_EXIT(poke(m + 2 * P), ::testing::KilledBySignal(SIGSEGV), "");
  uvm_vunmap(m);
  EXPECT_EXIT(poke(m), ::testing::KilledBySignal(SIGSEGV), "");  // unmapped at once
  uvm_free_pages(h);
}

TEST(PagesApiDeathTest, FreeingAnAreaOfAnotherKindAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  uvm_pages* h = uvm_alloc_pages(1);
  ASSERT_NE(h, nullptr);
  void* m = uvm_vmap(&h, 1, 0);
  ASSERT_NE(m, nullptr);
  void* p = uvm_vmalloc(P);
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(uvm_vfree(m), "uvm_vfree.*area of another kind");
  EXPECT_DEATH(uvm_vunmap(p), "uvm_vunmap.*area of another kind");
  uvm_vunmap(m);
  uvm_vfree(p);
  uvm_free_pages(h);
}

TEST(PagesApiDeathTest, VmUnmapRamWithTheWrongCountAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  uvm_pages* h = uvm_alloc_pages(3);
  ASSERT_NE(h, nullptr);
  void* m = nullptr;
  on_new_thread([&] { m = uvm_vm_map_ram(&h, 1); });  // the start of a fresh block
  ASSERT_NE(m, nullptr);
  EXPECT_DEATH(uvm_vm_unmap_ram(m, 2), "uvm_vm_unmap_ram.*invalid argument");
  EXPECT_DEATH(uvm_vm_unmap_ram(m, 4), "uvm_vm_unmap_ram.*invalid argument");
  uvm_vm_unmap_ram(m, 3);
  EXPECT_DEATH(uvm_vm_unmap_ram(m, 3), "uvm_vm_unmap_ram.*double free or never allocated");
  uvm_free_pages(h);
}

// ---- Regression tests for bugs found and fixed ---------------------------------

// Was a bug: blocks are 4 MiB aligned but the space only 2 MiB. Reproducer: a Vmalloc whose space
// starts 2 MiB past a 4 MiB boundary; one thread maps 9 x 64 pages with
// vm_map_ram; the 9th mapping (pages 512..575 of the block) is not found:
// to_page() fails and vm_unmap_ram() returns UVM_ENOTALLOC (the C API
// aborts with "double free or never allocated").
TEST(PagesBugTest, BlockLookupWithTwoMiBAlignedSpace) {
  auto inst = make_instance(false);
  ASSERT_NE(inst, nullptr);
  on_new_thread([&] {
    uvm_pages* h = inst->alloc_pages(64);
    ASSERT_NE(h, nullptr);
    std::vector<char*> maps;
    for (int i = 0; i < 9; ++i) maps.push_back(static_cast<char*>(inst->map_ram(&h, 1)));
    for (int i = 0; i < 9; ++i) {
      ASSERT_NE(maps[i], nullptr);
      uvm_page_info info{};
      EXPECT_EQ(inst->to_page(maps[i], &info), UVM_OK) << "mapping " << i;
      EXPECT_EQ(inst->unmap_ram(maps[i], 64), UVM_OK) << "mapping " << i;
    }
    inst->free_pages(h);
  });
}

// Was a bug: the per-thread block cache (t_block in vmap_block.cc) is keyed by the
// Vmalloc's address, and ~Vmalloc never calls exit_blocks(). A new instance
// created at the address of a destroyed one is handed the destroyed
// instance's block: vm_map_ram maps into a range the new space considers
// free (a later allocation may be mapped over it) and vm_unmap_ram then
// fails with UVM_ENOTALLOC. Reproducer: placement-new a Vmalloc in the same
// storage twice, vm_map_ram + vm_unmap_ram one page each time.
TEST(PagesBugTest, InstanceAtTheAddressOfADestroyedOne) {
  alignas(Vmalloc) static unsigned char storage[sizeof(Vmalloc)];
  on_new_thread([&] {
    for (int round = 0; round < 2; ++round) {
      SCOPED_TRACE(round);
      auto* vm = new (storage) Vmalloc;
      ASSERT_EQ(vm->init(instance_config()), UVM_OK);
      int st;
      uvm_pages* h = vm->alloc_pages(1, &st);
      ASSERT_NE(h, nullptr);
      void* m = vm->vm_map_ram(&h, 1, &st);
      ASSERT_NE(m, nullptr);
      vm_struct s{};
      EXPECT_NE(vm->find(m, &s), UVM_ENOTALLOC) << "mapped where no area is";
      EXPECT_EQ(vm->vm_unmap_ram(m, 1), UVM_OK);
      vm->put_pages(h);
      vm->~Vmalloc();
    }
  });
}

// Was a bug: a block is retired only when its owner thread needs a new one, so the
// block of a thread that exits is never returned: every thread that ever
// used vm_map_ram keeps 4 MiB of the space for good. Reproducer: a 256 MiB
// space (64 blocks), 100 short-lived threads that each map and unmap one
// page: from the 65th on, vm_map_ram fails with ENOMEM.
TEST(PagesBugTest, ExitedThreadsKeepTheirBlocks) {
  vm_config c = instance_config();
  c.reserve = c.min_reserve = 256 * MiB;
  Vmalloc vm;
  ASSERT_EQ(vm.init(c), UVM_OK);
  int st;
  uvm_pages* h = vm.alloc_pages(1, &st);
  ASSERT_NE(h, nullptr);
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    on_new_thread([&] {
      int s;
      void* m = vm.vm_map_ram(&h, 1, &s);
      if (m == nullptr)
        ++failed;
      else
        EXPECT_EQ(vm.vm_unmap_ram(m, 1), UVM_OK);
    });
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(vm.stats().areas, 0u);
  vm.put_pages(h);
}

// Was a bug: vm_unmap_ram only checks that the handles mapped from `addr` on cover
// exactly `pages` pages, not that they are the whole mapping: for a mapping
// of two handles (1 + 2 pages), a count of 1 (or addr + 1 page with a count
// of 2) is accepted and unmaps part of it. The block's count of live
// mappings is then decremented twice for one mapping, and a retired block
// can be freed while another mapping still lives in it.
TEST(PagesBugTest, PartialUnmapAtAHandleBoundary) {
  auto inst = make_instance(true);
  ASSERT_NE(inst, nullptr);
  on_new_thread([&] {
    uvm_pages* h[2] = {inst->alloc_pages(1), inst->alloc_pages(2)};
    ASSERT_NE(h[0], nullptr);
    ASSERT_NE(h[1], nullptr);
    auto* m = static_cast<char*>(inst->map_ram(h, 2));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(inst->unmap_ram(m, 1), UVM_EINVAL);
    EXPECT_EQ(inst->unmap_ram(m + P, 2), UVM_ENOTALLOC);
    inst->free_pages(h[0]);
    inst->free_pages(h[1]);
  });
}

// Was a bug: find() (uvm_find_vm_area, uvm_vmalloc_size, uvm_vmalloc_info) copies
// whatever va->vm points to as a vm_struct, but for a vm_map_ram block it is
// a vmap_block: the area reported has size = the block's page counter (in
// pages, not bytes) and a caller taken from its slot array. Reproducer: map
// 3 pages with uvm_vm_map_ram on a new thread; uvm_find_vm_area(m) says
// UVM_OK with size 3.
TEST(PagesBugTest, FindVmAreaOnAVmMapRamAddress) {
  uvm_pages* h = uvm_alloc_pages(3);
  ASSERT_NE(h, nullptr);
  void* m = nullptr;
  on_new_thread([&] { m = uvm_vm_map_ram(&h, 1); });
  ASSERT_NE(m, nullptr);
  uvm_area a{};
  int rc = uvm_find_vm_area(m, &a);
  if (rc == UVM_OK || rc == UVM_EINTERIOR) {
    EXPECT_EQ(a.size % P, 0u) << "size " << a.size;
    EXPECT_GE(a.size, 3 * P);
    EXPECT_LE(reinterpret_cast<uintptr_t>(a.addr), reinterpret_cast<uintptr_t>(m));
  }
  uvm_vm_unmap_ram(m, 3);
  uvm_free_pages(h);
}

}  // namespace
}  // namespace uvm
