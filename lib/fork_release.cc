// Giving back an old pool file's pages once the other side of a fork is gone.
//
// After fork() both processes read the pages of the file they left behind
// through copy-on-write mappings; a page either rewrote is a private
// anonymous copy in that process, and a block either freed no longer reads
// the file there at all. Neither may punch a page while the other could
// still read it, and neither can see the other's mappings. So each process
// holds an OFD read lock on each such file (pal::file_hold, made for both
// sides before the fork): once no lock but its own is left, every other
// process that mapped the file has exited or exec'd, and the file's pages
// that none of its own blocks read any more can go.
//
// What a block still reads is found in /proc/self/pagemap: every page of
// it that is not a private copy. A file with page handles or lazily freed
// areas still on it is left alone (its references are not all blocks).
//
// Locks: the caller holds the fork barrier's writer side (no operation
// runs, so no block changes its runs or is freed); gen_lock_ guards
// old_files_.
#include <sys/stat.h>

#include <algorithm>
#include <bit>

#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

// One bit per page of a file: pages some block still reads.
class page_bitmap {
 public:
  explicit page_bitmap(size_t pages) : pages_(pages), bytes_(std::max<size_t>(pages / 8 + 8, 8)) {
    bits_ = static_cast<uint64_t*>(pal::map_anon(bytes_));
  }
  ~page_bitmap() {
    if (bits_ != nullptr) pal::unmap(bits_, bytes_);
  }
  page_bitmap(const page_bitmap&) = delete;
  page_bitmap& operator=(const page_bitmap&) = delete;
  bool ok() const { return bits_ != nullptr; }
  size_t pages() const { return pages_; }
  void set(size_t from, size_t to) {
    for (size_t i = from; i < std::min(to, pages_); ++i) bits_[i / 64] |= uint64_t{1} << (i % 64);
  }
  // The first page at or after `i` whose bit is `v`, or pages().
  size_t next(size_t i, bool v) const {
    while (i < pages_) {
      uint64_t w = v ? bits_[i / 64] : ~bits_[i / 64];
      w &= ~uint64_t{0} << (i % 64);
      if (w != 0) return std::min(pages_, i / 64 * 64 + static_cast<size_t>(std::countr_zero(w)));
      i = (i / 64 + 1) * 64;
    }
    return pages_;
  }

 private:
  size_t pages_;
  size_t bytes_;
  uint64_t* bits_ = nullptr;
};

// A block's runs, and the needed-page bitmap for_each_file_backed fills.
struct block_pieces {
  const vm_struct* vm;
  page_bitmap* needed;
};

// Mark the file pages behind bytes [from, to) of the block.
void mark_needed(void* ctx, size_t from, size_t to) {
  auto* b = static_cast<block_pieces*>(ctx);
  size_t pos = 0;
  for (unsigned i = 0; i < b->vm->nr_runs && pos < to; pos += b->vm->runs[i++].len) {
    const page_run& r = b->vm->runs[i];
    size_t s = std::max(from, pos), e = std::min(to, pos + r.len);
    if (s < e)
      b->needed->set((r.off + s - pos) / pal::kPageSize, (r.off + e - pos) / pal::kPageSize);
  }
}

}  // namespace

uint64_t Vmalloc::old_file_pace_ns(const old_file& f) const {
  // Each look stops every thread for a pagemap walk of the file's blocks:
  // looks that found nothing to give back come ever more seldom.
  uint64_t base = std::max<uint64_t>(1000, 2 * config().pool.decay_ms) * 1000000;
  return base << std::min(f.fruitless, 4u);
}

// A releasable file (held, not shared) not looked at for its pace (any
// time with `now`), at time t.
bool Vmalloc::old_file_due(const old_file& f, uint64_t t, bool now) const {
  return f.refs > 0 && f.token.fd >= 0 && !f.shared &&
         (now || t - f.scanned_ns >= old_file_pace_ns(f));
}

// A file is due when it was not scanned for a while and is ours alone now;
// finding that out costs two system calls, made outside gen_lock_.
bool Vmalloc::old_files_due(bool now) const {
  uint64_t t = pal::coarse_ns();
  pal::file_token due[kMaxOldFiles];
  int n = 0;
  {
    std::lock_guard<std::mutex> g(gen_lock_);
    for (const old_file& f : old_files_)
      if (old_file_due(f, t, now)) due[n++] = f.token;
  }
  for (int i = 0; i < n; ++i)
    if (!pal::file_held_elsewhere(due[i])) return true;
  return false;
}

void Vmalloc::keep_old_files() {
  std::lock_guard<std::mutex> g(gen_lock_);
  for (old_file& f : old_files_)
    if (f.refs > 0) f.shared = true;
}

size_t Vmalloc::release_old_files(bool now) {
  uint64_t t = pal::coarse_ns();
  size_t freed = 0;
  for (int i = 0; i < kMaxOldFiles; ++i) {
    old_file f;
    {
      std::lock_guard<std::mutex> g(gen_lock_);
      f = old_files_[i];
    }
    if (!old_file_due(f, t, now)) continue;
    if (!pal::same_file(f.fd, f.id) || pal::file_held_elsewhere(f.token)) continue;
    size_t got = release_old_file(f);
    freed += got;
    std::lock_guard<std::mutex> g(gen_lock_);
    old_files_[i].scanned_ns = t;
    old_files_[i].fruitless = got != 0 ? 0 : old_files_[i].fruitless + 1;
  }
  return freed;
}

// Every VMAP_VMALLOC block of the file's generation, or none when something
// else (a page handle, a lazily freed area) still has pages in it too.
template <typename Fn>
bool Vmalloc::for_each_old_block(const old_file& f, Fn fn) {
  long blocks = 0;
  auto mine = [&](const vmap_area& a) {
    auto* vm = static_cast<const vm_struct*>(a.vm);
    return a.flags == VMAP_VMALLOC && vm != nullptr && !(vm->flags & VM_USERMAP) &&
           vm->gen == f.gen;
  };
  space_.lock_all();
  space_.for_each_busy_locked([&](const vmap_area& a) { blocks += mine(a) ? 1 : 0; });
  bool all = blocks == f.refs;
  if (all)
    space_.for_each_busy_locked([&](const vmap_area& a) {
      if (mine(a)) fn(static_cast<const vm_struct*>(a.vm));
    });
  space_.unlock_all();
  return all;
}

size_t Vmalloc::release_old_file(const old_file& f) {
  struct stat st;
  if (fstat(f.fd, &st) != 0) return 0;
  page_bitmap needed(static_cast<size_t>(st.st_size) / pal::kPageSize);
  if (!needed.ok()) return 0;
  bool known = true;
  bool all = for_each_old_block(f, [&](const vm_struct* vm) {
    block_pieces b = {vm, &needed};
    size_t len = 0;
    for (unsigned i = 0; i < vm->nr_runs; ++i) len += vm->runs[i].len;
    if (pal::for_each_file_backed(vm->addr, len, mark_needed, &b) != 0) known = false;
  });
  if (!all || !known) return 0;
  size_t before = pal::file_allocated(f.fd);
  for (size_t i = needed.next(0, false); i < needed.pages();) {
    size_t j = needed.next(i, true);
    pal::file_punch(f.fd, i * pal::kPageSize, (j - i) * pal::kPageSize);
    i = needed.next(j, false);
  }
  size_t after = pal::file_allocated(f.fd);
  return before > after ? before - after : 0;
}

}  // namespace uvm
