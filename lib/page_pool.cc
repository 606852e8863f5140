#include "page_pool.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"

namespace uvm {
namespace {

// Refill writes zeros (so that mapping the pages later only maps them), at
// most this much per operation.
constexpr size_t kRefillChunk = pal::kZeroChunk;
constexpr unsigned kRefillAfter = 8;           // cold requests before refill starts
constexpr size_t kGrowStep = size_t{1} << 30;  // file size grows in sparse 1 GiB steps

// What an io_uring operation is for, and its run in pages (31 bits each).
enum class job : uint64_t { refill = 0, punch = 1 };
uint64_t make_tag(job j, size_t off, size_t len) {
  return (static_cast<uint64_t>(j) << 62) | (uint64_t{off / pal::kPageSize} << 31) |
         (len / pal::kPageSize);
}
job tag_job(uint64_t tag) {
  return static_cast<job>(tag >> 62);
}
size_t tag_off(uint64_t tag) {
  return ((tag >> 31) & 0x7fffffff) * pal::kPageSize;
}
size_t tag_len(uint64_t tag) {
  return (tag & 0x7fffffff) * pal::kPageSize;
}

}  // namespace

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

PagePool::~PagePool() {
  {
    std::lock_guard<std::mutex> g(lock_);
    reap_locked(true);
  }
  if (!lost()) pal::close_owned(fd_, id_);
}

bool PagePool::file_ok() const {
  if (lost()) return false;
  if (pal::same_file(fd_, id_)) return true;
  lost_.store(true, std::memory_order_relaxed);
  return false;
}

int PagePool::map(void* addr, page_run run, bool populate) const {
  if (!file_ok()) return -EBADF;
  return pal::map_file_fixed(addr, run.len, fd_, run.off, populate);
}

int PagePool::map_private(void* addr, page_run run) const {
  if (!file_ok()) return -EBADF;
  int rc = pal::map_file_private_fixed(addr, run.len, fd_, run.off);
  // A core dump under the default coredump_filter skips a private file
  // mapping that has no anon_vma: one page copied here (contents kept) gives
  // it one, so the whole block is dumped, as anonymous memory is.
  if (rc == 0) pal::populate_write(addr, pal::kPageSize);
  return rc;
}

int PagePool::init(const pool_config& cfg) {
  // An io_uring tag holds an offset and a length in pages, 31 bits each.
  static_assert(kOffsetSpace / pal::kPageSize <= (uint64_t{1} << 31), "offsets outgrow make_tag()");
  cfg_ = cfg;
  warm_.set_merge_window(decay_step());  // pages freed apart in time decay apart
  fd_ = pal::page_file_create("uvmalloc");
  if (fd_ < 0) return UVM_ENOMEM;
  fd_ = pal::own_fd(fd_, &id_);
  bounded_.store(pal::file_bounded(fd_), std::memory_order_relaxed);
  if (cold_.insert_range(0, kOffsetSpace) != UVM_OK) return UVM_ENOMEM;
  if (cfg.uring) async_.init(64);  // failure just means synchronous work
  st_.async = async_.enabled();
  last_decay_ = now_ms();
  return UVM_OK;
}

void PagePool::configure(const pool_config& cfg) {
  std::lock_guard<std::mutex> g(lock_);
  bool uring = cfg_.uring;
  cfg_ = cfg;
  cfg_.uring = uring;  // fixed at init
  warm_.set_merge_window(decay_step());
  trim_locked();
  submit_locked();
}

int PagePool::ensure_size_locked(size_t end) {
  if (end <= file_size_) return UVM_OK;
  size_t want = (end + kGrowStep - 1) / kGrowStep * kGrowStep;
  if (!file_ok()) return UVM_ENOMEM;
  // RLIMIT_FSIZE may allow the exact size but not the rounded one.
  if (pal::file_set_size(fd_, want) != 0 && pal::file_set_size(fd_, want = end) != 0)
    return UVM_ENOMEM;
  file_size_ = want;
  st_.file_size = want;
  return UVM_OK;
}

void PagePool::submit_locked() {
  if (!pending_submit_) return;
  pending_submit_ = false;
  if (async_.submit() != 0) reap_locked(true);  // cannot hand it off: finish it here
}

// Punch [off, off + len): through io_uring when it takes it, else right here.
// False when the punch failed and the pages went back to warm.
bool PagePool::release_locked(size_t off, size_t len) {
  if (!file_ok()) {  // never punch what may be the program's file now
    warm_.insert_range(off, off + len, now_ms());
    return false;
  }
  if (async_.queue(fd_, pal::file_op::punch, off, len, make_tag(job::punch, off, len))) {
    st_.released += len;
    st_.in_flight += len;
    pending_submit_ = true;
    return true;
  }
  if (pal::file_punch(fd_, off, len) == 0) {
    st_.released += len;
    cold_.insert_range(off, off + len);
    refill_paused_ = false;
    return true;
  }
  // The pages still hold data, so they must not be handed out as holes.
  warm_.insert_range(off, off + len, now_ms());
  return false;
}

void PagePool::reap_locked(bool wait) {
  async_.reap(
      [this](uint64_t tag, int res) {
        size_t off = tag_off(tag), len = tag_len(tag);
        st_.in_flight -= len;
        if (tag_job(tag) == job::punch) {
          if (res == 0 || (file_ok() && pal::file_punch(fd_, off, len) == 0)) {
            cold_.insert_range(off, off + len);
            refill_paused_ = false;
          } else {  // still holds data: keep it warm
            st_.released -= len;
            warm_.insert_range(off, off + len, now_ms());
          }
        } else if (res >= 0) {  // a short write leaves holes: still correct
          st_.refilled += len;
          warm_.insert_range(off, off + len, now_ms());
        } else {
          // ENOSPC in /dev/shm and the like: the run stays a hole; stop
          // refilling until the next release makes room.
          cold_.insert_range(off, off + len);
          refill_paused_ = true;
        }
      },
      wait);
}

// Punch warm runs that were not reused within decay_ms.
void PagePool::decay_locked(uint64_t now, bool unpaced) {
  if (!unpaced && now - last_decay_ < decay_step() + 1) return;
  last_decay_ = now;
  for (vmap_area* va = warm_.first(); va != nullptr;) {
    vmap_area* next = va->next;
    if (now - va->stamp >= cfg_.decay_ms) {
      refill_want_ = 0;  // pages made ahead went unused: demand is gone
      cold_streak_ = 0;
      size_t off = va->va_start, len = va->size();
      warm_.erase(va);
      vmap_area_cache().free(va);
      release_locked(off, len);
    }
    va = next;
  }
}

// Warm bytes kept at most: a share of what is live, up to pool_max.
size_t PagePool::cap_locked() const {
  size_t live, peak;
  if (live_fn_ != nullptr) {
    live_fn_(live_ctx_, &live, &peak);
  } else {
    live = st_.in_use;
    peak = peak_.get(live, now_ms(), cfg_.decay_ms);
  }
  return live_cap(cfg_.pool_max, live, peak, cfg_) + hold_;
}

// Keep warm pages under the cap, punching from the highest offsets so the
// live part of the file stays compact.
void PagePool::trim_locked() {
  size_t cap = cap_locked();
  while (warm_.bytes() > cap) {
    vmap_area* va = warm_.last();
    size_t excess = warm_.bytes() - cap;
    size_t len = std::min(va->size(), pal::page_align(excess));
    size_t off = va->va_end - len;
    if (warm_.alloc_fixed(off, len) != UVM_OK || !release_locked(off, len)) break;
  }
}

// Allocate pages ahead of demand off the caller's path (io_uring only: done
// synchronously it would cost the caller exactly what it saves). Demand is
// what allocations had to take as holes, once kRefillAfter of them did:
// twice the last such request, up to `refill`. A program that recycles its
// pages, or makes a few buffers, never pays for zeroing pages on the other
// core (which a multi-threaded program on two cores would feel).
void PagePool::refill_locked() {
  if (!async_.enabled() || refill_want_ == 0 || refill_paused_) return;
  size_t target = std::min({refill_want_, cfg_.refill, cap_locked()});
  while (warm_.bytes() + st_.in_flight < target) {
    size_t len = std::min(kRefillChunk, target - warm_.bytes() - st_.in_flight);
    len = pal::page_align(len);
    size_t off;
    if (cold_.alloc(len, pal::kPageSize, 0, kOffsetSpace, &off) != UVM_OK) return;
    if (ensure_size_locked(off + len) != UVM_OK ||
        !async_.queue(fd_, pal::file_op::zero, off, len, make_tag(job::refill, off, len))) {
      cold_.insert_range(off, off + len);
      return;
    }
    st_.in_flight += len;
    pending_submit_ = true;
  }
}

int PagePool::alloc(size_t len, page_run* out, bool* warm) {
  std::lock_guard<std::mutex> g(lock_);
  reap_locked(false);
  return alloc_locked(len, out, warm);
}

int PagePool::alloc_locked(size_t len, page_run* out, bool* warm) {
  size_t off;
  if (warm_.alloc(len, pal::kPageSize, 0, kOffsetSpace, &off) == UVM_OK) {
    *warm = true;
    ++st_.warm_hits;
  } else if (take_cold_locked(len, &off) == UVM_OK) {
    *warm = false;
    ++st_.cold_allocs;
    // A program that keeps asking for fresh pages (not one that makes a
    // few big buffers and is done) gets them made ahead.
    if (++cold_streak_ >= kRefillAfter) refill_want_ = std::max(refill_want_, 2 * len);
  } else {
    return UVM_ENOMEM;
  }
  hand_out_locked(len);
  *out = {off, len};
  refill_locked();
  submit_locked();
  return UVM_OK;
}

unsigned PagePool::alloc_runs(size_t len, unsigned max_runs, page_run* out, unsigned* warm_mask) {
  std::lock_guard<std::mutex> g(lock_);
  hold_ = 0;
  reap_locked(false);
  *warm_mask = 0;
  bool warm;
  if (max_runs <= 1 || warm_.largest() >= len || warm_.largest() < kMinWarmRun) {
    if (alloc_locked(len, out, &warm) != UVM_OK) return 0;
    *warm_mask = warm ? 1u : 0u;
    return 1;
  }
  // Largest first; the last run is holes unless the warm pieces cover it all.
  unsigned n = 0;
  size_t left = len;
  while (left > 0 && n < max_runs) {
    size_t take = std::min(left, warm_.largest());
    if (take < kMinWarmRun && take != left) break;
    if (n + 1 == max_runs && take != left) break;  // the last run must finish it
    size_t off;
    if (take == 0 || warm_.alloc(take, pal::kPageSize, 0, kOffsetSpace, &off) != UVM_OK) break;
    *warm_mask |= 1u << n;
    out[n++] = {off, take};
    left -= take;
  }
  if (left != 0) {
    size_t off;
    if (take_cold_locked(left, &off) != UVM_OK) {
      uint64_t now = now_ms();
      for (unsigned i = 0; i < n; ++i) warm_.insert_range(out[i].off, out[i].off + out[i].len, now);
      *warm_mask = 0;
      return 0;
    }
    out[n++] = {off, left};
    ++st_.cold_allocs;
  } else {
    ++st_.warm_hits;
  }
  hand_out_locked(len);
  return n;
}

size_t PagePool::warm_shortfall(size_t len, bool hold) {
  std::lock_guard<std::mutex> g(lock_);
  size_t warm = warm_.bytes();
  if (warm >= len) return 0;
  if (hold) hold_ = len;
  return len - warm;
}

int PagePool::take_cold_locked(size_t len, size_t* off) {
  if (cold_.alloc(len, pal::kPageSize, 0, kOffsetSpace, off) != UVM_OK) return UVM_ENOMEM;
  if (ensure_size_locked(*off + len) != UVM_OK) {
    cold_.insert_range(*off, *off + len);
    return UVM_ENOMEM;
  }
  return UVM_OK;
}

int PagePool::alloc_at(size_t off, size_t len, bool* warm, bool cold_only) {
  std::lock_guard<std::mutex> g(lock_);
  if (off + len > kOffsetSpace || len == 0) return UVM_ENOSPC;
  if (!cold_only && warm_.alloc_fixed(off, len) == UVM_OK) {
    *warm = true;
  } else if (cold_.alloc_fixed(off, len) == UVM_OK) {
    if (ensure_size_locked(off + len) != UVM_OK) {
      cold_.insert_range(off, off + len);
      return UVM_ENOMEM;
    }
    *warm = false;
  } else {
    return UVM_ENOSPC;
  }
  hand_out_locked(len);
  return UVM_OK;
}

int PagePool::alloc_cold(size_t len, page_run* out) {
  std::lock_guard<std::mutex> g(lock_);
  size_t off;
  if (take_cold_locked(len, &off) != UVM_OK) return UVM_ENOMEM;
  hand_out_locked(len);
  ++st_.cold_allocs;
  *out = {off, len};
  return UVM_OK;
}

void PagePool::free_cold(page_run run) {
  if (run.len == 0) return;
  std::lock_guard<std::mutex> g(lock_);
  st_.in_use -= run.len;
  cold_.insert_range(run.off, run.off + run.len);
}

void PagePool::free(page_run run, uint64_t unused_since_ms) {
  std::lock_guard<std::mutex> g(lock_);
  reap_locked(false);
  st_.in_use -= run.len;
  uint64_t now = now_ms();
  uint64_t stamp = unused_since_ms != 0 && unused_since_ms < now ? unused_since_ms : now;
  warm_.insert_range(run.off, run.off + run.len, stamp);
  trim_locked();
  decay_locked(now);
  submit_locked();
}

void PagePool::tick(bool unpaced) {
  std::lock_guard<std::mutex> g(lock_);
  reap_locked(false);
  trim_locked();  // what is live may have shrunk since the last free
  decay_locked(now_ms(), unpaced);
  submit_locked();
}

void PagePool::release_all() {
  std::lock_guard<std::mutex> g(lock_);
  reap_locked(true);
  while (vmap_area* va = warm_.first()) {
    size_t off = va->va_start, len = va->size();
    warm_.erase(va);
    vmap_area_cache().free(va);
    release_locked(off, len);
  }
  submit_locked();
  reap_locked(true);
}

void PagePool::lock_all() {
  lock_.lock();
  reap_locked(true);
}

int PagePool::switch_file(bool child, bool lost, int* old) {
  int fd = pal::page_file_create("uvmalloc");
  if (fd < 0) return UVM_ENOMEM;  // keep the old file: correctness does not depend on it
  *old = lost ? -1 : fd_;
  if (lost) {
    // The ring's descriptor may be gone too, and closing its number could
    // close the program's file: drop the ring without closing anything and
    // go on synchronously. Whatever it had queued was checked when queued.
    async_.abandon();
    st_.async = false;
  } else if (child) {
    async_.reinit_in_child(64);
    st_.async = async_.enabled();
  } else if (file_ok()) {
    // Free offsets of the old file are mapped by nobody (the child switches
    // too): give their pages back.
    for (vmap_area* va = warm_.first(); va != nullptr; va = va->next)
      pal::file_punch(fd_, va->va_start, va->size());
  }
  while (vmap_area* va = warm_.first()) {
    warm_.erase(va);
    vmap_area_cache().free(va);
  }
  while (vmap_area* va = cold_.first()) {
    cold_.erase(va);
    vmap_area_cache().free(va);
  }
  cold_.insert_range(0, kOffsetSpace);
  fd_ = pal::own_fd(fd, &id_);
  bounded_.store(pal::file_bounded(fd_), std::memory_order_relaxed);
  lost_.store(false, std::memory_order_relaxed);
  file_size_ = 0;
  st_.file_size = 0;
  st_.in_use = 0;
  st_.in_flight = 0;
  pending_submit_ = false;
  return UVM_OK;
}

pool_stats PagePool::stats() const {
  std::lock_guard<std::mutex> g(lock_);
  pool_stats s = st_;
  s.pooled = warm_.bytes();
  s.pool_cap = cap_locked();
  return s;
}

size_t PagePool::file_allocated() const {
  return file_ok() ? pal::file_allocated(fd_) : 0;
}

std::string PagePool::check() const {
  std::lock_guard<std::mutex> g(lock_);
  std::string why = warm_.check(0, kOffsetSpace);
  if (!why.empty()) return "warm: " + why;
  why = cold_.check(0, kOffsetSpace);
  if (!why.empty()) return "cold: " + why;
  // Warm and cold never overlap, and with in-use and in-flight bytes they
  // account for the whole offset space.
  const vmap_area* w = warm_.first();
  const vmap_area* c = cold_.first();
  while (w != nullptr && c != nullptr) {
    if (w->va_start < c->va_end && c->va_start < w->va_end) return "warm and cold overlap";
    if (w->va_end <= c->va_end)
      w = w->next;
    else
      c = c->next;
  }
  if (warm_.bytes() + cold_.bytes() + st_.in_use + st_.in_flight != kOffsetSpace)
    return "offsets are lost or counted twice";
  return {};
}

}  // namespace uvm
