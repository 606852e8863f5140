#include "vmalloc.h"

#include <unistd.h>

#include <cstring>
#include <tuple>

#include "caller.h"
#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

constexpr size_t P = pal::kPageSize;
constexpr size_t kHugePage = size_t{2} << 20;
// Warm runs one new area may be built from (page_pool::alloc_runs).
constexpr unsigned kAllocRuns = 4;
// An area costs about one VMA per page run, plus the split of the PROT_NONE
// reservation after it.
long vmas_of(const vm_struct* vm) {
  return vm->nr_runs + 1;
}

vm_struct* by_addr(rb_node* n) {
  return rb_entry(n, vm_struct, lazy_addr);
}

unsigned guard_flag(const vm_struct* vm) {
  return vm->flags & VM_GUARD;
}

bool is_pow2(size_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

}  // namespace

kmem_cache_of<vm_struct>& vm_struct_cache() {
  static kmem_cache_of<vm_struct> cache("vm_struct");
  return cache;
}

Vmalloc::~Vmalloc() {
  purge();
  exit_blocks();
}

int Vmalloc::init(const vm_config& cfg) {
  cfgs_[0] = cfg;
  cfg_.store(&cfgs_[0], std::memory_order_release);
  if (!pal::page_size_ok()) return UVM_EINVAL;
  int rc = space_.reserve(cfg.reserve, cfg.min_reserve, kHugePage);
  if (rc != UVM_OK) return rc;
  rc = pool_.init(cfg.pool);
  if (rc != UVM_OK) return rc;
  pool_.set_live_source([](const void* self) { return static_cast<const Vmalloc*>(self)->live(); },
                        this);
  rc = init_blocks();
  if (rc != UVM_OK) return rc;
  long limit = cfg.vma_max;
  if (limit <= 0) limit = pal::max_map_count() - pal::count_vmas() - cfg.vma_headroom;
  vma_limit_ = limit > 0 ? limit : 0;
  thp_ = cfg.thp && strcmp(pal::shmem_thp_mode(), "advise") == 0;
  return UVM_OK;
}

void Vmalloc::configure(const vm_config& cfg) {
  const vm_config& old = config();
  vm_config& next = &old == &cfgs_[0] ? cfgs_[1] : cfgs_[0];
  next = cfg;
  next.reserve = old.reserve;  // fixed at init
  next.min_reserve = old.min_reserve;
  next.pool.uring = old.pool.uring;
  cfg_.store(&next, std::memory_order_release);
  if (cfg.vma_max > 0) vma_limit_ = cfg.vma_max;
  pool_.configure(next.pool);
  std::unique_lock<std::mutex> g(lazy_lock_);
  bool over = lazy_bytes_ > lazy_cap();
  g.unlock();
  if (over) purge();
}

size_t Vmalloc::live() const {
  size_t m = mapped_.load(std::memory_order_relaxed);
  size_t l = lazy_bytes_.load(std::memory_order_relaxed);
  return m > l ? m - l : 0;
}

// A lazily freed area of at least `size` bytes (at most twice that), with
// this guard, whose address suits `align`, from the smallest size class up.
vm_struct* Vmalloc::lazy_take(size_t size, unsigned guard, size_t align) {
  // Candidates looked at before giving up: the bins may hold many areas of
  // the wrong alignment or from before a fork, and this runs on every alloc.
  constexpr int kMaxProbes = 16;
  size_t limit = config().efence ? size : 2 * size;  // efence places by the exact size
  std::lock_guard<std::mutex> g(lazy_lock_);
  // A block from before a fork pins its whole old pool file: let it go.
  vm_struct* vm = lazy_bins_.find(size, limit, kMaxProbes, [&](const vm_struct* v) {
    return guard_flag(v) == guard && v->addr % align == 0 && current(v->gen);
  });
  if (vm != nullptr) lazy_unlink_locked(vm);
  return vm;
}

void Vmalloc::lazy_unlink_locked(vm_struct* vm) {
  lazy_bins_.remove(vm);
  (vm->lru_prev != nullptr ? vm->lru_prev->lru_next : lru_head_) = vm->lru_next;
  (vm->lru_next != nullptr ? vm->lru_next->lru_prev : lru_tail_) = vm->lru_prev;
  lazy_bytes_.store(lazy_bytes_.load(std::memory_order_relaxed) - vm->size,
                    std::memory_order_relaxed);
  --lazy_areas_;
}

void Vmalloc::lazy_add(vm_struct* vm) {
  std::unique_lock<std::mutex> g(lazy_lock_);
  lazy_bins_.insert(vm);
  vm->lru_next = nullptr;
  vm->lru_prev = lru_tail_;
  (lru_tail_ != nullptr ? lru_tail_->lru_next : lru_head_) = vm;
  lru_tail_ = vm;
  lazy_bytes_.store(lazy_bytes_.load(std::memory_order_relaxed) + vm->size,
                    std::memory_order_relaxed);
  ++lazy_areas_;
  // Sized by what is live: a program that frees most of what it had keeps
  // little of it mapped.
  bool over = lazy_bytes_ > lazy_cap();
  g.unlock();
  if (over) purge_oldest();
}

// Return an unmapped area's pages, range and record.
void Vmalloc::release(vm_struct* vm) {
  if (vm->flags & VM_USERMAP) {
    close(vm->fd);
  } else if (!current(vm->gen)) {
    gen_put(vm->gen);
  } else {
    for (unsigned i = 0; i < vm->nr_runs; ++i) pool_.free(vm->runs[i]);
    release_spare(vm);
  }
  space_.free_area(vm->va);
  vm_struct_cache().free(vm);
}

void Vmalloc::purge() {
  vm_struct* victims;
  {
    std::lock_guard<std::mutex> g(lazy_lock_);
    victims = lru_head_;
    lazy_bins_.clear();
    lru_head_ = lru_tail_ = nullptr;
    lazy_bytes_.store(0, std::memory_order_relaxed);
    lazy_areas_ = 0;
  }
  purge_list(victims);
}

void Vmalloc::purge_oldest() {
  vm_struct* victims = nullptr;
  {
    std::lock_guard<std::mutex> g(lazy_lock_);
    vm_struct** tail = &victims;
    size_t keep = lazy_cap() / 2;  // live() does not change with what is unlinked here
    while (lazy_bytes_ > keep && lru_head_ != nullptr) {
      vm_struct* vm = lru_head_;
      lazy_unlink_locked(vm);
      *tail = vm;
      tail = &vm->lru_next;
    }
    *tail = nullptr;
  }
  purge_list(victims);
}

// Sort detached lazy areas (linked by lru_next) by address, so adjacent ones
// are unmapped together, and unmap them outside the lock.
void Vmalloc::purge_list(vm_struct* victims) {
  rb_root by_address;
  for (vm_struct* vm = victims; vm != nullptr; vm = vm->lru_next) {
    rb_node** link = &by_address.node;
    rb_node* parent = nullptr;
    while (*link != nullptr) {
      parent = *link;
      link = vm->addr < by_addr(parent)->addr ? &parent->left : &parent->right;
    }
    rb_link_node(&vm->lazy_addr, parent, link);
    rb_insert_color(&vm->lazy_addr, &by_address);
  }
  vm_struct* head = nullptr;
  vm_struct** tail = &head;
  for (rb_node* n = rb_first(&by_address); n != nullptr; n = rb_next(n)) {
    *tail = by_addr(n);
    tail = &(*tail)->purge_next;
  }
  *tail = nullptr;
  purge_chain(head);
}

void Vmalloc::purge_chain(vm_struct* head) {
  if (head == nullptr) return;
  size_t areas = 0, calls = 0;
  // One mmap covers each run of adjacent areas (their guard pages included).
  for (vm_struct* first = head; first != nullptr;) {
    vm_struct* last = first;
    while (last->purge_next != nullptr && last->purge_next->va->va_start == last->va->va_end)
      last = last->purge_next;
    uintptr_t start = first->addr;
    uintptr_t end = last->addr + last->size;
    ++calls;
    bool ok = pal::map_none_fixed(reinterpret_cast<void*>(start), end - start) == 0;
    vm_struct* stop = last->purge_next;
    for (vm_struct* vm = first; vm != stop;) {
      vm_struct* next = vm->purge_next;
      ++areas;
      mapped_ -= vm->size;
      if (ok) {
        vmas_ -= vmas_of(vm);
        release(vm);
      }
      // else: still mapped to its pages; keep both out of circulation.
      vm = next;
    }
    first = stop;
  }
  purges_ += 1;
  purged_areas_ += areas;
  purge_calls_ += calls;
  pool_.tick();
}

bool Vmalloc::vma_room(long vmas) {
  if (vmas_.load(std::memory_order_relaxed) + vmas <= vma_limit_) return true;
  purge();
  if (vmas_.load(std::memory_order_relaxed) + vmas <= vma_limit_) return true;
  ++vma_refusals_;
  return false;
}

void* Vmalloc::alloc(size_t size, size_t align, unsigned flags, const void* caller, int* status) {
  *status = UVM_EINVAL;
  if (size == 0 || !is_pow2(align)) return nullptr;
  if (disabled_) {
    *status = UVM_ENOMEM;
    return nullptr;
  }
  const vm_config& cfg = config();
  size_t mapped = (size + P - 1) & ~(P - 1);
  size_t guard = cfg.guard && !(flags & VM_NO_GUARD) ? P : 0;
  *status = UVM_EOVERFLOW;
  if (mapped < size || mapped + guard < mapped) return nullptr;
  size_t offset = fence_offset(mapped, size, align, guard);
  size_t user_align = align;  // kept for moves and efence placement
  if (align < P) align = P;

  // Zeroed areas of a sparsely used size are better made of holes than of
  // recycled pages cleared one by one.
  bool holes = (flags & VM_ZERO) && populate_.sparse(mapped);
  // Reuse a lazy area: still mapped, no syscall unless its tail must go.
  vm_struct* lazy = holes ? nullptr : lazy_take(mapped, guard != 0 ? VM_GUARD : 0u, align);
  if (vm_struct* vm = lazy) {
    if (vm->size - mapped > mapped / 2) {
      if (shrink(vm, mapped) == UVM_OK) ++trimmed_;
    }
    vm->requested = size;
    vm->offset = offset;
    vm->align = user_align;
    vm->caller = caller;
    vm->va->vm = vm;
    space_.relink_busy(vm->va);
    if (flags & VM_ZERO) memset(reinterpret_cast<void*>(vm->addr), 0, vm->size);
    ++reused_;
    ++allocs_;
    *status = UVM_OK;
    return reinterpret_cast<void*>(vm->addr + offset);
  }

  *status = UVM_ENOMEM;
  if (!vma_room(2)) return nullptr;
  vm_struct* vm = vm_struct_cache().alloc();
  if (vm == nullptr) return nullptr;
  vmap_area* va;
  int rc = space_.alloc(mapped + guard, align, &va);
  if (rc == UVM_ENOSPC) {  // lazy areas may be holding the space
    purge();
    rc = space_.alloc(mapped + guard, align, &va);
  }
  if (rc != UVM_OK) {
    vm_struct_cache().free(vm);
    *status = rc;
    return nullptr;
  }
  bool warm;
  // Several warm runs when no one run is long enough (a VMA each, so only
  // with room to spare under the budget).
  unsigned max_runs =
      vmas_.load(std::memory_order_relaxed) + 2 * kAllocRuns <= vma_limit_ ? kAllocRuns : 1;
  bool sample;
  bool dense = populate_.decide(mapped, &sample);
  // A sampled zeroed area takes holes too: clearing recycled pages would
  // touch them all.
  if ((flags & VM_ZERO) && sample) holes = true;
  unsigned nr;
  if (holes) {
    nr = pool_.alloc_cold(mapped, &vm->runs[0]) == UVM_OK ? 1 : 0;
    warm = false;
  } else {
    nr = pool_.alloc_runs(mapped, max_runs, vm->runs, &warm);
  }
  if (nr == 0) {
    space_.free(va->va_start);
    vm_struct_cache().free(vm);
    return nullptr;
  }
  void* addr = reinterpret_cast<void*>(va->va_start);
  // Prefault pages that exist, unless this size is used sparsely (or
  // `populate` bounds it); holes are left to fault on first touch.
  bool populate = warm && dense && mapped <= cfg.populate;
  size_t done = 0;
  for (unsigned i = 0; i < nr; done += vm->runs[i++].len) {
    void* at = static_cast<char*>(addr) + done;
    rc = pool_.map(at, vm->runs[i], populate);
    if (rc == -ENOMEM) {  // the kernel's VMA limit, reached by someone else
      purge();
      rc = pool_.map(at, vm->runs[i], populate);
    }
    if (rc != 0) break;
  }
  if (rc != 0) {
    ++vma_refusals_;
    if (done != 0 && pal::map_none_fixed(addr, done) != 0) {
      // Still mapped to its pages: keep both out of circulation.
      vm_struct_cache().free(vm);
      return nullptr;
    }
    for (unsigned i = 0; i < nr; ++i) {
      if (warm)
        pool_.free(vm->runs[i]);
      else
        pool_.free_cold(vm->runs[i]);
    }
    space_.free(va->va_start);
    vm_struct_cache().free(vm);
    return nullptr;
  }
  vmas_ += nr + 1;
  mapped_ += mapped;
  if (thp_ && mapped >= kHugePage) pal::advise_hugepage(addr, mapped);
  // Recycled pages hold old data; holes read as zeros already.
  if ((flags & VM_ZERO) && warm) memset(addr, 0, mapped);

  vm->addr = va->va_start;
  vm->size = mapped;
  vm->requested = size;
  vm->offset = offset;
  vm->align = user_align;
  vm->flags = VM_ALLOC | (flags & VM_NO_GUARD) | (guard != 0 ? unsigned{VM_GUARD} : 0u) |
              (sample ? unsigned{VM_SAMPLE} : 0u);
  vm->nr_runs = nr;
  vm->fd = -1;
  vm->gen = gen_;
  vm->caller = caller;
  vm->va = va;
  va->vm = vm;
  ++allocs_;
  *status = UVM_OK;
  return static_cast<char*>(addr) + offset;
}

// Electric Fence placement: the block ends as close to its guard page as
// the caller's alignment (at least malloc's 16) allows, so a small overflow
// faults at once.
size_t Vmalloc::fence_offset(size_t mapped, size_t size, size_t align, size_t guard) const {
  if (!config().efence || guard == 0) return 0;
  size_t a = align < 16 ? 16 : align;
  return (mapped - size) / a * a;
}

uintptr_t Vmalloc::area_of(const void* p) const {
  auto a = reinterpret_cast<uintptr_t>(p);
  if (a % P == 0 || !space_.contains(a)) return a;
  uintptr_t start = a;
  vmap_area area;
  if (space_.classify(a, &area) == UVM_EINTERIOR) {
    space_.for_each_busy_from(area.va_start, [&](const vmap_area& v) {
      auto* vm = static_cast<const vm_struct*>(v.vm);
      if (v.va_start == area.va_start && v.flags == VMAP_VMALLOC && vm != nullptr &&
          vm->offset != 0 && vm->addr + vm->offset == a)
        start = vm->addr;
      return false;
    });
  }
  return start;
}

int Vmalloc::free(void* p) {
  vmap_area* va;
  int rc = space_.unlink_busy(area_of(p), VMAP_VMALLOC, &va);
  if (rc != UVM_OK) return rc;
  auto* vm = static_cast<vm_struct*>(va->vm);
  ++frees_;
  remember_freed(vm);
  if (vm->flags & VM_SAMPLE) measure_touches(vm);
  // Shareable areas never wait in the lazy list: their memfd may be mapped
  // elsewhere, and reuse must never hand those pages to another.
  // Nor do areas from before a fork: each pins its whole old pool file.
  // Nor blocks the program mprotect()ed, mlock()ed or madvise()d: their
  // mapping must be replaced before anyone else gets the block. Nor any
  // block under mlockall(MCL_FUTURE), whose purge would map locked PROT_NONE.
  bool attrs = vm->attrs != nullptr;
  if (attrs) mm_forget(vm);
  if (config().lazy_max > 0 && !(vm->flags & VM_USERMAP) && current(vm->gen) && !attrs &&
      !mm_future_.load(std::memory_order_relaxed)) {
    lazy_add(vm);
    return UVM_OK;
  }
  unmap_now(vm);
  pool_.tick();
  return UVM_OK;
}

void Vmalloc::measure_touches(vm_struct* vm) {
  constexpr size_t kMaxPages = 4096;  // a 32 KiB read of the page tables at most
  vm->flags &= ~VM_SAMPLE;
  size_t examined;
  long touched =
      pal::count_present(reinterpret_cast<void*>(vm->addr), vm->size, kMaxPages, &examined);
  if (touched >= 0) populate_.learn(vm->size, static_cast<size_t>(touched), examined);
}

// Unmap an unlinked area at once (a use after free faults) and release it.
void Vmalloc::unmap_now(vm_struct* vm) {
  mapped_ -= vm->size;
  // Under mlockall(MCL_FUTURE) the PROT_NONE put back is VM_LOCKED too:
  // unlock the block first so both never count against RLIMIT_MEMLOCK at
  // once, and the reservation after.
  bool future = mm_future_.load(std::memory_order_relaxed);
  if (future) pal::unlock_range(vm->addr, vm->size);
  int rc = pal::map_none_fixed(reinterpret_cast<void*>(vm->addr), vm->size);
  if (future) pal::unlock_range(vm->addr, vm->size);
  if (rc == 0) {
    vmas_ -= vmas_of(vm);
    release(vm);
  }
  // else: still mapped to its pages; keep both out of circulation.
}

int Vmalloc::find(const void* p, vm_struct* out) const {
  vmap_area va;
  int rc = space_.classify(area_of(p), &va);
  if (rc == UVM_OK || rc == UVM_EINTERIOR) {
    // Copy the record under the busy lock: it is stable while the area is busy.
    space_.for_each_busy_from(va.va_start, [&](const vmap_area& a) {
      if (a.va_start != va.va_start || a.vm == nullptr) return false;
      if (a.flags == VMAP_RAM)  // a vm_map_ram block, not a vm_struct
        rc = UVM_EWRONGKIND;
      else
        *out = *static_cast<vm_struct*>(a.vm);
      return false;
    });
  }
  return rc;
}

vm_stats Vmalloc::stats() const {
  vm_stats s{};
  s.reserved = space_.size();
  s.mapped = mapped_;
  {
    std::lock_guard<std::mutex> g(lazy_lock_);
    s.lazy = lazy_bytes_;
    s.lazy_cap = lazy_cap();
  }
  s.areas = space_.stats().busy_areas;
  s.vmas = static_cast<size_t>(vmas_.load());
  s.vma_limit = static_cast<size_t>(vma_limit_);
  s.allocs = allocs_;
  s.frees = frees_;
  s.reused = reused_;
  s.trimmed = trimmed_;
  s.purges = purges_;
  s.purged_areas = purged_areas_;
  s.purge_calls = purge_calls_;
  s.vma_refusals = vma_refusals_;
  s.grown_in_place = grown_in_place_;
  s.moved = moved_;
  s.copied = copied_;
  return s;
}

namespace {

void print_area(FILE* out, const vm_struct& vm, const char* kind) {
  char caller[256];
  format_caller(vm.caller, caller, sizeof caller);
  // /proc/vmallocinfo: range, size with the guard page, caller, pages, kind.
  fprintf(out, "0x%016lx-0x%016lx %10zu %s pages=%zu %s\n", static_cast<unsigned long>(vm.addr),
          static_cast<unsigned long>(vm.va->va_end), vm.va->size(), caller, vm.size / P, kind);
}

}  // namespace

void Vmalloc::info(FILE* out) const {
  // Copy a batch under the lock and print outside it: dladdr takes the
  // loader's lock, which must never nest inside ours.
  constexpr int kBatch = 32;
  vm_struct batch[kBatch];
  vmap_area areas[kBatch];
  uintptr_t from = space_.start();
  do {
    int n = 0;
    from = space_.for_each_busy_from(from, [&](const vmap_area& a) {
      if (n == kBatch) return false;
      if (a.vm != nullptr && a.flags != VMAP_RAM) {
        areas[n] = a;
        batch[n] = *static_cast<vm_struct*>(a.vm);
        batch[n].va = &areas[n];
        ++n;
      }
      return true;
    });
    if (from != 0) --from;  // resume at the area that did not fit
    for (int i = 0; i < n; ++i) print_area(out, batch[i], "vmalloc");
  } while (from != 0);
  std::lock_guard<std::mutex> g(lazy_lock_);
  for (const vm_struct* vm = lru_head_; vm != nullptr; vm = vm->lru_next) {
    fprintf(out, "0x%016lx-0x%016lx %10zu unpurged vm_area\n", static_cast<unsigned long>(vm->addr),
            static_cast<unsigned long>(vm->va->va_end), vm->va->size());
  }
}

std::string Vmalloc::check() const {
  std::string why = space_.check(false);
  if (!why.empty()) return "space: " + why;
  why = pool_.check();
  if (!why.empty()) return "pool: " + why;
  std::lock_guard<std::mutex> g(lazy_lock_);
  size_t n, bytes;
  why = lazy_bins_.check(&n, &bytes);
  if (!why.empty()) return "lazy bins: " + why;
  if (bytes != lazy_bytes_ || n != lazy_areas_) return "lazy counters are wrong";
  size_t in_lru = 0;
  for (const vm_struct* vm = lru_head_; vm != nullptr; vm = vm->lru_next, ++in_lru) {
    if ((vm->lru_prev == nullptr ? lru_head_ : vm->lru_prev->lru_next) != vm ||
        (vm->lru_next == nullptr ? lru_tail_ : vm->lru_next->lru_prev) != vm)
      return "the lazy free-order list is broken";
    if (in_lru > n) break;
    if (space_.find(vm->addr) != nullptr) return "a lazy area is still busy";
  }
  if (in_lru != n) return "the lazy free-order list does not hold every lazy area";
  return {};
}

}  // namespace uvm
