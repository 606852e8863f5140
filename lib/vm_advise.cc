// The memory calls a program makes on its own blocks: madvise, mprotect,
// mlock and mlockall, made to behave as on private anonymous memory.
//
// A block is a MAP_SHARED mapping of pool pages that fork() replaces with a
// MAP_PRIVATE one (fork.cc) and free() may keep mapped for reuse (lazy), so
// the kernel's per-VMA state (vm_page_prot, VM_LOCKED, VM_DONTDUMP) would
// vanish at the next fork and outlive the block. Each block that gets such a
// call therefore carries a record, one 16-bit word per page (vm_attrs), that
// fork_prepare re-applies after the remap, and free() sees: a block with a
// record is unmapped at once, never handed to another caller as it is.
// VM_DONTCOPY and VM_WIPEONFORK are only recorded: the kernel cannot apply
// them to these mappings (a DONTFORK VMA would leave a hole in the child's
// vmalloc space, WIPEONFORK is refused on file mappings), so mm_fork_child
// emulates them in the child.
//
// MADV_DONTNEED on a shared mapping refills from the file: zeros come from
// punching the file range (MADV_REMOVE through the mapping, so freed memory
// goes back) while the pages are the current pool file's, and from fresh
// anonymous pages mapped over the range once they are an older file's,
// which other processes' snapshots still share.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "pal.h"
#include "vmalloc.h"

namespace uvm {

// One word per page of the block: the program's protection, lock and
// madvise state, as the kernel keeps them per VMA.
struct vm_attrs {
  uintptr_t addr;  // the block's address when recorded (a moved block starts afresh)
  size_t pages;    // words in a[]
  size_t bytes;    // what pal::map_anon gave for this record
  uint16_t* a() { return reinterpret_cast<uint16_t*>(this + 1); }
  const uint16_t* a() const { return reinterpret_cast<const uint16_t*>(this + 1); }
};

namespace {

constexpr unsigned A_PROT = 0x7;         // PROT_READ | PROT_WRITE | PROT_EXEC, when A_PROT_SET
constexpr unsigned A_PROT_SET = 0x8;     // mprotect() made it other than read-write
constexpr unsigned A_LOCKED = 0x10;      // mlock
constexpr unsigned A_ONFAULT = 0x20;     // mlock2(MLOCK_ONFAULT)
constexpr unsigned A_DONTFORK = 0x40;    // MADV_DONTFORK
constexpr unsigned A_WIPEONFORK = 0x80;  // MADV_WIPEONFORK
constexpr unsigned A_DONTDUMP = 0x100;   // MADV_DONTDUMP
constexpr unsigned A_GONE = 0x200;       // not in this process (a DONTFORK range after fork)
constexpr unsigned A_REAPPLY = A_PROT | A_PROT_SET | A_LOCKED | A_ONFAULT | A_DONTDUMP;

}  // namespace

// The record of a live block, reset when the block moved (vrealloc maps it
// afresh at the new address) and grown with the block; null without
// `create` when there is none. Under attrs_lock_ (or the fork exclusion).
vm_attrs* Vmalloc::attrs_get(vm_struct* vm, bool create) {
  size_t pages = vm->size / pal::kPageSize;
  vm_attrs* r = vm->attrs;
  if (r != nullptr && r->addr != vm->addr) {
    memset(r->a(), 0, r->pages * sizeof(uint16_t));
    r->addr = vm->addr;
  }
  if (r != nullptr && r->pages >= pages) return r;
  if (r == nullptr && !create) return nullptr;
  size_t bytes = pal::page_align(sizeof(vm_attrs) + pages * sizeof(uint16_t));
  auto* n = static_cast<vm_attrs*>(pal::map_anon(bytes));  // zeroed
  if (n == nullptr) return r;
  n->addr = vm->addr;
  n->pages = pages;
  n->bytes = bytes;
  if (r != nullptr) {
    memcpy(n->a(), r->a(), r->pages * sizeof(uint16_t));
    pal::unmap(r, r->bytes);
  }
  vm->attrs = n;
  return n;
}

void Vmalloc::attrs_set(vm_struct* vm, uintptr_t s, uintptr_t e, unsigned clear, unsigned set) {
  vm_attrs* r = attrs_get(vm, set != 0);
  if (r == nullptr) return;
  size_t from = (s - vm->addr) / pal::kPageSize,
         to = std::min((e - vm->addr) / pal::kPageSize, r->pages);
  for (size_t i = from; i < to; ++i) r->a()[i] = static_cast<uint16_t>((r->a()[i] & ~clear) | set);
}

bool Vmalloc::attrs_any(const vm_struct* vm, uintptr_t s, uintptr_t e, unsigned bits) const {
  const vm_attrs* r = vm->attrs;
  if (r == nullptr || r->addr != vm->addr) return false;
  size_t from = (s - vm->addr) / pal::kPageSize,
         to = std::min((e - vm->addr) / pal::kPageSize, r->pages);
  for (size_t i = from; i < to; ++i)
    if (r->a()[i] & bits) return true;
  return false;
}

// Give the mapping of [s, e) the recorded protection, locks (with `locks`)
// and dump exclusion again, one call per run of equal pages.
void Vmalloc::attrs_apply(const vm_struct* vm, uintptr_t s, uintptr_t e, bool locks) const {
  const vm_attrs* r = vm->attrs;
  if (r == nullptr || r->addr != vm->addr) return;
  size_t from = (s - vm->addr) / pal::kPageSize,
         to = std::min((e - vm->addr) / pal::kPageSize, r->pages);
  for (size_t i = from; i < to;) {
    unsigned w = r->a()[i];
    size_t j = i + 1;
    while (j < to && (r->a()[j] & (A_REAPPLY | A_GONE)) == (w & (A_REAPPLY | A_GONE))) ++j;
    uintptr_t a = vm->addr + i * pal::kPageSize;
    size_t len = (j - i) * pal::kPageSize;
    if (!(w & A_GONE)) {
      if (w & A_PROT_SET) pal::protect(a, len, static_cast<int>(w & A_PROT));
      if (locks && (w & A_LOCKED)) pal::lock_range(a, len, w & A_ONFAULT ? MLOCK_ONFAULT : 0);
      if (w & A_DONTDUMP) pal::advise(a, len, MADV_DONTDUMP);
    }
    i = j;
  }
}

// free(): the record goes with the block, whose mapping unmap_now replaces
// (so no protection, lock or advice reaches the next caller).
void Vmalloc::mm_forget(vm_struct* vm) {
  std::lock_guard<std::mutex> g(attrs_lock_);
  if (vm->attrs != nullptr) pal::unmap(vm->attrs, vm->attrs->bytes);
  vm->attrs = nullptr;
}

// fork_prepare, before a block's mapping is replaced: a locked mapping
// replaced by another locked one (MCL_FUTURE) would count twice against
// RLIMIT_MEMLOCK for a moment, so unlock first.
void Vmalloc::mm_before_remap(const vm_struct* vm) const {
  if (mm_future_.load(std::memory_order_relaxed) ||
      attrs_any(vm, vm->addr, vm->addr + vm->size, A_LOCKED))
    pal::unlock_range(vm->addr, vm->size);
}

// fork_prepare, after the remap: the new MAP_PRIVATE mapping gets the
// block's protection, locks and dump exclusion back, so the parent keeps
// them across fork() (the child then inherits all but the locks, as from
// an anonymous mapping).
void Vmalloc::mm_after_remap(const vm_struct* vm) const {
  attrs_apply(vm, vm->addr, vm->addr + vm->size, true);
}

// Make [s, e) of a block read zeros, as MADV_DONTNEED does on anonymous
// memory.
int Vmalloc::mm_zero(vm_struct* vm, uintptr_t s, uintptr_t e) {
  if (current(vm->gen)) {
    // The pages are this process's alone: punch them out of the pool file
    // through the mapping (shmem's PUNCH_HOLE), which frees the memory.
    // It needs a writable mapping; a protected range is opened for it.
    int rc = pal::advise(s, e - s, MADV_REMOVE);
    if (rc == -EACCES) {
      rc = pal::protect(s, e - s, PROT_READ | PROT_WRITE);
      if (rc == 0) rc = pal::advise(s, e - s, MADV_REMOVE);
      attrs_apply(vm, s, e, false);
    }
    return rc;
  }
  // An older pool file's pages are shared with the other side of a fork:
  // never punch them. Fresh anonymous pages over the range read zeros and
  // cost nothing until touched; the block is private already, and free()
  // puts the reservation back over all of it.
  int rc = pal::map_anon_fixed(s, e - s);
  if (rc != 0) return rc;
  attrs_apply(vm, s, e, true);
  if (attrs_any(vm, s, e, A_WIPEONFORK)) pal::advise(s, e - s, MADV_WIPEONFORK);
  return 0;
}

// Call fn(vm, s, e) for each piece of [start, start + len) that is the
// mapped part of a live block; the rest (guard pages, free or lazily freed
// areas, ranges a fork took away) is unmapped memory to the program: -ENOMEM,
// after the pieces before it (mprotect, mlock: `stop_at_gap`) or after all
// of them (madvise). The first other error ends the walk.
template <typename Fn>
int Vmalloc::mm_walk(uintptr_t start, size_t len, bool stop_at_gap, Fn&& fn) {
  uintptr_t end = start + len;
  int gap = 0;
  for (uintptr_t cur = start; cur < end;) {
    uintptr_t next = end;
    vm_struct* vm = nullptr;
    if (vmap_area* va = space_.find(cur)) {
      next = std::min(end, va->va_end);
      auto* v = static_cast<vm_struct*>(va->vm);
      if (va->flags == VMAP_VMALLOC && v != nullptr && cur < v->addr + v->size) {
        vm = v;
        next = std::min(end, v->addr + v->size);
      }
    } else {
      space_.for_each_busy_from(cur, [&](const vmap_area& a) {
        if (a.va_start < next) next = a.va_start;
        return false;
      });
    }
    if (vm != nullptr && vm->attrs != nullptr && vm->attrs->addr == vm->addr) {
      // Split at the edges of ranges that a fork took away.
      const vm_attrs* r = vm->attrs;
      size_t i = (cur - vm->addr) / pal::kPageSize;
      bool gone = i < r->pages && (r->a()[i] & A_GONE);
      size_t j = i + 1;
      while (vm->addr + j * pal::kPageSize < next && j < r->pages && !(r->a()[j] & A_GONE) == !gone)
        ++j;
      if (vm->addr + j * pal::kPageSize < next) next = vm->addr + j * pal::kPageSize;
      if (gone) vm = nullptr;
    }
    if (vm == nullptr) {
      gap = -ENOMEM;
      if (stop_at_gap) return gap;
    } else {
      int rc = fn(vm, cur, next);
      if (rc != 0) return rc;
    }
    cur = next;
  }
  return gap;
}

int Vmalloc::mm_advise(uintptr_t start, size_t len, int advice) {
  std::lock_guard<std::mutex> g(attrs_lock_);
  return mm_walk(start, len, false, [&](vm_struct* vm, uintptr_t s, uintptr_t e) -> int {
    if (vm->flags & VM_USERMAP) return pal::advise(s, e - s, advice);  // shared on purpose
    switch (advice) {
      case MADV_DONTNEED:
      case MADV_FREE:
        // Refused on locked memory, as the kernel does.
        if (attrs_any(vm, s, e, A_LOCKED)) return -EINVAL;
        return mm_zero(vm, s, e);
      case MADV_DONTNEED_LOCKED:
        return mm_zero(vm, s, e);
      case MADV_REMOVE:  // anonymous memory has no file to punch
        return -EINVAL;
      case MADV_DONTFORK:
        attrs_set(vm, s, e, 0, A_DONTFORK);
        return 0;
      case MADV_DOFORK:
        attrs_set(vm, s, e, A_DONTFORK, 0);
        return 0;
      case MADV_WIPEONFORK:
        attrs_set(vm, s, e, 0, A_WIPEONFORK);
        return 0;
      case MADV_KEEPONFORK:
        attrs_set(vm, s, e, A_WIPEONFORK, 0);
        return 0;
      case MADV_DONTDUMP:
      case MADV_DODUMP: {
        int rc = pal::advise(s, e - s, advice);
        if (rc == 0)
          attrs_set(vm, s, e, advice == MADV_DODUMP ? A_DONTDUMP : 0,
                    advice == MADV_DONTDUMP ? A_DONTDUMP : 0);
        return rc;
      }
      default:  // the same on a shared mapping, or refused the same way
        return pal::advise(s, e - s, advice);
    }
  });
}

int Vmalloc::mm_protect(uintptr_t start, size_t len, int prot) {
  std::lock_guard<std::mutex> g(attrs_lock_);
  return mm_walk(start, len, true, [&](vm_struct* vm, uintptr_t s, uintptr_t e) -> int {
    int rc = pal::protect(s, e - s, prot);
    if (rc != 0 || (vm->flags & VM_USERMAP)) return rc;
    bool rw = prot == (PROT_READ | PROT_WRITE);
    attrs_set(vm, s, e, A_PROT | A_PROT_SET, rw ? 0u : A_PROT_SET | (prot & A_PROT));
    return 0;
  });
}

int Vmalloc::mm_lock(uintptr_t start, size_t len, unsigned flags, bool lock) {
  std::lock_guard<std::mutex> g(attrs_lock_);
  return mm_walk(start, len, true, [&](vm_struct* vm, uintptr_t s, uintptr_t e) -> int {
    int rc = lock ? pal::lock_range(s, e - s, flags) : pal::unlock_range(s, e - s);
    if (rc != 0 || (vm->flags & VM_USERMAP)) return rc;
    if (lock)
      attrs_set(vm, s, e, A_ONFAULT, A_LOCKED | (flags & MLOCK_ONFAULT ? A_ONFAULT : 0u));
    else
      attrs_set(vm, s, e, A_LOCKED | A_ONFAULT, 0);
    return 0;
  });
}

// mlockall(MCL_CURRENT) without CAP_IPC_LOCK: the kernel refuses it with
// ENOMEM when the whole address space, 64 GiB of reservation included, is
// over RLIMIT_MEMLOCK. Do what it does for the process without the
// reservation: the same check on the rest, then every mapping outside the
// space and every live block locked (MCL_FUTURE set on its own first).
int Vmalloc::lock_current_unprivileged(int flags) {
  // /proc/self/maps, read without malloc (we may be under the shim): a line
  // is at most ~100 bytes before the path, and at most vm.max_map_count.
  constexpr size_t kBuf = size_t{16} << 20;
  auto* buf = static_cast<char*>(pal::map_anon(kBuf));  // untouched pages cost nothing
  if (buf == nullptr) return -ENOMEM;
  pal::read_maps(buf, kBuf);
  uintptr_t lo = space_.start(), hi = space_.end();
  constexpr uintptr_t kUserTop = uintptr_t{1} << 47;  // [vsyscall] lies above
  // Two passes over the maps: the total first, then the locks.
  auto each_outside = [&](auto&& fn) {
    for (char* line = buf; *line != 0;) {
      char* end;
      uintptr_t a = strtoul(line, &end, 16);
      uintptr_t b = *end == '-' ? strtoul(end + 1, &end, 16) : a;
      if (b > kUserTop) b = a;
      // Neither the space nor this buffer (which may have merged with a
      // neighbour) is the program's.
      uintptr_t bs = reinterpret_cast<uintptr_t>(buf), be = bs + kBuf;
      auto clip_buf = [&](uintptr_t x, uintptr_t y) {
        if (x < bs) fn(x, std::min(y, bs));
        if (y > be) fn(std::max(x, be), y);
      };
      if (a < lo) clip_buf(a, std::min(b, lo));
      if (b > hi) clip_buf(std::max(a, hi), b);
      char* nl = strchr(line, '\n');
      if (nl == nullptr) break;
      line = nl + 1;
    }
  };
  size_t total = 0;
  each_outside([&](uintptr_t a, uintptr_t b) {
    if (b > a) total += b - a;
  });
  space_.for_each_busy_from(lo, [&](const vmap_area& a) {
    auto* vm = static_cast<const vm_struct*>(a.vm);
    if (a.flags == VMAP_VMALLOC && vm != nullptr) total += vm->size;
    return true;
  });
  int rc = total > pal::memlock_limit() ? -ENOMEM : 0;
  if (rc == 0 && (flags & MCL_FUTURE)) rc = pal::lock_all(flags & ~MCL_CURRENT);
  if (rc == 0) {
    unsigned lockf = flags & MCL_ONFAULT ? MLOCK_ONFAULT : 0;
    // As mlockall, a range that cannot be faulted in fails nothing; the
    // blocks are locked by the caller.
    each_outside([&](uintptr_t a, uintptr_t b) {
      if (b > a) pal::lock_range(a, b - a, lockf);
    });
  }
  pal::unmap(buf, kBuf);
  return rc;
}

// mlockall: the kernel's, then the reservation and lazily freed areas
// unlocked again (address space only, no memory a program could use: 64
// GiB of VmLck otherwise), and every live block recorded as locked. With
// MCL_FUTURE the kernel locks each new block's mapping itself; freed
// blocks then skip the lazy list (purge would put locked PROT_NONE back).
int Vmalloc::mm_lockall(int flags) {
  bool was = mm_future_.load();
  if (flags & MCL_FUTURE) {
    mm_future_ = true;
    purge();
  }
  int rc = pal::lock_all(flags);
  if (rc == -ENOMEM && (flags & MCL_CURRENT)) rc = lock_current_unprivileged(flags);
  if (rc != 0) {
    mm_future_ = was;
    return rc;
  }
  if (!(flags & MCL_FUTURE)) mm_future_ = false;  // the kernel cleared it too
  if (!(flags & MCL_CURRENT)) return 0;
  std::lock_guard<std::mutex> g(attrs_lock_);
  pal::unlock_range(space_.start(), space_.size());
  unsigned lockf = flags & MCL_ONFAULT ? MLOCK_ONFAULT : 0;
  space_.for_each_busy_from(space_.start(), [&](const vmap_area& a) {
    auto* vm = static_cast<vm_struct*>(a.vm);
    if (a.flags != VMAP_VMALLOC || vm == nullptr) return true;
    if (pal::lock_range(vm->addr, vm->size, lockf) == 0 && !(vm->flags & VM_USERMAP))
      attrs_set(vm, vm->addr, vm->addr + vm->size, A_ONFAULT, A_LOCKED | (lockf ? A_ONFAULT : 0u));
    return true;
  });
  return 0;
}

int Vmalloc::mm_unlockall() {
  int rc = pal::unlock_all();
  if (rc != 0) return rc;
  mm_future_ = false;
  std::lock_guard<std::mutex> g(attrs_lock_);
  space_.for_each_busy_from(space_.start(), [&](const vmap_area& a) {
    auto* vm = static_cast<vm_struct*>(a.vm);
    if (a.flags == VMAP_VMALLOC && vm != nullptr && vm->attrs != nullptr)
      attrs_set(vm, vm->addr, vm->addr + vm->size, A_LOCKED | A_ONFAULT, 0);
    return true;
  });
  return 0;
}

// The child's only thread, right after fork_child(): what the kernel does
// at fork for VM_DONTCOPY and VM_WIPEONFORK, and the locks the child does
// not inherit. The attributes stay recorded, as the kernel keeps them.
void Vmalloc::mm_fork_child() {
  mm_future_ = false;  // mm->def_flags are not inherited
  space_.for_each_busy_from(space_.start(), [&](const vmap_area& va) {
    auto* vm = static_cast<vm_struct*>(va.vm);
    if (va.flags != VMAP_VMALLOC || vm == nullptr || vm->attrs == nullptr ||
        vm->attrs->addr != vm->addr)
      return true;
    vm_attrs* r = vm->attrs;
    size_t pages = std::min(r->pages, vm->size / pal::kPageSize);
    for (size_t i = 0; i < pages;) {
      unsigned w = r->a()[i] & (A_DONTFORK | A_WIPEONFORK | A_GONE);
      size_t j = i + 1;
      while (j < pages && (r->a()[j] & (A_DONTFORK | A_WIPEONFORK | A_GONE)) == w) ++j;
      uintptr_t s = vm->addr + i * pal::kPageSize, e = vm->addr + j * pal::kPageSize;
      if ((w & A_DONTFORK) && !(w & A_GONE)) {
        // No hole another mmap could take: the reservation goes back over
        // it, and the range stays unmapped memory to the program.
        if (pal::map_none_fixed(reinterpret_cast<void*>(s), e - s) == 0)
          for (size_t k = i; k < j; ++k) r->a()[k] |= A_GONE;
      } else if ((w & A_WIPEONFORK) && !(w & A_GONE)) {
        // Zeros the child's own: fresh anonymous pages, which the kernel
        // can wipe itself at the child's own forks.
        if (pal::map_anon_fixed(s, e - s) == 0) {
          attrs_apply(vm, s, e, false);
          pal::advise(s, e - s, MADV_WIPEONFORK);
        }
      }
      i = j;
    }
    for (size_t k = 0; k < r->pages; ++k) r->a()[k] &= ~(A_LOCKED | A_ONFAULT);
    return true;
  });
}

}  // namespace uvm
