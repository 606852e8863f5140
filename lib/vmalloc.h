// vmalloc: areas of the vmalloc space glued to runs of pool pages (the
// kernel's vm_struct and __vmalloc_node_range), with guard pages, lazy purge
// and reuse of lazily freed areas.
//
// Each CPU has a vmap node (vmap_node.h) that holds the areas freed on it,
// so frees and reuses on different CPUs share no lock and no written line;
// a lookup of the area to free needs no lock either (vmap.h: park()).
//
// User space differs from the kernel in one place: the "TLB flush" that lazy
// purge batches is here the mmap/munmap syscalls and the mmap_lock they take.
// A freed area therefore stays mapped to its pages (the "lazy" state) until
// more than the lazy cap has gathered (what live is below its recent peak,
// at most the live bytes, at least live_floor, at most `lazy_max`:
// live_cap()); a purge then puts PROT_NONE back over
// runs of adjacent areas with one mmap each, and returns the pages to the
// pool. That purge takes the oldest lazy areas first and keeps the newest
// half, so the areas most likely to be asked for again stay mapped. Until
// then an allocation reuses the smallest lazy area that fits, of at most
// twice the request: with no syscall at all when it is at most half again
// too large (the kernel's per-node vmap pools; size classes a sixteenth of
// an octave wide, size_bins.h), else after unmapping its tail (one mmap,
// far cheaper than faulting a new block in): its own node's first, then
// another node's. Setting lazy to 0 unmaps at once, so a use
// after free faults.
//
// Locks, in the order they nest: the fork barrier (api.cc, around every
// operation); attrs_lock_; the vmap nodes' locks (in index order); the
// space's busy then free lock; gen_lock_. The pool's lock nests in none of
// them but the fork handlers', which run with every operation held off. A node's lock
// guards its lazy areas, and the fields of an area being handed out again
// (so info(), holding every node lock, reads them whole).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "config.h"
#include "live_peak.h"
#include "page_pool.h"
#include "populate.h"
#include "rbtree.h"
#include "uvmalloc/uvmalloc.h"
#include "vm_struct.h"
#include "vmap.h"
#include "vmap_node.h"

namespace uvm {

struct vm_stats {
  size_t reserved, mapped, lazy, areas, vmas, vma_limit;
  size_t allocs, frees, reused, trimmed, purges, purged_areas, purge_calls, vma_refusals;
  size_t bad_frees;
  size_t grown_in_place, moved, copied;
  size_t lazy_cap;  // lazily freed bytes kept at most now
};

class Vmalloc {
 public:
  Vmalloc() = default;
  Vmalloc(const Vmalloc&) = delete;
  Vmalloc& operator=(const Vmalloc&) = delete;
  ~Vmalloc();

  int init(const vm_config& cfg);
  // Settings that can change after init (pool, lazy, guard, bad_free...).
  // The caller holds every operation off (the fork barrier, exclusively).
  void configure(const vm_config& cfg);
  // The settings in force: an immutable snapshot. Operations read it under
  // the fork barrier, which configure() holds exclusively, so the snapshot
  // they read is never the one being rewritten; readers outside operations
  // (the shim's threshold, the bad-free report) read one field at once.
  const vm_config& config() const { return *cfg_.load(std::memory_order_acquire); }

  // `size` bytes aligned to `align` (a power of two); null with *status set
  // on failure (UVM_EINVAL, UVM_EOVERFLOW, UVM_ENOSPC, UVM_ENOMEM).
  void* alloc(size_t size, size_t align, unsigned flags, const void* caller, int* status);
  // UVM_OK, or why `p` starts no live area (nothing is changed then).
  int free(void* p);
  // Resize in place or move without copying (vrealloc.cc). Null with
  // *status set on failure, the old block untouched; a bad `p` gives its
  // classification (UVM_ENOTALLOC, UVM_EINTERIOR, UVM_EFOREIGN).
  void* realloc(void* p, size_t size, const void* caller, int* status);
  // Pages as objects and their mappings (vmap_pages.cc, vmap_block.cc).
  uvm_pages* alloc_pages(size_t n, int* status);
  void put_pages(uvm_pages* pages);
  void* vmap(uvm_pages* const* pages, size_t count, unsigned flags, const void* caller,
             int* status);
  int vunmap(void* addr);
  void* vm_map_ram(uvm_pages* const* pages, size_t count, int* status);
  int vm_unmap_ram(void* addr, size_t count);
  int to_page(const void* addr, uvm_page_info* out) const;
  // A thread's vm_map_ram block when the thread exits.
  void release_thread_block(struct vmap_block* b) { retire_block(b); }
  // Shareable allocations (vmalloc_user.cc).
  void* alloc_user(size_t size, const void* caller, int* status);
  int export_area(const void* p, struct uvm_export* out) const;

  // fork() (fork.cc): before it, every mapping of pool pages becomes a
  // private copy-on-write mapping of the same file; after it, both processes
  // continue with a new pool file, so nothing written later is shared. The
  // caller guarantees no other operation runs meanwhile.
  void fork_prepare();
  void fork_parent() { fork_switch(false, false); }
  void fork_child() { fork_switch(true, false); }
  // The pool file's descriptor was closed or replaced by the program (a
  // raw close_range, dup2 over its number): every use of it since has
  // failed safe. replace_lost_file() goes on with a new pool file; areas in
  // the old one keep their pages (their mappings hold the file) and are
  // handled as areas from before a fork, except that a later fork cannot
  // make them private. Same exclusion as fork_prepare.
  bool pool_lost() const { return pool_.lost(); }
  void replace_lost_file() { fork_switch(false, true); }

  // The memory calls a program makes on its blocks (vm_advise.cc), for
  // [start, start + len) inside the space, page aligned: 0 or -errno, as
  // madvise(2), mprotect(2), mlock2(2)/munlock(2) and mlockall(2) give them
  // on private anonymous memory. Same exclusion against fork as alloc().
  int mm_advise(uintptr_t start, size_t len, int advice);
  int mm_protect(uintptr_t start, size_t len, int prot);
  int mm_lock(uintptr_t start, size_t len, unsigned flags, bool lock);
  int mm_lockall(int flags);
  int mm_unlockall();
  // In the child after fork(), after fork_child(): DONTFORK ranges go,
  // WIPEONFORK ranges read zeros, and memory locks are not inherited.
  void mm_fork_child();

  // Unmap every lazily freed area now.
  void purge();
  // Give back what went unused for decay_ms: lazy areas freed before that,
  // warm pool pages (PagePool::tick). True while anything is still cached.
  bool decay();
  // purge() and release every warm pool page.
  void purge_all() {
    purge();
    pool_.release_all();
  }
  // fork_release.cc: give back the pages of pool files left by fork() that
  // no other process maps any more and this one does not read either (its
  // blocks' private copies, freed blocks). Unless `now`, each file is looked
  // at no more than once per old_file_pace_ns(). Returns the bytes given
  // back. The caller holds every other operation off (the fork barrier's
  // writer side), so no block changes its pages meanwhile.
  size_t release_old_files(bool now);
  // Cheap, under an operation: whether release_old_files(now) has work.
  bool old_files_due(bool now) const;
  // In a child made without fork handlers: no file it left behind is ever
  // released (the parent holds no lock on them that this child could see).
  void keep_old_files();

  // The vmalloc space, fixed at init.
  uintptr_t space_start() const { return space_.start(); }
  uintptr_t space_end() const { return space_.end(); }
  bool contains(const void* p) const { return space_.contains(reinterpret_cast<uintptr_t>(p)); }
  // Copy of the live area containing `p`; UVM_OK when `p` is its start,
  // UVM_EINTERIOR inside it, UVM_ENOTALLOC / UVM_EFOREIGN otherwise.
  int find(const void* p, vm_struct* out) const;

  vm_stats stats() const;

  // What a fault at `addr` hit, for the SIGSEGV report (segv.cc): written
  // into `buf`; never blocks (gives less detail when a lock is busy).
  void describe_fault(uintptr_t addr, char* buf, size_t len) const;
  pool_stats pool() const { return pool_.stats(); }
  size_t committed() const { return pool_.file_allocated(); }
  // Bytes every pool file holds: the current one and those kept after fork.
  size_t memfd_bytes() const;
  // One line per area in /proc/vmallocinfo's format.
  void info(FILE* out) const;
  // Invariants of the space, the pool and the lazy lists ("" when all hold).
  std::string check() const;

 private:
  // The node of the CPU this thread runs on.
  vmap_node& this_node() const { return nodes_[pal::current_cpu() % nr_nodes_]; }
  void lock_nodes() const;
  void unlock_nodes() const;
  // A lazy area for `size` bytes from this CPU's node, else another's.
  vm_struct* lazy_take(vmap_node& own, size_t size, unsigned guard_flag, size_t align);
  vm_struct* lazy_take_from(vmap_node& node, size_t size, size_t limit, unsigned guard,
                            size_t align);
  void lazy_add(vmap_node& node, vm_struct* vm);
  // Bring lazy_total_ up to date with `node` (its lock held) when the two
  // differ by a batch, or always with `force`.
  void lazy_publish(vmap_node& node, bool force);
  // Unmap the oldest lazy areas of all nodes: at least `bytes` of them or,
  // with 0, until at most half of the lazy cap is left.
  void purge_oldest(size_t bytes = 0);
  // Before new pages are taken for `len` bytes: when the warm pool is short
  // of them and the lazy areas hold the difference, purge that much of the
  // oldest into it.
  void lazy_to_pool(size_t len);
  // Claim the live vmalloc area that `p` starts (vmap.h: park()): UVM_OK
  // and *out, or why not (nothing is changed then).
  int claim(void* p, vmap_area** out);
  // Hand a lazy area out again, as `size` bytes for `caller`.
  void* reuse(vmap_node& node, vm_struct* vm, size_t size, size_t offset, size_t align,
              unsigned flags, const void* caller);
  // Bytes of live areas: mapped, less what is lazily freed (relaxed loads,
  // no lock: the two may be a purge apart, never by more than it holds).
  size_t live() const;
  // live() from the published lazy total and this node's own count, within
  // a batch per other node: for the peak on the reuse path, which must not
  // read every node's line. Under node.lazy.lock().
  size_t live_near(const vmap_node& node) const;
  // Lazily freed bytes and areas over all nodes, exact when quiescent.
  size_t lazy_bytes() const;
  size_t lazy_areas() const;
  // The most bytes live lately (live_peak.h), `live` being live now.
  size_t live_peak(size_t live) const;
  // Lazily freed bytes kept at most while `lazy` bytes are lazily freed:
  // live_cap() of lazy_max.
  size_t lazy_cap_at(size_t lazy) const;
  void purge_list(vm_struct* victims);
  // Unmap a chain of detached lazy areas in address order (purge_next).
  void purge_chain(vm_struct* head);
  // `unused_since_ms`: for the pool's decay (PagePool::free), 0 for now.
  void release(vm_struct* vm, uint64_t unused_since_ms);
  bool vma_room(long vmas);
  int shrink(vm_struct* vm, size_t size);
  // The area start behind a caller's pointer (different under efence).
  uintptr_t area_of(const void* p) const;
  size_t fence_offset(size_t mapped, size_t size, size_t align, size_t guard) const;
  void fork_switch(bool child, bool lost);
  void remap_private(const vm_struct* vm);
  void remap_block_private(const struct vmap_block* b);
  // Pages of an older pool file are never reused; the file is closed when
  // the last area or handle on it goes.
  bool current(uint32_t gen) const { return gen == gen_; }
  void gen_put(uint32_t gen);
  void unmap_now(vm_struct* vm);
  // vm_advise.cc: the records behind mm_*() and their re-application.
  struct vm_attrs* attrs_get(vm_struct* vm, bool create);
  void attrs_set(vm_struct* vm, uintptr_t s, uintptr_t e, unsigned clear, unsigned set);
  void attrs_apply(const vm_struct* vm, uintptr_t s, uintptr_t e, bool locks) const;
  bool attrs_any(const vm_struct* vm, uintptr_t s, uintptr_t e, unsigned bits) const;
  void mm_forget(vm_struct* vm);
  void mm_before_remap(const vm_struct* vm) const;
  void mm_after_remap(const vm_struct* vm) const;
  int mm_zero(vm_struct* vm, uintptr_t s, uintptr_t e);
  int lock_current_unprivileged(int flags);
  template <typename Fn>
  int mm_walk(uintptr_t start, size_t len, bool stop_at_gap, Fn&& fn);
  // A sampled area is being freed: teach populate_ how densely it was used.
  void measure_touches(vm_struct* vm);
  int init_blocks();
  void exit_blocks();
  struct vmap_block* new_block();
  struct vmap_block* block_of(uintptr_t addr) const;
  size_t block_slot(uintptr_t addr) const;
  void retire_block(struct vmap_block* b);
  void free_block(struct vmap_block* b);
  int add_pages(vm_struct* vm, size_t extra);
  void release_spare(vm_struct* vm);
  void drop_pages(vm_struct* vm, size_t keep);
  int map_range(const vm_struct* vm, uintptr_t base, size_t from, size_t to);
  void* move(vm_struct* vm, size_t size, int* status);
  void* copy_to_new(vm_struct* vm, size_t size, int* status);

  // The two snapshots behind config(): configure() fills the one not in
  // force and publishes it.
  vm_config cfgs_[2];
  std::atomic<const vm_config*> cfg_{&cfgs_[0]};
  VmSpace space_;
  // vm_map_ram blocks by index of their (block-aligned) slot in the space:
  // lookup without the tree locks, like the kernel's per-cpu xarray.
  std::atomic<struct vmap_block*>* blocks_ = nullptr;
  size_t nr_blocks_ = 0;
  PagePool pool_;
  PopulatePolicy populate_;
  long vma_limit_ = 0;
  bool thp_ = false;

  // Pool files left behind by fork(): their pages stay until the last area or
  // handle in them goes. `token` holds this process's read lock on the file
  // (pal::file_hold); once no other process holds one, release_old_files()
  // may give back what no block of this process reads. Without a token, or
  // `shared` (a token that also stands for another process), never.
  struct old_file {
    uint32_t gen;
    int fd;
    pal::file_id id;
    long refs;
    pal::file_token token;
    pal::file_token child;  // between fork_prepare and fork_switch: the next child's
    bool shared = false;
    uint64_t scanned_ns = 0;
    unsigned fruitless = 0;  // looks in a row that gave nothing back
  };
  // The current pool file's two tokens while a fork is under way (made
  // before it, so that neither side can look before the other holds its
  // lock); they go to its old_file entry on both sides.
  old_file forking_ = {};
  void hold_for_fork();
  void tokens_after_fork(old_file& f, bool child);
  size_t release_old_file(const old_file& f);
  template <typename Fn>
  bool for_each_old_block(const old_file& f, Fn fn);
  uint64_t old_file_pace_ns(const old_file& f) const;
  bool old_file_due(const old_file& f, uint64_t t, bool now) const;
  static constexpr int kMaxOldFiles = 64;
  uint32_t gen_ = 0;
  mutable std::mutex gen_lock_;
  old_file old_files_[kMaxOldFiles] = {};
  std::atomic<long> cur_handles_{0};  // handles in the current pool file
  bool disabled_ = false;             // fork could not make a new pool file

  // Note a freed area in its node's history, for describe_fault().
  void remember_freed(vmap_node& node, const vm_struct* vm);

  // attrs_lock_ guards every vm_attrs record and vm_struct::attrs while the
  // block is live (the block itself is the caller's, as in realloc: a
  // program that frees it meanwhile has a use after free). fork_prepare
  // and fork_child read them under the fork exclusion instead. Taken before
  // the space's busy lock, never after it.
  mutable std::mutex attrs_lock_;
  // mlockall(MCL_FUTURE) is in force: new mappings are VM_LOCKED, so freed
  // blocks skip the lazy list and their PROT_NONE is unlocked at once.
  std::atomic<bool> mm_future_{false};

  // One vmap node per CPU (at most kMaxNodes, CPUs beyond share), mapped at
  // init.
  static constexpr unsigned kMaxNodes = 64;
  vmap_node* nodes_ = nullptr;
  unsigned nr_nodes_ = 0;
  // The lazily freed bytes the nodes have published (vmap_node::published):
  // within a batch per node of the exact sum, lazy_bytes().
  std::atomic<long> lazy_total_{0};
  // Held across purge() and decay() whole, so a purge that returns has seen
  // the purge thread's round end (taken before the node locks).
  std::mutex purge_lock_;
  // Parked areas a purge could not unmap: kept out of circulation for good.
  std::atomic<size_t> stranded_{0};

  // Counters of the slow paths (new areas, purges); the hot ones are per node.
  std::atomic<long> vmas_{0};
  std::atomic<size_t> mapped_{0};
  mutable LivePeak peak_;  // of live(): what the caches are sized by
  std::atomic<size_t> purges_{0}, purged_areas_{0};
  std::atomic<size_t> purge_calls_{0}, vma_refusals_{0};
  std::atomic<size_t> grown_in_place_{0}, moved_{0}, copied_{0};
};

kmem_cache_of<vm_struct>& vm_struct_cache();

}  // namespace uvm
