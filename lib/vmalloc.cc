#include "vmalloc.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <tuple>

#include "caller.h"
#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// Bytes a node's lazy areas may drift from what it published to lazy_total_.
constexpr long kLazyBatch = long{4} << 20;
// Runs one new area may be built from (page_pool::alloc_runs): warm pieces
// and a last run of holes. 8, not 4: churn_large (full) with small caches
// faulted in a third less (the warm pages were there, in too many pieces);
// the other 8 of kMaxRuns are left for growth in place.
constexpr unsigned kAllocRuns = 8;
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

}  // namespace

kmem_cache_of<vm_struct>& vm_struct_cache() {
  static kmem_cache_of<vm_struct> cache("vm_struct");
  return cache;
}

Vmalloc::~Vmalloc() {
  if (nodes_ == nullptr) return;  // init failed before the nodes
  purge();
  exit_blocks();
  for (unsigned i = 0; i < nr_nodes_; ++i) nodes_[i].~vmap_node();
  pal::unmap(nodes_, nr_nodes_ * sizeof(vmap_node));
}

int Vmalloc::init(const vm_config& cfg) {
  cfgs_[0] = cfg;
  cfg_.store(&cfgs_[0], std::memory_order_release);
  if (!pal::page_size_ok()) return UVM_EINVAL;
  nr_nodes_ = std::min(pal::nr_cpus(), kMaxNodes);
  void* mem = pal::map_anon(nr_nodes_ * sizeof(vmap_node));
  if (mem == nullptr) return UVM_ENOMEM;
  nodes_ = static_cast<vmap_node*>(mem);
  for (unsigned i = 0; i < nr_nodes_; ++i) new (&nodes_[i]) vmap_node;
  int rc = space_.reserve(cfg.reserve, cfg.min_reserve, kHugePage);
  if (rc != UVM_OK) return rc;
  rc = pool_.init(cfg.pool);
  if (rc != UVM_OK) return rc;
  pool_.set_live_source(
      [](const void* self, size_t* live, size_t* peak) {
        auto* vm = static_cast<const Vmalloc*>(self);
        *live = vm->live();
        *peak = vm->live_peak(*live);
      },
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
  if (lazy_bytes() > lazy_cap_at(lazy_bytes())) purge();
}

size_t Vmalloc::live() const {
  size_t m = mapped_.load(std::memory_order_relaxed);
  size_t l = lazy_bytes();
  return m > l ? m - l : 0;
}

size_t Vmalloc::live_near(const vmap_node& node) const {
  long lazy = lazy_total_.load(std::memory_order_relaxed) +
              (static_cast<long>(node.lazy.bytes()) - static_cast<long>(node.published));
  size_t m = mapped_.load(std::memory_order_relaxed);
  size_t l = lazy > 0 ? static_cast<size_t>(lazy) : 0;
  return m > l ? m - l : 0;
}

size_t Vmalloc::live_peak(size_t live) const {
  return peak_.get(live, pal::coarse_ns() / 1000000, config().pool.decay_ms);
}

size_t Vmalloc::lazy_cap_at(size_t lazy) const {
  const vm_config& c = config();
  size_t m = mapped_.load(std::memory_order_relaxed);
  size_t live = m > lazy ? m - lazy : 0;
  return live_cap(c.lazy_max, live, live_peak(live), c.pool);
}

size_t Vmalloc::lazy_bytes() const {
  size_t bytes = 0;
  for (unsigned i = 0; i < nr_nodes_; ++i) bytes += nodes_[i].lazy.bytes();
  return bytes;
}

size_t Vmalloc::lazy_areas() const {
  size_t areas = 0;
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    std::lock_guard<AdaptiveMutex> g(nodes_[i].lazy.lock());
    areas += nodes_[i].lazy.areas();
  }
  return areas;
}

void Vmalloc::lock_nodes() const {
  for (unsigned i = 0; i < nr_nodes_; ++i) nodes_[i].lazy.lock().lock();
}

void Vmalloc::unlock_nodes() const {
  for (unsigned i = nr_nodes_; i-- > 0;) nodes_[i].lazy.lock().unlock();
}

void Vmalloc::lazy_publish(vmap_node& node, bool force) {
  long d = static_cast<long>(node.lazy.bytes()) - static_cast<long>(node.published);
  if (!force && d < kLazyBatch && -d < kLazyBatch) return;
  lazy_total_.fetch_add(d, std::memory_order_relaxed);
  node.published = node.lazy.bytes();
}

// A lazily freed area of at least `size` bytes (at most twice that), with
// this guard, whose address suits `align`, from the smallest size class up:
// this CPU's node first, then the others that hold enough bytes to have one.
vm_struct* Vmalloc::lazy_take(vmap_node& own, size_t size, unsigned guard, size_t align) {
  // Two rounds over the nodes: first an area whose tail may stay (reuse()
  // trims beyond 1.5x, which costs an unmap), then any up to 2x.
  size_t limits[2] = {size + size / 2, 2 * size};
  if (config().efence) limits[0] = limits[1] = size;  // efence places by the exact size
  unsigned first = static_cast<unsigned>(&own - nodes_);
  for (size_t limit : limits) {
    for (unsigned i = 0; i < nr_nodes_; ++i) {
      vmap_node& node = nodes_[(first + i) % nr_nodes_];
      if (node.lazy.bytes() < size) continue;  // a hint, read without the lock
      if (vm_struct* vm = lazy_take_from(node, size, limit, guard, align)) return vm;
    }
    if (limits[1] == limits[0]) break;
  }
  return nullptr;
}

vm_struct* Vmalloc::lazy_take_from(vmap_node& node, size_t size, size_t limit, unsigned guard,
                                   size_t align) {
  // Candidates looked at before giving up: the bins may hold many areas of
  // the wrong alignment or from before a fork, and this runs on every alloc.
  constexpr int kMaxProbes = 16;
  std::lock_guard<AdaptiveMutex> g(node.lazy.lock());
  // A block from before a fork pins its whole old pool file: let it go.
  vm_struct* vm = node.lazy.take(size, limit, kMaxProbes, [&](const vm_struct* v) {
    return guard_flag(v) == guard && v->addr % align == 0 && current(v->gen);
  });
  if (vm != nullptr) lazy_publish(node, false);
  return vm;
}

void Vmalloc::lazy_add(vmap_node& node, vm_struct* vm) {
  std::unique_lock<AdaptiveMutex> g(node.lazy.lock());
  node.lazy.insert(vm, pal::coarse_ns());
  lazy_publish(node, false);
  // Sized by what is live: a program that frees most of what it had keeps
  // little of it mapped. Far below the cap by the published total (each
  // node's share within a batch of it, and so the cap), that is all;
  // nearer, every node's exact count decides.
  long est = lazy_total_.load(std::memory_order_relaxed) +
             (static_cast<long>(node.lazy.bytes()) - static_cast<long>(node.published));
  g.unlock();
  long slack = 2 * kLazyBatch * static_cast<long>(nr_nodes_);
  if (est > 0 && est + slack < static_cast<long>(lazy_cap_at(static_cast<size_t>(est)))) return;
  size_t lazy = lazy_bytes();
  if (lazy > lazy_cap_at(lazy)) purge_oldest();
}

// Return an unmapped area's pages, range and record.
void Vmalloc::release(vm_struct* vm, uint64_t unused_since_ms) {
  space_.unlink_parked(vm->va);
  if (vm->flags & VM_USERMAP) {
    close(vm->fd);
  } else if (!current(vm->gen)) {
    gen_put(vm->gen);
  } else {
    for (unsigned i = 0; i < vm->nr_runs; ++i) pool_.free(vm->runs[i], unused_since_ms);
    release_spare(vm);
  }
  space_.free_area(vm->va);
  vm_struct_cache().free(vm);
}

void Vmalloc::purge() {
  std::lock_guard<std::mutex> whole(purge_lock_);
  vm_struct* victims = nullptr;
  vm_struct** tail = &victims;
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    vmap_node& node = nodes_[i];
    std::lock_guard<AdaptiveMutex> g(node.lazy.lock());
    *tail = node.lazy.detach_all();
    while (*tail != nullptr) tail = &(*tail)->lru_next;
    lazy_publish(node, true);
  }
  purge_list(victims);
}

bool Vmalloc::decay() {
  std::lock_guard<std::mutex> whole(purge_lock_);
  uint64_t now = pal::coarse_ns();
  uint64_t age = config().pool.decay_ms * 1000000;
  vm_struct* victims = nullptr;
  vm_struct** tail = &victims;
  for (unsigned i = 0; now > age && i < nr_nodes_; ++i) {
    vmap_node& node = nodes_[i];
    if (node.lazy.bytes() == 0) continue;  // a hint, read without the lock
    std::lock_guard<AdaptiveMutex> g(node.lazy.lock());
    if (node.lazy.detach_older(now - age, &tail) != 0) lazy_publish(node, true);
  }
  // Pages of the areas just purged keep their free time: the ones unused
  // for decay_ms go now, not a round later (the first of their frees into
  // the pool may have run the paced decay before the rest arrived).
  purge_list(victims);
  pool_.tick(true);
  return lazy_bytes() != 0 || pool_.stats().pooled != 0;
}

// Oldest first over all nodes: a merge of their free orders.
void Vmalloc::purge_oldest(size_t bytes) {
  vm_struct* victims = nullptr;
  vm_struct** tail = &victims;
  lock_nodes();
  size_t total = 0;
  for (unsigned i = 0; i < nr_nodes_; ++i) total += nodes_[i].lazy.bytes();
  size_t keep = bytes != 0
                    ? total - std::min(bytes, total)
                    : lazy_cap_at(total) / 2;  // what is live does not change with what goes here
  while (total > keep) {
    vmap_node* oldest = nullptr;
    for (unsigned i = 0; i < nr_nodes_; ++i) {
      const vm_struct* head = nodes_[i].lazy.oldest();
      if (head != nullptr &&
          (oldest == nullptr || head->freed_ns < oldest->lazy.oldest()->freed_ns))
        oldest = &nodes_[i];
    }
    if (oldest == nullptr) break;
    vm_struct* vm = oldest->lazy.oldest();
    oldest->lazy.unlink(vm);
    total -= vm->size;
    *tail = vm;
    tail = &vm->lru_next;
  }
  *tail = nullptr;
  for (unsigned i = 0; i < nr_nodes_; ++i) lazy_publish(nodes_[i], true);
  unlock_nodes();
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
        release(vm, vm->freed_ns / 1000000);  // unused since it was freed
      } else {
        ++stranded_;  // still mapped to its pages: keep both out of circulation
      }
      vm = next;
    }
    first = stop;
  }
  purges_ += 1;
  purged_areas_ += areas;
  purge_calls_ += calls;
  pool_.tick();
}

// A page of a lazy area is cheaper to use again than a new one: the unmap
// costs a syscall per run of adjacent areas, a new page a fault and a clear
// of its own. Without this, a churn of mixed sizes whose lazy areas fit
// none of its requests takes new pages while the old ones wait for their
// purge, then releases them: with caches of a quarter of what is live,
// churn_large (full) faulted 2.4 GiB in and took 3x as long.
void Vmalloc::lazy_to_pool(size_t len) {
  size_t lazy = lazy_bytes();
  size_t short_by = pool_.warm_shortfall(len, lazy != 0);
  if (short_by == 0 || lazy < short_by) return;
  purge_oldest(short_by);
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
  if (size == 0 || !pal::is_pow2(align)) return nullptr;
  if (disabled_) {
    *status = UVM_ENOMEM;
    return nullptr;
  }
  const vm_config& cfg = config();
  size_t mapped = pal::page_align(size);
  size_t guard = cfg.guard && !(flags & VM_NO_GUARD) ? pal::kPageSize : 0;
  *status = UVM_EOVERFLOW;
  if (mapped < size || mapped + guard < mapped) return nullptr;
  size_t offset = fence_offset(mapped, size, align, guard);
  size_t user_align = align;  // kept for moves and efence placement
  if (align < pal::kPageSize) align = pal::kPageSize;

  // Zeroed areas of a sparsely used size are better made of holes than of
  // recycled pages cleared one by one.
  bool holes = (flags & VM_ZERO) && populate_.sparse(mapped);
  // Reuse a lazy area: still mapped, no syscall unless its tail must go.
  vmap_node& node = this_node();
  vm_struct* lazy = holes ? nullptr : lazy_take(node, mapped, guard != 0 ? VM_GUARD : 0u, align);
  if (lazy != nullptr) {
    *status = UVM_OK;
    return reuse(node, lazy, size, offset, user_align, flags, caller);
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
  unsigned warm;  // bit i: run i holds pages that exist
  // Several runs when no one warm run is long enough (a VMA each, so only
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
    warm = 0;
  } else {
    // Only for a size whose pages get written: a hole not touched costs
    // nothing, a purged lazy area is one fewer to reuse. Several runs,
    // since the pages may come back in pieces.
    if (max_runs > 1 && !populate_.sparse(mapped)) lazy_to_pool(mapped);
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
  bool populate = dense && mapped <= cfg.populate;
  size_t done = 0;
  for (unsigned i = 0; i < nr; done += vm->runs[i++].len) {
    void* at = static_cast<char*>(addr) + done;
    bool run_warm = (warm >> i) & 1;
    rc = pool_.map(at, vm->runs[i], populate && run_warm);
    if (rc == -ENOMEM) {  // the kernel's VMA limit, reached by someone else
      purge();
      rc = pool_.map(at, vm->runs[i], populate && run_warm);
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
      if ((warm >> i) & 1)
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
  peak_.raise(live());
  if (thp_ && mapped >= kHugePage) pal::advise_hugepage(addr, mapped);
  // Recycled pages hold old data; holes read as zeros already.
  if ((flags & VM_ZERO) && warm != 0) {
    char* at = static_cast<char*>(addr);
    for (unsigned i = 0; i < nr; at += vm->runs[i++].len)
      if ((warm >> i) & 1) memset(at, 0, vm->runs[i].len);
  }

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
  node.allocs.fetch_add(1, std::memory_order_relaxed);
  *status = UVM_OK;
  return static_cast<char*>(addr) + offset;
}

void* Vmalloc::reuse(vmap_node& node, vm_struct* vm, size_t size, size_t offset, size_t align,
                     unsigned flags, const void* caller) {
  size_t mapped = pal::page_align(size);
  // Still parked, so nobody else looks at it: the tail goes without a lock.
  bool trim = vm->size - mapped > mapped / 2 && shrink(vm, mapped) == UVM_OK;
  size_t live;
  {
    std::lock_guard<AdaptiveMutex> g(node.lazy.lock());  // for info(), which reads all four
    vm->requested = size;
    vm->offset = offset;
    vm->align = align;
    vm->caller = caller;
    VmSpace::unpark(vm->va);
    live = live_near(node);
  }
  if (flags & VM_ZERO) memset(reinterpret_cast<void*>(vm->addr), 0, vm->size);
  peak_.raise(live);
  if (trim) node.trimmed.fetch_add(1, std::memory_order_relaxed);
  node.reused.fetch_add(1, std::memory_order_relaxed);
  node.allocs.fetch_add(1, std::memory_order_relaxed);
  return reinterpret_cast<void*>(vm->addr + offset);
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
  if (a % pal::kPageSize == 0 || !space_.contains(a)) return a;
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

int Vmalloc::claim(void* p, vmap_area** out) {
  uintptr_t a = area_of(p);
  vmap_area* va = space_.lookup(a);
  if (va != nullptr && VmSpace::park(va, a)) {
    if (va->flags == VMAP_VMALLOC && va->vm != nullptr) {
      *out = va;
      return UVM_OK;
    }
    VmSpace::unpark(va);  // another kind's area: its own call frees it
    return UVM_EWRONGKIND;
  }
  // Why not: the busy lock's view. An area that starts at `a` and is live
  // here lost a race with another free of the same pointer.
  int rc = space_.classify(a, nullptr);
  return rc == UVM_OK ? UVM_ENOTALLOC : rc;
}

int Vmalloc::free(void* p) {
  vmap_area* va;
  int rc = claim(p, &va);
  if (rc != UVM_OK) return rc;
  auto* vm = static_cast<vm_struct*>(va->vm);
  vmap_node& node = this_node();
  node.frees.fetch_add(1, std::memory_order_relaxed);
  remember_freed(node, vm);
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
    lazy_add(node, vm);
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
    release(vm, 0);
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
  s.lazy = lazy_bytes();
  s.lazy_cap = lazy_cap_at(s.lazy);
  // The busy tree holds the parked areas too.
  size_t parked = lazy_areas() + stranded_.load(std::memory_order_relaxed);
  size_t busy = space_.stats().busy_areas;
  s.areas = busy > parked ? busy - parked : 0;
  s.vmas = static_cast<size_t>(vmas_.load());
  s.vma_limit = static_cast<size_t>(vma_limit_);
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    const vmap_node& n = nodes_[i];
    s.allocs += n.allocs.load(std::memory_order_relaxed);
    s.frees += n.frees.load(std::memory_order_relaxed);
    s.reused += n.reused.load(std::memory_order_relaxed);
    s.trimmed += n.trimmed.load(std::memory_order_relaxed);
  }
  s.purges = purges_;
  s.purged_areas = purged_areas_;
  s.purge_calls = purge_calls_;
  s.vma_refusals = vma_refusals_;
  s.grown_in_place = grown_in_place_;
  s.moved = moved_;
  s.copied = copied_;
  return s;
}

void Vmalloc::info(FILE* out) const {
  // Copy a batch under the locks and print outside them: dladdr takes the
  // loader's lock, which must never nest inside ours. The node locks keep
  // the fields of areas being handed out again whole.
  constexpr int kBatch = 32;
  struct line {
    uintptr_t addr, end;
    size_t size, pages;
    const void* caller;
  } batch[kBatch];
  uintptr_t from = space_.start();
  do {
    int n = 0;
    lock_nodes();
    from = space_.for_each_busy_from(from, [&](const vmap_area& a) {
      if (n == kBatch) return false;
      if (a.vm != nullptr && a.flags != VMAP_RAM) {
        auto* vm = static_cast<const vm_struct*>(a.vm);
        batch[n++] = {vm->addr, a.va_end, a.size(), vm->size / pal::kPageSize, vm->caller};
      }
      return true;
    });
    unlock_nodes();
    if (from != 0) --from;  // resume at the area that did not fit
    for (int i = 0; i < n; ++i) {
      char caller[256];
      format_caller(batch[i].caller, caller, sizeof caller);
      // /proc/vmallocinfo: range, size with the guard page, caller, pages, kind.
      fprintf(out, "0x%016lx-0x%016lx %10zu %s pages=%zu vmalloc\n",
              static_cast<unsigned long>(batch[i].addr), static_cast<unsigned long>(batch[i].end),
              batch[i].size, caller, batch[i].pages);
    }
  } while (from != 0);
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    std::lock_guard<AdaptiveMutex> g(nodes_[i].lazy.lock());
    nodes_[i].lazy.for_each([&](const vm_struct& vm) {
      fprintf(out, "0x%016lx-0x%016lx %10zu unpurged vm_area\n",
              static_cast<unsigned long>(vm.addr), static_cast<unsigned long>(vm.va->va_end),
              vm.va->size());
    });
  }
}

std::string Vmalloc::check() const {
  size_t parked;
  std::string why = space_.check(false, &parked);
  if (!why.empty()) return "space: " + why;
  why = pool_.check();
  if (!why.empty()) return "pool: " + why;
  size_t lazy = 0;
  long published = 0;
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    const vmap_node& node = nodes_[i];
    std::lock_guard<AdaptiveMutex> g(node.lazy.lock());
    why = node.lazy.check();
    if (!why.empty()) return "node " + std::to_string(i) + " lazy areas: " + why;
    lazy += node.lazy.areas();
    published += static_cast<long>(node.published);
    bool ok = true;
    node.lazy.for_each([&](const vm_struct& vm) {
      ok = ok && space_.lookup(vm.addr) == vm.va && VmSpace::parked(*vm.va) && vm.va->vm == &vm;
    });
    if (!ok) return "node " + std::to_string(i) + ": a lazy area is not parked in the busy tree";
  }
  if (published != lazy_total_.load()) return "the lazy total is not what the nodes published";
  if (parked != lazy + stranded_.load()) return "parked areas that no node holds";
  return {};
}

}  // namespace uvm
