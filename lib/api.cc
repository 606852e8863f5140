// The public C API: one process-wide Vmalloc, created on first use with the
// settings of uvm_configure() calls and then UVMALLOC_CONF.
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>

#include "api_internal.h"
#include "caller.h"
#include "fork_barrier.h"
#include "pal.h"
#include "purge_worker.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"

namespace uvm {
namespace {

alignas(Vmalloc) unsigned char g_storage[sizeof(Vmalloc)];
std::atomic<Vmalloc*> g_vm{nullptr};
std::atomic<bool> g_failed{false};
std::mutex g_init_lock;
vm_config g_cfg;  // settings before init
// Held by every operation, exclusively across fork() (fork_barrier.h).
ForkBarrier g_fork_barrier;
// Gives cached memory back on time while the program makes no call.
PurgeWorker g_purge_worker;

// Reads 1 in this process and 0 in any child made by fork, with or without
// fork handlers (MADV_WIPEONFORK): how a child of _Fork(), a raw fork
// syscall or clone() finds out, with one load per call. Null where the
// kernel lacks WIPEONFORK (before 4.14).
volatile unsigned char* g_sentinel = nullptr;
// Set from the prepare handler to the parent's or child's: allocations made
// by other fork handlers in between are not a fork without handlers.
bool g_forking = false;

// Pool files left by fork() that only this process maps any more
// (fork_release.cc), with every operation held off.
size_t release_old_files(Vmalloc* vm, bool now) {
  g_fork_barrier.lock();
  size_t freed = vm->release_old_files(now);
  g_fork_barrier.unlock();
  return freed;
}

// uvm_purge() and uvm_trim(): every cache, then the files forks left.
size_t trim(bool count) {
  Vmalloc* vm = instance_mended();
  if (vm == nullptr) return 0;
  size_t before = 0;
  bool old_due;
  {
    fork_guard g;
    if (count) before = vm->memfd_bytes();
    vm->purge_all();
    old_due = vm->old_files_due(true);
  }
  if (old_due) release_old_files(vm, true);
  if (!count) return 0;
  fork_guard g;
  size_t after = vm->memfd_bytes();
  return before > after ? before - after : 0;
}

// The purge worker's round (purge_worker.h), run as an operation.
bool purge_due() {
  Vmalloc* vm = g_vm.load(std::memory_order_acquire);
  if (vm == nullptr) return false;
  bool more;
  {
    fork_guard g;
    more = vm->decay();
    if (!vm->old_files_due(false)) return more;
  }
  release_old_files(vm, false);
  return more;
}

void arm_sentinel() {
  if (g_sentinel == nullptr) g_sentinel = static_cast<unsigned char*>(pal::map_wipe_on_fork());
  if (g_sentinel != nullptr) *g_sentinel = 1;
}

}  // namespace

void fork_prepare() {
  g_fork_barrier.lock();
  g_init_lock.lock();
  g_forking = true;
  if (Vmalloc* vm = g_vm.load()) vm->fork_prepare();
}

void fork_parent() {
  if (Vmalloc* vm = g_vm.load()) vm->fork_parent();
  g_forking = false;
  g_init_lock.unlock();
  g_fork_barrier.unlock();
}

void fork_child() {
  if (Vmalloc* vm = g_vm.load()) vm->fork_child();
  g_purge_worker.fork_child();
  segv_fork_child();
  arm_sentinel();
  g_forking = false;
  g_init_lock.unlock();
  g_fork_barrier.reset_in_child();
}

namespace {

// What happened behind uvmalloc's back, mended before the next operation:
//  - this is a child made without fork handlers. Its blocks still map the
//    parent's pool file MAP_SHARED. They are remapped copy-on-write (so the
//    child's writes never reach the parent) and the child goes on with a
//    pool file of its own. What cannot be had this late: the parent's writes
//    since the fork stay visible in the child until it writes the page too.
//    Locks other parent threads held at the fork stay held, as for every
//    allocator (only async-signal-safe calls are allowed after _Fork).
//  - the program closed or replaced the pool file's descriptor.
void mend(Vmalloc* vm) {
  bool forked = g_sentinel != nullptr && *g_sentinel == 0 && !g_forking;
  if (__builtin_expect(!forked && !vm->pool_lost(), 1)) return;
  if (forked) {
    static const char msg[] =
        "uvmalloc: in a child made without fork handlers (_Fork, clone, a raw fork system call): "
        "its blocks from before the fork are made copy-on-write only now\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
      // stderr is gone: nothing more to say
    }
    g_fork_barrier.reset_in_child();
    fork_prepare();
    fork_child();
    // The parent made no lock for this fork and still uses the file this
    // child just left: nothing this child left behind may ever be released.
    vm->keep_old_files();
    return;
  }
  g_fork_barrier.lock();
  if (vm->pool_lost()) vm->replace_lost_file();
  g_fork_barrier.unlock();
}

void warn(const char* msg) {
  // stderr directly: stdio may allocate, and we may be under a malloc shim.
  size_t len = strlen(msg);
  if (write(2, msg, len) < 0 || write(2, "\n", 1) < 0) return;
}

bool g_env_read = false;  // UVMALLOC_CONF applied to g_cfg
// The largest request the kernel would let anonymous memory commit (read at
// init): memfd pages are charged only when touched, so without this check a
// request glibc's mmap is refused succeeds and fails later, at a fault.
size_t g_max_request = SIZE_MAX;

// The settings in force: uvm_configure() calls, then UVMALLOC_CONF (read
// once, so its warnings are printed once).
const vm_config& settings_locked() {
  if (!g_env_read) {
    g_env_read = true;
    if (const char* env = secure_getenv("UVMALLOC_CONF")) parse_config(env, &g_cfg, warn);
  }
  return g_cfg;
}

// The report at exit goes to a copy of fd 2 taken at start: programs such as
// coreutils and xz fclose(stderr) in their own exit code, before ours runs.
int g_report_fd = -1;
bool g_report_stats = false;  // the whole report, else the footprint line
pal::file_id g_report_id;

void print_at_exit() {
  // The program may have closed the copy and reused its number: then
  // stderr itself, if it is still the file it was.
  int fd = g_report_fd;
  if (fd >= 0 && !pal::same_file(fd, g_report_id))
    fd = pal::same_file(2, g_report_id) ? pal::dup_fd(2) : -1;
  FILE* out = fd >= 0 ? fdopen(fd, "w") : nullptr;
  if (out == nullptr) return;
  if (g_report_stats) {
    uvm_stats_print(out);
    uvm_vmalloc_info(out);
  } else {
    struct uvm_stats s;
    uvm_stats(&s);
    auto mib = [](size_t b) { return static_cast<double>(b) / (1 << 20); };
    fprintf(out, "uvmalloc: footprint %.1f MiB (RssAnon %.1f + RssFile %.1f + memfd %.1f MiB)\n",
            mib(s.footprint), mib(s.rss_anon), mib(s.rss_file), mib(s.memfd));
  }
  fclose(out);
}

}  // namespace

Vmalloc* instance() {
  Vmalloc* vm = g_vm.load(std::memory_order_acquire);
  if (vm != nullptr) {
    mend(vm);
    return vm;
  }
  if (g_failed.load(std::memory_order_relaxed)) return vm;
  std::lock_guard<std::mutex> g(g_init_lock);
  vm = g_vm.load(std::memory_order_relaxed);
  if (vm != nullptr || g_failed) return vm;
  vm_config cfg = settings_locked();
  pal::memory_limits lim = pal::read_memory_limits();
  fit_reserve_to_limit(&cfg, lim.address_space);
  g_max_request = lim.one_mapping;
  vm = new (g_storage) Vmalloc;
  if (vm->init(cfg) != UVM_OK) {
    warn(
        "uvmalloc: cannot reserve the vmalloc space or create the page memfd; "
        "uvm_vmalloc will fail with ENOMEM");
    g_failed = true;
    return nullptr;  // the object is left as is: never used, never destroyed
  }
  if (cfg.stats_at_exit || cfg.footprint_at_exit) {
    g_report_stats = cfg.stats_at_exit;
    int fd = pal::dup_fd(2);
    if (fd >= 0) g_report_fd = pal::own_fd(fd, &g_report_id);
    atexit(print_at_exit);
  }
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  // Eight rounds per decay period: what went unused goes back within 1.125
  // periods of its last use (and the pool's decay runs as often).
  if (cfg.purge_thread)
    g_purge_worker.init(purge_due, std::max<uint64_t>(cfg.pool.decay_ms / 8, 10));
  arm_sentinel();
  if (cfg.segv_report) install_segv_handler();
  g_vm.store(vm, std::memory_order_release);
  return vm;
}

fork_guard::fork_guard() : slot_(g_fork_barrier.enter()) {}
fork_guard::~fork_guard() {
  g_fork_barrier.leave(slot_);
}

int status_errno(int status) {
  return status == UVM_EINVAL ? EINVAL : ENOMEM;
}

size_t large_threshold() {
  if (Vmalloc* vm = instance_if_ready()) return vm->config().threshold;
  std::lock_guard<std::mutex> g(g_init_lock);
  return settings_locked().threshold;
}

Vmalloc* instance_if_ready() {
  return g_vm.load(std::memory_order_acquire);
}

Vmalloc* instance_mended() {
  Vmalloc* vm = g_vm.load(std::memory_order_acquire);
  if (vm != nullptr) mend(vm);
  return vm;
}

void* alloc(size_t size, size_t align, unsigned flags, const void* caller) {
  Vmalloc* vm = instance();
  if (vm == nullptr || size > g_max_request) {
    errno = ENOMEM;
    return nullptr;
  }
  int status;
  void* p;
  {
    fork_guard g;
    p = vm->alloc(size, align, flags, caller, &status);
  }
  if (p == nullptr) errno = status_errno(status);
  return p;
}

void* realloc(void* p, size_t size, const void* caller, const char* call) {
  Vmalloc* vm = p == nullptr ? instance() : instance_mended();
  if (vm == nullptr) {
    if (p != nullptr) report_bad_pointer(call, p, UVM_EFOREIGN);
    errno = ENOMEM;
    return nullptr;
  }
  if (size > g_max_request) {  // p is left as it is
    errno = ENOMEM;
    return nullptr;
  }
  int status;
  void* q;
  {
    fork_guard g;
    q = vm->realloc(p, size, caller, &status);
  }
  g_purge_worker.kick();
  if (status == UVM_ENOTALLOC || status == UVM_EINTERIOR || status == UVM_EFOREIGN ||
      status == UVM_EWRONGKIND) {
    report_bad_pointer(call, p, status);
    errno = EINVAL;
    return nullptr;
  }
  if (q == nullptr && status != UVM_OK) errno = status_errno(status);
  return q;
}

void free(void* p, const char* call) {
  int rc = uvm_vfree_status(p);
  if (rc != UVM_OK) report_bad_pointer(call, p, rc);
}

void report_bad_pointer(const char* call, const void* p, int status) {
  char line[512];
  char caller[256];
  uvm_area area;
  int rc = uvm_find_vm_area(p, &area);
  if (rc == UVM_EINTERIOR) {
    format_caller(area.caller, caller, sizeof caller);
    snprintf(line, sizeof line,
             "uvmalloc: %s(%p): pointer into the middle of an allocation: %zu bytes into "
             "the area %p-%p (size %zu) allocated at %s",
             call, p,
             static_cast<size_t>(static_cast<const char*>(p) - static_cast<char*>(area.addr)),
             area.addr, static_cast<void*>(static_cast<char*>(area.addr) + area.size), area.size,
             caller);
  } else {
    snprintf(line, sizeof line, "uvmalloc: %s(%p): %s", call, p, uvm_strerror(status));
  }
  warn(line);
  Vmalloc* vm = instance_if_ready();
  if (vm == nullptr || vm->config().abort_on_bad_free) abort();
}

}  // namespace uvm

using uvm::alloc;

extern "C" {

__attribute__((noinline)) void* uvm_vmalloc(size_t size) {
  return alloc(size, 1, 0, __builtin_return_address(0));
}

__attribute__((noinline)) void* uvm_vzalloc(size_t size) {
  return alloc(size, 1, uvm::VM_ZERO, __builtin_return_address(0));
}

__attribute__((noinline)) void* uvm_vmalloc_align(size_t size, size_t align) {
  return alloc(size, align, 0, __builtin_return_address(0));
}

__attribute__((noinline)) void* uvm_vcalloc(size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return alloc(bytes, 1, uvm::VM_ZERO, __builtin_return_address(0));
}

__attribute__((noinline)) void* uvm_vrealloc(void* p, size_t size) {
  return uvm::realloc(p, size, __builtin_return_address(0), "uvm_vrealloc");
}

int uvm_vfree_status(void* p) {
  if (p == nullptr) return UVM_OK;
  uvm::Vmalloc* vm = uvm::instance_mended();
  if (vm == nullptr) return UVM_EFOREIGN;
  int rc;
  {
    uvm::fork_guard g;
    rc = vm->free(p);
  }
  uvm::g_purge_worker.kick();
  return rc;
}

void uvm_vfree(void* p) {
  uvm::free(p, "uvm_vfree");
}

int uvm_is_vmalloc_addr(const void* p) {
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  return vm != nullptr && vm->contains(p);
}

int uvm_find_vm_area(const void* p, struct uvm_area* area) {
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  if (vm == nullptr) return UVM_EFOREIGN;
  uvm::vm_struct s{};
  int rc;
  {
    uvm::fork_guard g;
    rc = vm->find(p, &s);
  }
  if ((rc == UVM_OK || rc == UVM_EINTERIOR) && area != nullptr) {
    area->addr = reinterpret_cast<void*>(s.addr + s.offset);
    area->size = s.size - s.offset;
    area->requested = s.requested;
    area->pages = s.size / uvm::pal::kPageSize;
    area->caller = s.caller;
  }
  return rc;
}

size_t uvm_vmalloc_size(const void* p) {
  uvm_area a;
  return uvm_find_vm_area(p, &a) == UVM_OK ? a.size : 0;
}

void uvm_vmalloc_info(FILE* out) {
  if (uvm::Vmalloc* vm = uvm::instance_if_ready()) {
    uvm::fork_guard g;
    vm->info(out);
  }
}

// struct uvm_stats is ABI for C callers: fields are only ever appended.
static_assert(offsetof(struct uvm_stats, async) == 24 * sizeof(size_t) &&
                  offsetof(struct uvm_stats, footprint) == 28 * sizeof(size_t),
              "uvm_stats changed layout: append new fields at its end");

int uvm_stats(struct uvm_stats* out) {
  memset(out, 0, sizeof *out);
  uvm::pal::process_rss(&out->rss_anon, &out->rss_file);
  out->footprint = out->rss_anon + out->rss_file;
  uvm::Vmalloc* vm = uvm::instance_if_ready();
  if (vm == nullptr) return UVM_OK;  // nothing allocated yet
  uvm::fork_guard g;
  out->memfd = vm->memfd_bytes();
  out->footprint += out->memfd;
  uvm::vm_stats s = vm->stats();
  uvm::pool_stats p = vm->pool();
  out->reserved = s.reserved;
  out->mapped = s.mapped;
  out->lazy = s.lazy;
  out->committed = vm->committed();
  out->in_use = p.in_use;
  out->pooled = p.pooled;
  out->released = p.released;
  out->refilled = p.refilled;
  out->areas = s.areas;
  out->vmas = s.vmas;
  out->vma_limit = s.vma_limit;
  out->allocs = s.allocs;
  out->frees = s.frees;
  out->reused = s.reused;
  out->trimmed = s.trimmed;
  out->warm_hits = p.warm_hits;
  out->cold_allocs = p.cold_allocs;
  out->purges = s.purges;
  out->purged_areas = s.purged_areas;
  // A reuse skips the mmap of the pages and the mmap of PROT_NONE back (a
  // trimmed one makes one call for its tail); a purge call that covers k
  // areas saves k - 1 calls.
  out->syscalls_saved = 2 * s.reused - s.trimmed + (s.purged_areas - s.purge_calls);
  out->vma_refusals = s.vma_refusals;
  out->grown_in_place = s.grown_in_place;
  out->moved = s.moved;
  out->copied = s.copied;
  out->async = p.async;
  return UVM_OK;
}

void uvm_stats_print(FILE* out) {
  struct uvm_stats s;
  uvm_stats(&s);
  auto mib = [](size_t b) { return static_cast<double>(b) / (1 << 20); };
  fprintf(out,
          "uvmalloc stats:\n"
          "  reserved      %12.1f MiB\n"
          "  mapped        %12.1f MiB (lazy, awaiting purge: %.1f MiB)\n"
          "  committed     %12.1f MiB (in use %.1f, pooled %.1f)\n"
          "  released      %12.1f MiB (refilled ahead: %.1f MiB, io_uring: %s)\n"
          "  areas         %12zu (allocs %zu, frees %zu)\n"
          "  vmas          %12zu of %zu (refusals %zu)\n"
          "  reused        %12zu (trimmed %zu; new: warm %zu, cold %zu)\n"
          "  purges        %12zu (%zu areas)\n"
          "  syscalls saved%12zu\n"
          "  footprint     %12.1f MiB (RssAnon %.1f + RssFile %.1f + memfd %.1f, mapped or not)\n",
          mib(s.reserved), mib(s.mapped), mib(s.lazy), mib(s.committed), mib(s.in_use),
          mib(s.pooled), mib(s.released), mib(s.refilled), s.async ? "yes" : "no", s.areas,
          s.allocs, s.frees, s.vmas, s.vma_limit, s.vma_refusals, s.reused, s.trimmed, s.warm_hits,
          s.cold_allocs, s.purges, s.purged_areas, s.syscalls_saved, mib(s.footprint),
          mib(s.rss_anon), mib(s.rss_file), mib(s.memfd));
}

int uvm_configure(const char* conf) {
  // Every operation held off: they read the settings without a lock. Taken
  // before the init lock, in the order fork_prepare takes them.
  uvm::g_fork_barrier.lock();
  std::unique_lock<std::mutex> g(uvm::g_init_lock);
  uvm::Vmalloc* vm = uvm::g_vm.load();
  uvm::vm_config cfg = vm != nullptr ? vm->config() : uvm::g_cfg;
  int bad = uvm::parse_config(conf, &cfg, uvm::warn);
  if (vm != nullptr) {
    vm->configure(cfg);
  } else {
    uvm::g_cfg = cfg;
    // UVMALLOC_CONF still wins over settings from code.
    if (uvm::g_env_read)
      if (const char* env = secure_getenv("UVMALLOC_CONF"))
        uvm::parse_config(env, &uvm::g_cfg, nullptr);
  }
  g.unlock();
  uvm::g_fork_barrier.unlock();
  return bad == 0 ? UVM_OK : UVM_EINVAL;
}

void uvm_purge(void) {
  uvm::trim(false);
}

size_t uvm_trim(void) {
  return uvm::trim(true);
}

}  // extern "C"
