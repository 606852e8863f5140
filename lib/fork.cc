// fork(): a child must see a private snapshot of every allocation, as with
// anonymous memory, but pool pages are MAP_SHARED pages of one memfd.
//
// Before the fork every mapping of pool pages is replaced by a MAP_PRIVATE
// mapping of the same pages: the data stays where it is, and fork() then
// gives both processes copy-on-write views of it. Writes made by other
// threads before the remap land in the file (and so in both snapshots);
// later ones land in private copies. After the fork both processes continue
// with a new, empty pool file, since every free page of the old one could be
// seen by the other process's mappings or reused by its pool. The old file
// stays open only while areas or handles still have pages in it, and gives
// back what this process no longer reads once the other side is gone
// (fork_release.cc; each side's lock on it is made here).
//
// Allocations made shareable on purpose (vmalloc_user) keep their MAP_SHARED
// mappings of their own files. Page handles from before the fork cannot be
// mapped again (they would be shared again).
#include <unistd.h>

#include "pages.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
void Vmalloc::remap_private(const vm_struct* vm) {
  if ((vm->flags & VM_USERMAP) || !current(vm->gen)) return;  // shared on purpose / already private
  mm_before_remap(vm);
  size_t pos = 0;
  for (unsigned i = 0; i < vm->nr_runs; pos += vm->runs[i++].len)
    pool_.map_private(reinterpret_cast<void*>(vm->addr + pos), vm->runs[i]);
  // A new mapping has none of the old one's mprotect, mlock or
  // MADV_DONTDUMP: the program's (vm_advise.cc) go back on.
  mm_after_remap(vm);
}

void Vmalloc::fork_prepare() {
  pool_.lock_all();  // also waits for io_uring work in flight
  space_.lock_all();
  space_.for_each_busy_locked([&](const vmap_area& a) {
    if (a.vm == nullptr) return;
    if (a.flags == VMAP_VMALLOC) {
      remap_private(static_cast<const vm_struct*>(a.vm));
    } else if (a.flags == VMAP_MAP) {
      auto* vm = static_cast<const vm_struct*>(a.vm);
      size_t pos = 0;
      for (size_t i = 0; i < vm->nr_handles; pos += vm->handles[i++]->run.len)
        if (current(vm->handles[i]->gen))
          pool_.map_private(reinterpret_cast<void*>(vm->addr + pos), vm->handles[i]->run);
    } else if (a.flags == VMAP_RAM) {
      remap_block_private(static_cast<const vmap_block*>(a.vm));
    }
  });
  space_.unlock_all();
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    std::lock_guard<AdaptiveMutex> g(nodes_[i].lazy.lock());
    nodes_[i].lazy.for_each([&](const vm_struct& vm) { remap_private(&vm); });
  }
  hold_for_fork();
}

// Tokens for every file both sides map after the fork (fork_release.cc):
// the current one, which both leave behind, and the old ones still held.
// The child gets a lock of its own on each. Where one cannot be made, the
// file is `shared`: the child inherits the parent's token, mapping and all,
// which holds the parent's lock alive for both, and neither side ever
// releases that file.
void Vmalloc::hold_for_fork() {
  std::lock_guard<std::mutex> g(gen_lock_);
  forking_ = {};
  if (pal::file_hold(pool_.fd(), pool_.id(), false, &forking_.token) == 0 &&
      pal::file_hold(pool_.fd(), pool_.id(), true, &forking_.child) != 0)
    forking_.shared = true;
  if (forking_.shared) pal::file_token_pass_on(forking_.token, true);
  for (old_file& f : old_files_) {
    if (f.refs <= 0 || f.token.fd < 0) continue;
    if (!f.shared && pal::file_hold(f.fd, f.id, true, &f.child) != 0) f.shared = true;
    if (f.shared) pal::file_token_pass_on(f.token, true);
  }
}

// Each side keeps its own token and drops its copy of the other's (in the
// child, the parent's descriptor only: its mapping was not inherited).
void Vmalloc::tokens_after_fork(old_file& f, bool child) {
  if (f.token.fd < 0) return;
  if (f.shared) {
    if (!child) pal::file_token_pass_on(f.token, false);
  } else if (child) {
    pal::file_unhold(&f.token);
    f.token = f.child;
    pal::file_token_adopt(&f.token);
  } else {
    pal::file_unhold(&f.child);
  }
  f.child = {};
  f.scanned_ns = 0;
}

void Vmalloc::fork_switch(bool child, bool lost) {
  pal::file_id old_id = pool_.id();
  if (!lost) {
    std::lock_guard<std::mutex> g(gen_lock_);
    for (old_file& f : old_files_)
      if (f.refs > 0) tokens_after_fork(f, child);
    tokens_after_fork(forking_, child);
  }
  // This side's token on the file it leaves (none when lost).
  pal::file_token token = forking_.token;
  bool shared = forking_.shared;
  forking_ = {};
  int old;
  if (pool_.switch_file(child, lost, &old) != UVM_OK) {
    // No new pool file: reusing the old one would share pages with the other
    // process, so stop allocating (the shim falls through to the next
    // allocator). Every block now counts as an older file's, so that
    // nothing this side frees is punched or reused either: the other side
    // still reads those pages. The file (still the pool's) and the token
    // stay open for good.
    disabled_ = true;
    {
      std::lock_guard<std::mutex> g(gen_lock_);
      ++gen_;
    }
    pool_.unlock_all();
    return;
  }
  // Everything that still has pages in the old file keeps it open.
  long refs = cur_handles_.exchange(0);
  space_.lock_all();
  space_.for_each_busy_locked([&](const vmap_area& a) {
    auto* vm = static_cast<const vm_struct*>(a.vm);
    if (a.flags == VMAP_VMALLOC && vm != nullptr && !(vm->flags & VM_USERMAP) && current(vm->gen))
      ++refs;
  });
  space_.unlock_all();
  for (unsigned i = 0; i < nr_nodes_; ++i) {
    std::lock_guard<AdaptiveMutex> g(nodes_[i].lazy.lock());
    nodes_[i].lazy.for_each([&](const vm_struct& vm) { refs += current(vm.gen) ? 1 : 0; });
  }
  {
    std::lock_guard<std::mutex> g(gen_lock_);
    if (old < 0) {
      // Lost: the number is not ours to close.
    } else if (refs == 0) {
      pal::close_owned(old, old_id);
      pal::file_unhold(&token);
    } else {
      int slot = 0;
      while (slot < kMaxOldFiles && old_files_[slot].refs > 0) ++slot;
      // With no slot left the file and its token simply stay open for good.
      if (slot < kMaxOldFiles)
        old_files_[slot] = {gen_, old, old_id, refs, token, {}, shared, 0, 0};
    }
    ++gen_;
  }
  pool_.unlock_all();
  // Lazily freed blocks now belong to the old file: unmap them so it can go.
  purge();
}

size_t Vmalloc::memfd_bytes() const {
  size_t bytes = pool_.file_allocated();
  std::lock_guard<std::mutex> g(gen_lock_);
  for (const old_file& f : old_files_)
    if (f.refs > 0 && pal::same_file(f.fd, f.id)) bytes += pal::file_allocated(f.fd);
  return bytes;
}

void Vmalloc::gen_put(uint32_t gen) {
  std::lock_guard<std::mutex> g(gen_lock_);
  for (old_file& f : old_files_) {
    if (f.refs <= 0 || f.gen != gen) continue;
    f.fruitless = 0;  // a freed block: worth a look again
    if (--f.refs == 0) {
      pal::close_owned(f.fd, f.id);
      pal::file_unhold(&f.token);
      f = {};
    }
    return;
  }
}

}  // namespace uvm
