// page_pool: uvmalloc's physical pages. A page is a page-sized offset in one
// memfd; a request gets one contiguous run of offsets, so it maps as a single
// VMA. Free offsets are kept in two free trees:
//  - warm: the pages exist in the memfd (freed by a caller, or allocated
//    ahead of demand); mapping them again with MAP_POPULATE is cheap;
//  - cold: holes (never used, or punched); they cost a fresh fault on touch
//    and read as zeros.
// Offsets in flight through io_uring (being punched or pre-allocated) are in
// neither tree until their completion is reaped.
//
// Freed pages stay warm up to what live is below its recent peak (live_cap():
// at most `live_share` percent of live, at least `live_floor`, at most
// `pool_max`) and for `decay_ms`; beyond that
// they are punched out of the memfd (fallocate PUNCH_HOLE), which is what
// hands shmem back to the kernel.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "free_tree.h"
#include "live_peak.h"
#include "pal.h"
#include "pal_uring.h"

namespace uvm {

struct page_run {
  size_t off;  // byte offset in the memfd, page aligned
  size_t len;  // bytes, page multiple
};

struct pool_config {
  size_t pool_max = size_t{256} << 20;  // warm free bytes kept, at most
  // Caches (warm pool pages, and vmalloc's lazy areas) are sized by what is
  // live (live_cap()): each may hold what the live bytes are below their
  // recent peak (live_peak.h), but no more than live_share percent of them,
  // at least live_floor, and at most its own setting (pool_max, lazy). A
  // churn then finds what it freed in a dip when it climbs back, and at the
  // peak, when the footprint is highest, only the floor is kept. Sized as a
  // plain share of live instead, churn_large (full) kept 140 MiB over
  // glibc's peak at 100 percent, and at 25 took 3x as long (pages punched
  // in the dips and faulted in again on the climbs).
  unsigned live_share = 100;
  // 64 MiB each: what stays however little is live, and at the peak. A
  // churn of blocks of mixed sizes needs a stock of each size to reuse,
  // whatever is live: 16 live blocks of 128 KiB..2 MiB made 0.2 M
  // allocations a second with 16 MiB (reuses missed, pages punched and
  // faulted in again), 0.8 M with 32 MiB, 1.4 M with 64 MiB; churn_large
  // (full) peaks at 1.07x glibc's footprint with it, 1.02x with 32 MiB.
  // What stays cached goes back on time (decay_ms, purge_worker.h), so an
  // idle process keeps none of it.
  size_t live_floor = size_t{64} << 20;
  // Warm pages and lazy areas unused for this long are released, also while
  // the program makes no call (purge_worker.h).
  uint64_t decay_ms = 1000;
  size_t refill = size_t{64} << 20;  // most warm bytes kept ready ahead of demand
  // io_uring for release and refill. Off by default: its io-wq
  // worker is a thread of the process that stays for good once it ran,
  // which programs see (/proc/self/task, unshare(CLONE_NEWUSER), Python's
  // fork warning).
  bool uring = false;
};

// What a cache whose setting is `limit` may hold while `live` bytes are live
// and `peak` were lately (live_peak.h).
inline size_t live_cap(size_t limit, size_t live, size_t peak, const pool_config& cfg) {
  size_t share = live / 100 * cfg.live_share + live % 100 * cfg.live_share / 100;
  size_t dip = peak > live ? peak - live : 0;
  size_t cap = dip < share ? dip : share;
  if (cap < cfg.live_floor) cap = cfg.live_floor;
  return cap < limit ? cap : limit;
}

struct pool_stats {
  size_t in_use;       // bytes handed out
  size_t pooled;       // warm free bytes
  size_t pool_cap;     // warm free bytes kept at most now (live_cap of pool_max)
  size_t in_flight;    // bytes being punched or pre-allocated
  size_t released;     // bytes punched since start
  size_t refilled;     // bytes pre-allocated since start
  size_t warm_hits;    // requests served from warm pages
  size_t cold_allocs;  // requests served from holes
  size_t file_size;    // the memfd's size
  bool async;          // io_uring in use
};

class PagePool {
 public:
  PagePool() = default;
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;
  ~PagePool();

  // Create the memfd and, if asked and possible, the io_uring. Returns
  // UVM_OK or UVM_ENOMEM (no memfd and no /dev/shm file).
  int init(const pool_config& cfg);
  void configure(const pool_config& cfg);
  // Where the pool learns the live bytes its warm pages are sized by, and
  // their recent peak: `fn` (called under the pool's lock, so it must take
  // no lock of its caller's that is held while calling into the pool) or,
  // by default, the bytes handed out and their own peak. Set before the pool
  // is shared between threads.
  using live_fn = void (*)(const void* ctx, size_t* live, size_t* peak);
  void set_live_source(live_fn fn, const void* ctx) {
    live_fn_ = fn;
    live_ctx_ = ctx;
  }

  // One contiguous run of `len` bytes (page multiple). *warm tells whether its
  // pages already exist (otherwise they are holes that read as zeros).
  int alloc(size_t len, page_run* out, bool* warm);
  // Like alloc(), but when no single warm run is long enough, up to
  // `max_runs` runs: warm pieces, largest first (none under kMinWarmRun),
  // and holes for the rest as the last run. Mapping pages that exist beats
  // faulting holes in, at the cost of a VMA per extra run. Returns how many
  // runs were written to `out` (0 on failure: UVM_ENOMEM); bit i of
  // *warm_mask is set when run i is warm.
  unsigned alloc_runs(size_t len, unsigned max_runs, page_run* out, unsigned* warm_mask);
  // How many more warm bytes alloc_runs() would need to serve `len` from
  // warm pages (0 when it has them). With `hold`, the cap is `len` higher
  // until the next alloc_runs(), so that pages freed for it to take are not
  // released first.
  size_t warm_shortfall(size_t len, bool hold);
  // Take exactly [off, off + len) if it is all warm or all cold (to extend a
  // run in place, so its mapping stays one VMA).
  int alloc_at(size_t off, size_t len, bool* warm, bool cold_only = false);
  // Holes only: offsets reserved for growth cost nothing until touched.
  int alloc_cold(size_t len, page_run* out);
  // Give pages back; they stay warm until decay or the pool limit punch them.
  // `unused_since_ms` (now_ms's clock, CLOCK_MONOTONIC_COARSE), when not 0:
  // since when the pages went unused (a lazy area's free), for the decay.
  void free(page_run run, uint64_t unused_since_ms = 0);
  // Give back offsets that were never mapped: they are still holes.
  void free_cold(page_run run);
  // Release every warm page now (and wait for punches in flight).
  void release_all();
  // Reap finished io_uring work, trim to the cap and run decay; cheap when
  // there is nothing. Decay runs at most once per decay_step(), unless
  // `unpaced` (a round of the purge worker, which paces itself).
  void tick(bool unpaced = false);

  // fork(): lock_all() before (waits for io_uring work in flight), then in
  // both processes switch_file(): a new memfd, all offsets free again. The
  // old memfd is handed back; its pages now belong to the areas that map
  // them (copy-on-write) and are never reused. In the parent the old file's
  // free warm pages are punched; the child makes its own io_uring.
  //
  // With `lost` (the descriptor was found closed or replaced) nothing of the
  // old one is touched, since it may be the program's file now, and *old
  // gets -1. UVM_OK, or UVM_ENOMEM with nothing changed when no new file can
  // be made.
  void lock_all();
  int switch_file(bool child, bool lost, int* old);
  void unlock_all() { lock_.unlock(); }

  // Map a run of the pool file at `addr` (MAP_SHARED|MAP_FIXED, prefaulted
  // with `populate`), or copy-on-write (fork). Each first checks that the
  // descriptor still names the pool file: the program may have closed it or
  // put a file of its own under its number. 0 or -errno (-EBADF then, and
  // lost() is true until the caller switches to a new file).
  int map(void* addr, page_run run, bool populate) const;
  int map_private(void* addr, page_run run) const;
  // The pool file has a size limit (the /dev/shm fallback): a hole mapped
  // and touched may fail with SIGBUS, so growth faults its pages in first.
  bool bounded() const { return bounded_.load(std::memory_order_relaxed); }
  // The pool file's descriptor was closed or replaced under us.
  bool lost() const { return lost_.load(std::memory_order_relaxed); }
  // For tests only: the library maps through map() and map_private().
  int fd() const { return fd_; }
  // The pool file's identity, for closing an old descriptor safely.
  pal::file_id id() const { return id_; }
  pool_stats stats() const;
  // Bytes the memfd really holds (fstat st_blocks).
  size_t file_allocated() const;
  std::string check() const;

 private:
  static constexpr size_t kOffsetSpace = size_t{1} << 43;  // sparse: costs nothing
  // Smallest warm piece worth a VMA and an mmap of its own in alloc_runs():
  // 16 pages it saves faulting in cost more than the call.
  static constexpr size_t kMinWarmRun = size_t{64} << 10;

  void reap_locked(bool wait);
  // The decay clock's grain: decay runs at most once per step, and warm
  // neighbours freed within a step of each other merge.
  uint64_t decay_step() const { return cfg_.decay_ms / 8; }
  void decay_locked(uint64_t now, bool unpaced = false);
  void trim_locked();
  size_t cap_locked() const;
  void refill_locked();
  bool release_locked(size_t off, size_t len);
  int ensure_size_locked(size_t end);
  int alloc_locked(size_t len, page_run* out, bool* warm);
  // Count `len` more bytes handed out (and their peak, for the cap).
  void hand_out_locked(size_t len) {
    st_.in_use += len;
    peak_.raise(st_.in_use);
  }
  int take_cold_locked(size_t len, size_t* off);
  void submit_locked();
  // The descriptor still names the pool file; else mark it lost.
  bool file_ok() const;

  mutable std::mutex lock_;
  pool_config cfg_;
  int fd_ = -1;
  pal::file_id id_;
  mutable std::atomic<bool> lost_{false};
  std::atomic<bool> bounded_{false};
  size_t file_size_ = 0;
  FreeAreaTree warm_;
  FreeAreaTree cold_;
  pal::AsyncFile async_;
  bool pending_submit_ = false;
  bool refill_paused_ = false;  // a refill failed; resume after a release
  size_t refill_want_ = 0;      // warm bytes to keep ready (refill_locked)
  unsigned cold_streak_ = 0;    // requests that took holes since demand was last reset
  uint64_t last_decay_ = 0;
  pool_stats st_{};
  // Fixed before use (set_live_source); read under lock_ by cap_locked().
  live_fn live_fn_ = nullptr;
  const void* live_ctx_ = nullptr;
  mutable LivePeak peak_;  // of in_use, without a live source
  size_t hold_ = 0;        // warm_shortfall(): on top of the cap until alloc_runs()
};

// Monotonic milliseconds (coarse clock: cheap enough for every pool call).
uint64_t now_ms();

}  // namespace uvm
