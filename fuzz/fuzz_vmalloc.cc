// libFuzzer target: random sequences of alloc/zalloc/realloc/free/vmap/
// vunmap/purge on one Vmalloc, against a model of what each live block must
// hold. Every input starts and ends with nothing live; the trees, the pool
// and the lazy lists are checked at the end of each input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pages.h"
#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace {

using uvm::Vmalloc;
constexpr size_t P = uvm::pal::kPageSize;

struct Block {
  unsigned char* p;
  size_t size;
  unsigned char tag;
  bool mapping;  // a vmap of `pages`
  uvm_pages* pages;
};

Vmalloc& instance() {
  static Vmalloc* vm = [] {
    auto* v = new Vmalloc;
    uvm::vm_config cfg;
    cfg.reserve = size_t{4} << 30;
    cfg.lazy_max = 8 << 20;
    cfg.pool.pool_max = 16 << 20;
    cfg.pool.refill = 0;
    cfg.pool.uring = false;  // deterministic: no completions arriving later
    if (v->init(cfg) != UVM_OK) abort();
    return v;
  }();
  return *vm;
}

void check_block(const Block& b) {
  // Both ends and a few pages between: enough to catch a wrong mapping.
  for (size_t off : {size_t{0}, b.size / 3, b.size / 2, b.size - 1})
    if (b.p[off] != b.tag) {
      fprintf(stderr, "block %p (%zu bytes) lost its content at %zu\n", b.p, b.size, off);
      abort();
    }
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  bool more() const { return pos < size; }
  uint32_t next() {
    uint32_t v = 0;
    for (int i = 0; i < 3 && pos < size; ++i) v = v << 8 | data[pos++];
    return v;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Vmalloc& vm = instance();
  std::vector<Block> live;
  Reader in{data, size};
  int status;
  while (in.more() && live.size() < 64) {
    uint32_t op = in.next();
    size_t sz = (in.next() % (4 << 20)) + 1;  // up to 4 MiB
    unsigned char tag = static_cast<unsigned char>(op >> 8);
    switch (op % 8) {
      case 0:
      case 1: {
        bool zero = op % 8 == 1;
        auto* p =
            static_cast<unsigned char*>(vm.alloc(sz, 1, zero ? uvm::VM_ZERO : 0, nullptr, &status));
        if (p == nullptr) break;
        if (zero)
          for (size_t off = 0; off < sz; off += P)
            if (p[off] != 0) abort();
        memset(p, tag, sz);
        live.push_back({p, sz, tag, false, nullptr});
        break;
      }
      case 2: {  // realloc
        if (live.empty()) break;
        Block& b = live[op / 8 % live.size()];
        if (b.mapping) break;
        check_block(b);
        auto* q = static_cast<unsigned char*>(vm.realloc(b.p, sz, nullptr, &status));
        if (q == nullptr) {
          check_block(b);  // untouched on failure
          break;
        }
        size_t keep = std::min(sz, b.size);
        for (size_t off : {size_t{0}, keep - 1})
          if (q[off] != b.tag) abort();
        b.p = q;
        b.size = sz;
        memset(q, b.tag, sz);
        break;
      }
      case 3:
      case 4: {  // free / vunmap
        if (live.empty()) break;
        size_t k = op / 8 % live.size();
        Block b = live[k];
        check_block(b);
        if (b.mapping) {
          if (vm.vunmap(b.p) != UVM_OK) abort();
          vm.put_pages(b.pages);
        } else if (vm.free(b.p) != UVM_OK) {
          abort();
        }
        live[k] = live.back();
        live.pop_back();
        break;
      }
      case 5: {  // vmap of one handle mapped twice
        size_t n = sz % 16 + 1;
        uvm_pages* h = vm.alloc_pages(n, &status);
        if (h == nullptr) break;
        uvm_pages* two[2] = {h, h};
        auto* p = static_cast<unsigned char*>(vm.vmap(two, 2, 0, nullptr, &status));
        if (p == nullptr) {
          vm.put_pages(h);
          break;
        }
        memset(p, tag, n * P);
        if (p[n * P] != tag) abort();  // the second copy aliases the first
        live.push_back({p, 2 * n * P, tag, true, h});
        break;
      }
      case 6:
        vm.purge();
        break;
      case 7: {  // bad pointers change nothing
        if (live.empty()) break;
        Block& b = live[op / 8 % live.size()];
        if (vm.free(b.p + 1) == UVM_OK) abort();
        break;
      }
    }
  }
  for (const Block& b : live) {
    check_block(b);
    if (b.mapping) {
      vm.vunmap(b.p);
      vm.put_pages(b.pages);
    } else {
      vm.free(b.p);
    }
  }
  std::string why = vm.check();
  if (!why.empty()) {
    fprintf(stderr, "invariant broken: %s\n", why.c_str());
    abort();
  }
  return 0;
}
