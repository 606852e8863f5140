#include "pal.h"

#include "pal_fault.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL
#endif

namespace uvm::pal {

bool page_size_ok() {
  return sysconf(_SC_PAGESIZE) == static_cast<long>(kPageSize);
}

void* reserve(size_t size, size_t align) {
  if (align < kPageSize) align = kPageSize;
  size_t span = size + align - kPageSize;
  if (span < size) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = (base + align - 1) & ~(align - 1);
  if (start > base) munmap(p, start - base);
  uintptr_t tail = base + span - (start + size);
  if (tail != 0) munmap(reinterpret_cast<void*>(start + size), tail);
  return reinterpret_cast<void*>(start);
}

void* map_anon(size_t size) {
  int err;
  if (injected(fault::anon, &err)) {
    errno = err;
    return nullptr;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* map_sparse(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

const void* map_zeros(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* map_wipe_on_fork() {
  void* p = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (madvise(p, kPageSize, MADV_WIPEONFORK) != 0) {
    munmap(p, kPageSize);
    return nullptr;
  }
  return p;
}

int unmap(void* addr, size_t size) {
  return munmap(addr, size) == 0 ? 0 : -errno;
}

int page_file_create(const char* name) {
  int err = 0;
  int fd = injected(fault::memfd, &err) ? -1 : memfd_create(name, MFD_CLOEXEC);
  if (fd >= 0) return fd;
  if (err == 0) err = errno;
  // seccomp or an old kernel: an unlinked tmpfs file behaves the same.
  int shm_err;
  if (injected(fault::shm, &shm_err)) return -err;
  fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC | O_EXCL, 0600);
  if (fd >= 0) return fd;
  char path[] = "/dev/shm/uvmalloc-XXXXXX";
  fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) return -err;
  unlink(path);
  return fd;
}

int sealed_file_create(const char* name, size_t size) {
  int err;
  if (injected(fault::memfd, &err)) return -err;
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  int rc = file_set_size(fd, size);
  if (rc == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    rc = -errno;
  if (rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

int dup_fd(int fd) {
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return nfd < 0 ? -errno : nfd;
}

namespace {

// Registered descriptors; -1 marks a free slot. More than this many at once
// (only fork after fork with old pool files still referenced) just go
// unregistered: still checked before use, only not shielded from close().
constexpr int kOwnedSlots = 128;
std::atomic<int> g_owned[kOwnedSlots];
std::atomic<bool> g_owned_init{false};

void owned_init() {
  if (g_owned_init.load(std::memory_order_acquire)) return;
  for (auto& s : g_owned) s.store(-1, std::memory_order_relaxed);
  g_owned_init.store(true, std::memory_order_release);
}

void owned_add(int fd) {
  owned_init();
  for (auto& s : g_owned) {
    int free_slot = -1;
    if (s.compare_exchange_strong(free_slot, fd)) return;
  }
}

void owned_remove(int fd) {
  for (auto& s : g_owned) {
    int want = fd;
    if (s.compare_exchange_strong(want, -1)) return;
  }
}

// The lowest number own_fd() moves to: high enough that shells' dup2 over
// low numbers and a program's own files never meet it, low enough that the
// kernel's descriptor table stays small.
int high_floor() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 768;
  long cur = static_cast<long>(rl.rlim_cur);
  return static_cast<int>(std::max(3L, std::min(cur - cur / 4, 768L)));
}

}  // namespace

int own_fd(int fd, file_id* id) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, high_floor());
  if (high >= 0) {
    close(fd);
    fd = high;
  }
  struct stat st;
  if (fstat(fd, &st) == 0)
    *id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  owned_add(fd);
  return fd;
}

bool same_file(int fd, const file_id& id) {
  struct stat st;
  int err;
  if (injected(fault::fd_lost, &err)) return false;
  return fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == id.dev &&
         static_cast<uint64_t>(st.st_ino) == id.ino;
}

void close_owned(int fd, const file_id& id) {
  if (fd < 0) return;
  owned_remove(fd);
  if (same_file(fd, id)) close(fd);
}

int file_hold(int fd, const file_id& expect, bool for_child, file_token* out) {
  char path[40];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int tfd = open(path, O_RDONLY | O_CLOEXEC);  // a new description of the same file
  if (tfd < 0) return -errno;
  file_token t;
  t.fd = own_fd(tfd, &t.id);
  t.owner = getpid();
  struct flock fl = {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  int err = 0;
  if (t.id.dev != expect.dev || t.id.ino != expect.ino) {
    err = ESTALE;  // the number was the program's file by now
  } else if (fcntl(t.fd, F_OFD_SETLK, &fl) != 0) {
    err = errno;
  } else {
    t.map = mmap(nullptr, kPageSize, PROT_NONE, MAP_SHARED, t.fd, 0);
    if (t.map == MAP_FAILED) {
      t.map = nullptr;
      err = errno;
    } else if (!for_child && madvise(t.map, kPageSize, MADV_DONTFORK) != 0) {
      err = errno;
    }
  }
  if (err != 0) {
    file_unhold(&t);
    return -err;
  }
  *out = t;
  return 0;
}

void file_unhold(file_token* t) {
  // Only the process that made the mapping has it: a copy of the parent's
  // token in a fork child has a hole (or something else) at `map`.
  if (t->map != nullptr && t->owner == getpid()) munmap(t->map, kPageSize);
  close_owned(t->fd, t->id);
  *t = {};
}

void file_token_adopt(file_token* t) {
  t->owner = getpid();
  if (t->map != nullptr) madvise(t->map, kPageSize, MADV_DONTFORK);
}

void file_token_pass_on(const file_token& t, bool pass) {
  if (t.map != nullptr && t.owner == getpid())
    madvise(t.map, kPageSize, pass ? MADV_DOFORK : MADV_DONTFORK);
}

bool file_held_elsewhere(const file_token& t) {
  if (t.fd < 0 || !same_file(t.fd, t.id)) return true;
  struct flock fl = {};
  fl.l_type = F_WRLCK;  // conflicts with every read lock but this description's own
  fl.l_whence = SEEK_SET;
  if (fcntl(t.fd, F_OFD_GETLK, &fl) != 0) return true;
  return fl.l_type != F_UNLCK;
}

bool fd_owned(int fd) {
  if (fd < 0 || !g_owned_init.load(std::memory_order_acquire)) return false;
  for (const auto& s : g_owned)
    if (s.load(std::memory_order_relaxed) == fd) return true;
  return false;
}

bool fd_owned_above(int fd) {
  if (!g_owned_init.load(std::memory_order_acquire)) return false;
  for (const auto& s : g_owned)
    if (s.load(std::memory_order_relaxed) > fd) return true;
  return false;
}

int file_set_size(int fd, size_t size) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && size > rl.rlim_cur)
    return -EFBIG;
  int err;
  if (injected(fault::set_size, &err)) return -err;
  return ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : -errno;
}

int file_punch(int fd, size_t off, size_t len) {
  int err;
  if (injected(fault::punch, &err)) return -err;
  int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  return fallocate(fd, mode, static_cast<off_t>(off), static_cast<off_t>(len)) == 0 ? 0 : -errno;
}

namespace {

// Whether pagemap sets PM_FILE for a file huge page mapped by one PMD: not
// before Linux 6.11 (such a page then reads as present and not a file page,
// as a private copy does). Where it may not, and shmem may use huge pages,
// a whole 2 MiB-aligned group that reads as copies is taken as still read.
bool pmd_file_bit_reliable() {
  static const bool reliable = [] {
    const char* mode = shmem_thp_mode();
    if (strcmp(mode, "never") == 0 || strcmp(mode, "deny") == 0) return true;
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
    return major > 6 || (major == 6 && minor >= 11);
  }();
  return reliable;
}

}  // namespace

int for_each_file_backed(uintptr_t addr, size_t len, void (*fn)(void*, size_t, size_t), void* ctx) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  constexpr uint64_t kPresent = 1ull << 63, kSwapped = 1ull << 62, kFile = 1ull << 61;
  // A swap entry with one of these is a marker (uffd-wp, guard region) over a
  // page that may still be the file's.
  constexpr uint64_t kMarker = (1ull << 58) | (1ull << 57);
  constexpr size_t kGroup = 512;  // pages of a PMD
  const bool trust_pmd = pmd_file_bit_reliable();
  uint64_t ent[kGroup];
  size_t first = addr / kPageSize, last = first + len / kPageSize;
  size_t run = 0;  // pages of the current piece
  int rc = 0;
  for (size_t g = first; g < last && rc == 0;) {
    size_t n = std::min(last, (g / kGroup + 1) * kGroup) - g;
    off_t at = static_cast<off_t>(g * sizeof(uint64_t));
    if (pread(fd, ent, n * sizeof(uint64_t), at) != static_cast<ssize_t>(n * sizeof(uint64_t))) {
      rc = -EIO;
      break;
    }
    bool maybe_pmd = !trust_pmd && n == kGroup;
    for (size_t i = 0; maybe_pmd && i < n; ++i)
      maybe_pmd = (ent[i] & kPresent) != 0 && (ent[i] & kFile) == 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t e = ent[i];
      bool copy = !maybe_pmd && (e & kFile) == 0 &&
                  ((e & kPresent) != 0 || ((e & kSwapped) != 0 && (e & kMarker) == 0));
      size_t at_page = g - first + i;
      if (!copy) {
        ++run;
        continue;
      }
      if (run != 0) fn(ctx, (at_page - run) * kPageSize, at_page * kPageSize);
      run = 0;
    }
    g += n;
  }
  size_t pages = last - first;
  if (rc == 0 && run != 0) fn(ctx, (pages - run) * kPageSize, pages * kPageSize);
  close(fd);
  return rc;
}

size_t file_allocated(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_blocks) * 512 : 0;
}

bool file_bounded(int fd) {
  struct statfs sf;
  return fstatfs(fd, &sf) != 0 || sf.f_blocks != 0;
}

int map_file_fixed(void* addr, size_t len, int fd, size_t off, bool populate) {
  int err;
  if (injected(fault::mmap_fixed, &err)) return -err;
  int flags = MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0);
  void* p = mmap(addr, len, PROT_READ | PROT_WRITE, flags, fd, static_cast<off_t>(off));
  return p == MAP_FAILED ? -errno : 0;
}

int populate(void* addr, size_t len) {
  int err;
  if (injected(fault::populate, &err)) return -err;
  if (madvise(addr, len, MADV_POPULATE_READ) == 0 || errno == EINVAL) return 0;
  return -errno;
}

void populate_resident(const void* from, void* to, size_t len) {
  constexpr size_t kChunk = 4096;  // pages per mincore call
  unsigned char vec[kChunk];
  auto* src = static_cast<const char*>(from);
  auto* dst = static_cast<char*>(to);
  size_t pages = len / kPageSize;
  for (size_t base = 0; base < pages; base += kChunk) {
    size_t n = std::min(kChunk, pages - base);
    if (mincore(const_cast<char*>(src) + base * kPageSize, n * kPageSize, vec) != 0) return;
    for (size_t i = 0; i < n;) {
      if ((vec[i] & 1) == 0) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < n && (vec[j] & 1) != 0) ++j;
      madvise(dst + (base + i) * kPageSize, (j - i) * kPageSize, MADV_POPULATE_READ);
      i = j;
    }
  }
}

int populate_write(void* addr, size_t len) {
  return madvise(addr, len, MADV_POPULATE_WRITE) == 0 ? 0 : -errno;
}

int map_file_private_fixed(void* addr, size_t len, int fd, size_t off) {
  int err;
  if (injected(fault::mmap_fixed, &err)) return -err;
  // The fork remap keeps live data where it is while other threads may read
  // it. A raw system call, because ThreadSanitizer's mmap interceptor counts
  // a new mapping as a write of the whole range by this thread: every later
  // read of a block by its owner would be reported as a race.
  long p = syscall(SYS_mmap, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                   static_cast<off_t>(off));
  return p == -1 ? -errno : 0;
}

int map_none_fixed(void* addr, size_t len) {
  int err;
  if (injected(fault::mmap_fixed, &err)) return -err;
  // Same flags as reserve(), so the kernel can merge it back into one VMA.
  void* p =
      mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

int advise_hugepage(void* addr, size_t len) {
  return madvise(addr, len, MADV_HUGEPAGE) == 0 ? 0 : -errno;
}

namespace {
int sys(long rc) {
  return rc == -1 ? -errno : 0;
}
}  // namespace

int advise(uintptr_t addr, size_t len, int advice) {
  return sys(syscall(SYS_madvise, addr, len, advice));
}
int protect(uintptr_t addr, size_t len, int prot) {
  return sys(syscall(SYS_mprotect, addr, len, prot));
}
int lock_range(uintptr_t addr, size_t len, unsigned flags) {
  return sys(syscall(SYS_mlock2, addr, len, flags));
}
int unlock_range(uintptr_t addr, size_t len) {
  return sys(syscall(SYS_munlock, addr, len));
}
int lock_all(int flags) {
  return sys(syscall(SYS_mlockall, flags));
}
int unlock_all() {
  return sys(syscall(SYS_munlockall));
}

size_t memlock_limit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return static_cast<size_t>(rl.rlim_cur);
}

size_t read_maps(char* buf, size_t cap) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  ssize_t n = 1;
  while (fd >= 0 && n > 0 && len + 1 < cap) {
    n = read(fd, buf + len, cap - 1 - len);
    if (n > 0) len += static_cast<size_t>(n);
  }
  if (fd >= 0) close(fd);
  if (cap > 0) buf[len] = 0;
  return len;
}

int map_anon_fixed(uintptr_t addr, size_t len) {
  void* p = mmap(reinterpret_cast<void*>(addr), len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

namespace {

long read_long(const char* path, long fallback) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fallback;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return fallback;
  buf[n] = 0;
  return strtol(buf, nullptr, 10);
}

}  // namespace

void process_rss(size_t* anon, size_t* file) {
  *anon = *file = 0;
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  auto kb = [&](const char* key) -> size_t {
    const char* at = strstr(buf, key);
    return at != nullptr ? static_cast<size_t>(strtoull(at + strlen(key), nullptr, 10)) << 10 : 0;
  };
  *anon = kb("RssAnon:");
  *file = kb("RssFile:");
}

long max_map_count() {
  return read_long("/proc/sys/vm/max_map_count", 65530);
}

long count_vmas() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  long lines = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
  close(fd);
  return lines;
}

long count_present(const void* addr, size_t len, size_t max_pages, size_t* examined) {
  constexpr size_t kChunk = 256;  // pagemap entries read at once (8 bytes each)
  constexpr uint64_t kPresent = uint64_t{1} << 63;
  *examined = 0;
  // Opened each time: after a fork, an fd opened earlier would still show
  // the parent's page tables.
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t pages = len / kPageSize;
  size_t chunks = (pages + kChunk - 1) / kChunk;
  size_t want = std::max<size_t>(1, max_pages / kChunk);
  size_t stride = chunks > want ? chunks / want : 1;
  uint64_t entry[kChunk];
  long present = 0;
  for (size_t c = 0; c < chunks; c += stride) {
    size_t first = c * kChunk, n = std::min(kChunk, pages - first);
    auto page = reinterpret_cast<uintptr_t>(addr) / kPageSize + first;
    ssize_t got = pread(fd, entry, n * sizeof entry[0], static_cast<off_t>(page * sizeof entry[0]));
    if (got != static_cast<ssize_t>(n * sizeof entry[0])) {
      present = -1;
      break;
    }
    for (size_t i = 0; i < n; ++i) present += (entry[i] & kPresent) != 0;
    *examined += n;
  }
  close(fd);
  return present;
}

const char* shmem_thp_mode() {
  static char mode[32];
  int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return "";
  buf[n] = 0;
  // The active mode is the one in brackets: "always within_size [never] ...".
  char* open_br = strchr(buf, '[');
  char* close_br = open_br ? strchr(open_br, ']') : nullptr;
  if (close_br == nullptr) return "";
  size_t len = static_cast<size_t>(close_br - open_br - 1);
  if (len >= sizeof mode) len = sizeof mode - 1;
  memcpy(mode, open_br + 1, len);
  mode[len] = 0;
  return mode;
}

long hugetlb_pages() {
  return read_long("/proc/sys/vm/nr_hugepages", 0);
}

memory_limits read_memory_limits() {
  memory_limits lim{SIZE_MAX, SIZE_MAX};
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    lim.address_space = static_cast<size_t>(rl.rlim_cur);
  long mode = read_long("/proc/sys/vm/overcommit_memory", 0);
  if (mode == 0) {  // the heuristic refuses one mapping beyond RAM + swap
    struct sysinfo si;
    if (sysinfo(&si) == 0)
      lim.one_mapping = (static_cast<size_t>(si.totalram) + si.totalswap) * si.mem_unit;
  } else if (mode == 2) {  // strict: nothing beyond CommitLimit can be committed
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    const char* key = n > 0 ? (buf[n] = 0, strstr(buf, "CommitLimit:")) : nullptr;
    if (key != nullptr)
      lim.one_mapping = static_cast<size_t>(strtoull(key + 12, nullptr, 10)) << 10;
  }
  return lim;
}

unsigned nr_cpus() {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

unsigned current_cpu() {
  int cpu = sched_getcpu();
  return cpu >= 0 ? static_cast<unsigned>(cpu) : 0;
}

uint64_t coarse_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool start_thread(void* (*fn)(void*), void* arg, const char* name) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, size_t{256} << 10);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits this mask
  pthread_t t;
  int rc = pthread_create(&t, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) return false;
  pthread_setname_np(t, name);
  return true;
}

void sleep_ms(uint64_t ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace uvm::pal
