// vm_map_ram: short-lived mappings of few pages without the tree locks (the
// kernel's vmap_block). Each thread carves mappings out of its own block of
// the space, 4 MiB aligned, with no guard page; a block is found again from
// any address through a direct-mapped table. A block returns to the space
// when its owner has moved on to a new one and its last mapping is gone.
#include <new>

#include "pages.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

constexpr size_t kBlockPages = 1024;
constexpr size_t kBlockBytes = kBlockPages * pal::kPageSize;
constexpr size_t kMaxRamPages = 64;  // larger requests take the vmap path
constexpr long kRetired = long{1} << 40;

}  // namespace

struct vmap_block {
  uintptr_t start;
  size_t next;  // pages handed out so far (only the owner thread moves it)
  // Live mappings, plus kRetired once the owner has moved on: whoever brings
  // it to exactly kRetired frees the block.
  std::atomic<long> state;
  uvm_pages* slot[kBlockPages];    // the handle mapped from each page, at its first page
  uint8_t map_pages[kBlockPages];  // pages of the whole mapping, at its first page
};

namespace {

// The calling thread's block, per Vmalloc instance it last used.
struct tls_block {
  Vmalloc* owner = nullptr;
  vmap_block* block = nullptr;
  // A thread that exits gives its block up (freed once its last mapping
  // goes). The instance must outlive the thread, as the process-wide one does.
  ~tls_block() {
    if (owner != nullptr && block != nullptr) owner->release_thread_block(block);
  }
};
thread_local tls_block t_block;

size_t pages_of(const uvm_pages* h) {
  return h->run.len / pal::kPageSize;
}

}  // namespace

size_t Vmalloc::block_slot(uintptr_t addr) const {
  return addr / kBlockBytes - space_.start() / kBlockBytes;
}

int Vmalloc::init_blocks() {
  // Slots are absolute 4 MiB frames: the space itself is only 2 MiB aligned.
  nr_blocks_ = space_.size() / kBlockBytes + 2;
  void* mem = pal::map_anon(nr_blocks_ * sizeof(blocks_[0]));  // touched only where used
  if (mem == nullptr) return UVM_ENOMEM;
  blocks_ = new (mem) std::atomic<vmap_block*>[nr_blocks_]();
  return UVM_OK;
}

void Vmalloc::exit_blocks() {
  if (t_block.owner == this) t_block = {};
  if (blocks_ != nullptr) pal::unmap(blocks_, nr_blocks_ * sizeof(blocks_[0]));
  blocks_ = nullptr;
}

vmap_block* Vmalloc::block_of(uintptr_t addr) const {
  if (!space_.contains(addr) || blocks_ == nullptr) return nullptr;
  vmap_block* b = blocks_[block_slot(addr)].load(std::memory_order_acquire);
  return b != nullptr && addr >= b->start && addr < b->start + kBlockBytes ? b : nullptr;
}

vmap_block* Vmalloc::new_block() {
  if (blocks_ == nullptr) return nullptr;
  vmap_area* va;
  if (space_.alloc(kBlockBytes, kBlockBytes, &va) != UVM_OK) return nullptr;
  void* mem = pal::map_anon(sizeof(vmap_block));
  if (mem == nullptr) {
    space_.free(va->va_start);
    return nullptr;
  }
  auto* b = new (mem) vmap_block();
  b->start = va->va_start;
  va->flags = VMAP_RAM;
  va->vm = b;
  blocks_[block_slot(b->start)].store(b, std::memory_order_release);
  return b;
}

void Vmalloc::free_block(vmap_block* b) {
  blocks_[block_slot(b->start)].store(nullptr, std::memory_order_release);
  vmap_area* va;
  if (space_.unlink_busy(b->start, VMAP_RAM, &va) == UVM_OK) space_.free_area(va);
  pal::unmap(b, sizeof(vmap_block));
}

void Vmalloc::remap_block_private(const vmap_block* b) {
  for (size_t j = 0; j < kBlockPages;) {
    uvm_pages* h = b->slot[j];
    if (h == nullptr) {
      ++j;
      continue;
    }
    if (current(h->gen))
      pool_.map_private(reinterpret_cast<void*>(b->start + j * pal::kPageSize), h->run);
    j += pages_of(h);
  }
}

void Vmalloc::retire_block(vmap_block* b) {
  if (b->state.fetch_add(kRetired, std::memory_order_acq_rel) == 0) free_block(b);
}

void* Vmalloc::vm_map_ram(uvm_pages* const* pages, size_t count, int* status) {
  *status = UVM_EINVAL;
  if (pages == nullptr || count == 0) return nullptr;
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    if (pages[i] == nullptr) return nullptr;
    if (!current(pages[i]->gen)) {  // see vmap()
      *status = UVM_EWRONGKIND;
      return nullptr;
    }
    total += pages_of(pages[i]);
    if (total > kMaxRamPages) return vmap(pages, count, UVM_VMAP_NO_GUARD, nullptr, status);
  }
  *status = UVM_ENOMEM;
  if (!vma_room(static_cast<long>(count) + 1)) return nullptr;
  tls_block& t = t_block;
  if (t.owner != this) t = {this, nullptr};  // another instance's block stays with it
  vmap_block* b = t.block;
  if (b == nullptr || b->next + total > kBlockPages) {
    if (b != nullptr) retire_block(b);
    t.block = b = new_block();
    if (b == nullptr) return nullptr;
  }
  size_t idx = b->next;
  uintptr_t addr = b->start + idx * pal::kPageSize;
  size_t pos = 0;
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; ++i) {
    rc = pool_.map(reinterpret_cast<void*>(addr + pos * pal::kPageSize), pages[i]->run, false);
    pos += pages_of(pages[i]);
  }
  b->next += total;  // even on failure: those pages of the block stay unused
  if (rc != 0) {
    pal::map_none_fixed(reinterpret_cast<void*>(addr), total * pal::kPageSize);
    return nullptr;
  }
  b->state.fetch_add(1, std::memory_order_relaxed);
  pos = 0;
  for (size_t i = 0; i < count; ++i) {
    pages[i]->refs.fetch_add(1, std::memory_order_relaxed);
    b->slot[idx + pos] = pages[i];
    pos += pages_of(pages[i]);
  }
  b->map_pages[idx] = static_cast<uint8_t>(total);
  vmas_ += static_cast<long>(count) + 1;
  mapped_ += total * pal::kPageSize;
  *status = UVM_OK;
  return reinterpret_cast<void*>(addr);
}

int Vmalloc::vm_unmap_ram(void* p, size_t count) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  vmap_block* b = block_of(addr);
  if (b == nullptr) {  // a large request mapped by vmap, or nothing
    vm_struct s{};
    if (find(p, &s) == UVM_OK && s.size != count * pal::kPageSize) return UVM_EINVAL;
    return vunmap(p);
  }
  size_t idx = (addr - b->start) / pal::kPageSize;
  if (addr % pal::kPageSize != 0 || b->slot[idx] == nullptr || b->map_pages[idx] == 0)
    return UVM_ENOTALLOC;
  if (b->map_pages[idx] != count) return UVM_EINVAL;  // not the whole mapping
  // The handles mapped from idx on must cover exactly `count` pages.
  size_t covered = 0, handles = 0;
  while (covered < count && idx + covered < kBlockPages && b->slot[idx + covered] != nullptr) {
    covered += pages_of(b->slot[idx + covered]);
    ++handles;
  }
  if (covered != count) return UVM_EINVAL;
  if (pal::map_none_fixed(p, count * pal::kPageSize) != 0) return UVM_ENOMEM;
  b->map_pages[idx] = 0;
  for (size_t j = idx; j < idx + count;) {
    uvm_pages* h = b->slot[j];
    b->slot[j] = nullptr;
    j += pages_of(h);
    put_pages(h);
  }
  vmas_ -= static_cast<long>(handles) + 1;
  mapped_ -= count * pal::kPageSize;
  if (b->state.fetch_sub(1, std::memory_order_acq_rel) == kRetired + 1) free_block(b);
  return UVM_OK;
}

int Vmalloc::to_page(const void* p, uvm_page_info* out) const {
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  *out = {};
  out->offset = addr % pal::kPageSize;
  if (vmap_block* b = block_of(addr)) {
    size_t idx = (addr - b->start) / pal::kPageSize;
    for (size_t j = idx + 1; j-- > 0;) {  // the mapping that starts at or before idx
      uvm_pages* h = b->slot[j];
      if (h == nullptr) continue;
      if (j + pages_of(h) <= idx) return UVM_ENOTALLOC;
      out->pages = h;
      out->index = idx - j;
      out->file_offset = h->run.off + out->index * pal::kPageSize;
      return UVM_OK;
    }
    return UVM_ENOTALLOC;
  }
  vmap_area area;
  int rc = space_.classify(addr, &area);
  if (rc != UVM_OK && rc != UVM_EINTERIOR) return rc;
  rc = UVM_ENOTALLOC;  // e.g. the guard page
  space_.for_each_busy_from(area.va_start, [&](const vmap_area& a) {
    auto* vm = static_cast<const vm_struct*>(a.vm);
    if (vm == nullptr || addr - vm->addr >= vm->size) return false;
    size_t off = addr - vm->addr;
    out->index = off / pal::kPageSize;
    size_t pos = 0;
    if (a.flags == VMAP_MAP) {
      for (size_t i = 0; i < vm->nr_handles; pos += vm->handles[i++]->run.len) {
        if (off < pos + vm->handles[i]->run.len) {
          out->pages = vm->handles[i];
          out->index = (off - pos) / pal::kPageSize;
          out->file_offset = vm->handles[i]->run.off + out->index * pal::kPageSize;
          rc = UVM_OK;
          break;
        }
      }
    } else if (vm->flags & VM_USERMAP) {
      out->file_offset = off & ~(pal::kPageSize - 1);
      rc = UVM_OK;
    } else {
      for (unsigned i = 0; i < vm->nr_runs; pos += vm->runs[i++].len) {
        if (off < pos + vm->runs[i].len) {
          out->file_offset = vm->runs[i].off + ((off - pos) & ~(pal::kPageSize - 1));
          rc = UVM_OK;
          break;
        }
      }
    }
    return false;
  });
  return rc;
}

}  // namespace uvm
