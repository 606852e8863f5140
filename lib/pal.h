// pal: the platform layer. Every system call uvmalloc makes goes through here,
// so the rest of the library is plain bookkeeping and fault injection has one
// place to hook. Functions return -errno (or nullptr with errno set) on failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uvm::pal {

inline constexpr size_t kPageShift = 12;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;
// `n` rounded up to whole pages (it wraps past SIZE_MAX: callers that take
// sizes from outside compare the result with `n`).
inline constexpr size_t page_align(size_t n) {
  return (n + kPageSize - 1) & ~(kPageSize - 1);
}
inline constexpr bool is_pow2(size_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

// True when the kernel's page size matches kPageSize (checked once at start).
bool page_size_ok();

// A PROT_NONE, MAP_NORESERVE range: address space only, no memory charged.
// `align` (a power of two) is honoured by over-reserving and trimming.
void* reserve(size_t size, size_t align);
// Read-write private anonymous memory for the allocator's own metadata.
void* map_anon(size_t size);
// Read-only anonymous memory: reads as zeros and costs no pages. Null on
// failure.
const void* map_zeros(size_t size);
// Zeroed read-write memory for a large, sparsely used table: MAP_NORESERVE,
// so only the pages written are charged. Null on failure.
void* map_sparse(size_t size);
int unmap(void* addr, size_t size);
// One private anonymous page that every fork child sees as zeros
// (MADV_WIPEONFORK), or null where the kernel lacks it.
void* map_wipe_on_fork();

// The memfd whose offsets are uvmalloc's physical pages: memfd_create with
// MFD_CLOEXEC, or an unlinked file in /dev/shm where memfd_create is refused.
// Returns the descriptor or -errno.
int page_file_create(const char* name);
// A memfd of exactly `size` bytes sealed against growing and shrinking, for
// one shareable allocation. Returns the descriptor or -errno.
int sealed_file_create(const char* name, size_t size);
// A new O_CLOEXEC descriptor for the same file, or -errno.
int dup_fd(int fd);

// Descriptors are the program's to close (close_range, dup2 over a number):
// every descriptor uvmalloc keeps is moved to a high number, registered, and
// checked against the file it was opened for before each use.
struct file_id {
  uint64_t dev = 0, ino = 0;
};
// Move `fd` to a high number (O_CLOEXEC), register it as uvmalloc's, and
// return the new number (the old one is closed); `fd` itself when no high
// number is free. *id gets the file's identity.
int own_fd(int fd, file_id* id);
// True when `fd` still refers to the file `id` names (fstat device and inode).
bool same_file(int fd, const file_id& id);
// Close a registered descriptor, but only while it is still that file.
void close_owned(int fd, const file_id& id);
// Who else maps a pool file left behind by fork(): every process that maps
// one holds a read lock on it through an open file description of its own.
// An OFD lock lasts as long as its description, and a small PROT_NONE
// mapping made through the description keeps that alive after a program's
// close_range() took the descriptor: the lock goes at exit, at exec, or at
// file_unhold(). file_hold() makes such a token for `fd` (which must still
// be the file `expect`), or returns -errno; a token for a fork child's side
// keeps its mapping across fork(), the parent's own does not
// (MADV_DONTFORK). file_held_elsewhere() is true while another description
// holds a lock, and whenever it cannot tell (its descriptor is not the file
// any more, or fcntl fails).
struct file_token {
  int fd = -1;
  file_id id;
  void* map = nullptr;
  int owner = 0;  // the process whose mapping `map` is
};
int file_hold(int fd, const file_id& expect, bool for_child, file_token* out);
void file_unhold(file_token* t);
bool file_held_elsewhere(const file_token& t);
// In the child: its side's token becomes its own, not passed on at its forks.
void file_token_adopt(file_token* t);
// Let the next fork's child inherit this process's mapping of `t` (`pass`),
// or stop that again: where a child cannot have a token of its own, it holds
// this one's description alive for both.
void file_token_pass_on(const file_token& t, bool pass);
// True when `fd` is one uvmalloc registered (async-signal-safe, lock-free).
bool fd_owned(int fd);
// True when some registered descriptor is above `fd`.
bool fd_owned_above(int fd);
// Grow the file to `size` bytes. Refused with -EFBIG, before the kernel would
// raise SIGXFSZ, when RLIMIT_FSIZE is lower.
int file_set_size(int fd, size_t size);
// Free the pages of [off, off + len) (PUNCH_HOLE|KEEP_SIZE): the only way to
// hand memfd memory back; MADV_DONTNEED only drops the mapping.
int file_punch(int fd, size_t off, size_t len);
// Call fn(ctx, from, to) for each piece [from, to) of [addr, addr + len)
// (byte offsets into it) whose pages may still read the file they map:
// every page but this process's private copies (/proc/self/pagemap: present
// or swapped, and not a file page), made by writes since a MAP_PRIVATE
// mapping of the file was made. -errno when pagemap cannot be read.
int for_each_file_backed(uintptr_t addr, size_t len, void (*fn)(void*, size_t, size_t), void* ctx);
// Bytes the file really holds (st_blocks).
size_t file_allocated(int fd);
// True when the file's filesystem has a size limit (a /dev/shm file), so a
// fault on one of its holes can fail with SIGBUS. memfd's internal mount has
// none: a shortage there is the memory cgroup's OOM kill, as for anonymous
// memory.
bool file_bounded(int fd);

// Map file pages read-write at `addr` over part of the reservation
// (MAP_FIXED|MAP_SHARED); `populate` prefaults pages that already exist.
int map_file_fixed(void* addr, size_t len, int fd, size_t off, bool populate);
// Fault every page of a shared memfd mapping in, allocating holes
// (MADV_POPULATE_READ: shmem allocates on read faults too, maps the pages
// writable, and maps 16 at a time where write faults map one). Unlike
// MAP_POPULATE it reports failure (-ENOMEM when the memory cgroup or the
// filesystem is full) instead of leaving a SIGBUS for the first touch. 0
// where the kernel predates it (5.14).
int populate(void* addr, size_t len);
// Map at `to` those pages of the shared mapping at `from` (same file pages,
// `len` bytes) that exist (mincore), without allocating its holes: what a
// move needs so the data already written costs no fault again.
void populate_resident(const void* from, void* to, size_t len);
// Map file pages copy-on-write at `addr` (MAP_FIXED|MAP_PRIVATE): what fork()
// needs so parent and child each keep a private snapshot.
int map_file_private_fixed(void* addr, size_t len, int fd, size_t off);
// Fault [addr, addr + len) in as if written (MADV_POPULATE_WRITE), leaving
// the contents as they are: on a private file mapping this copies the pages
// and gives the VMA an anon_vma. 0 or -errno.
int populate_write(void* addr, size_t len);
// Put PROT_NONE reservation back over [addr, addr + len) without ever leaving
// a hole another mmap could take.
int map_none_fixed(void* addr, size_t len);
int advise_hugepage(void* addr, size_t len);

// The memory calls a program makes on its own blocks, done for it
// (vm_advise.cc). System calls, not the libc names: the shim interposes those.
// 0 or -errno.
int advise(uintptr_t addr, size_t len, int advice);
int protect(uintptr_t addr, size_t len, int prot);
int lock_range(uintptr_t addr, size_t len, unsigned flags);  // mlock2
int unlock_range(uintptr_t addr, size_t len);
int lock_all(int flags);  // mlockall
int unlock_all();
// Fresh zero pages, read-write private anonymous, over [addr, addr + len).
int map_anon_fixed(uintptr_t addr, size_t len);
// RLIMIT_MEMLOCK's soft limit in bytes (SIZE_MAX when unlimited).
size_t memlock_limit();
// Up to cap - 1 bytes of /proc/self/maps into buf, NUL-terminated, without
// malloc. Returns the length (0 when unreadable).
size_t read_maps(char* buf, size_t cap);

// RssAnon and RssFile of this process (/proc/self/status), in bytes; 0 where
// unreadable.
void process_rss(size_t* anon, size_t* file);
// vm.max_map_count, and the number of VMAs this process has now.
long max_map_count();
long count_vmas();
// Of the pages of [addr, addr + len), how many this process has faulted in
// (/proc/self/pagemap "present"), looking at no more than `max_pages` of
// them spread evenly; *examined gets how many were looked at. -1 on error.
long count_present(const void* addr, size_t len, size_t max_pages, size_t* examined);
// Shared-memory THP mode from /sys/kernel/mm/transparent_hugepage/shmem_enabled
// ("always", "within_size", "advise", "never", ...), or "" if unreadable.
const char* shmem_thp_mode();
// Huge pages reserved in the hugetlb pool (/proc/sys/vm/nr_hugepages).
long hugetlb_pages();

// The kernel's limits on this process's memory, read once at init (a few
// syscalls): the soft RLIMIT_AS, and the largest single private mapping
// overcommit accepts (vm.overcommit_memory 0: RAM + swap; 2: CommitLimit;
// 1: none). SIZE_MAX where there is no limit or it cannot be read.
struct memory_limits {
  size_t address_space;
  size_t one_mapping;
};
memory_limits read_memory_limits();

// CPUs the system may bring online (the number of vmap nodes), at least 1.
unsigned nr_cpus();
// The CPU this thread runs on now (sched_getcpu: glibc reads it from the rseq
// area, no system call), 0 where unknown. Only a hint: the thread may move.
unsigned current_cpu();
// CLOCK_MONOTONIC_COARSE in nanoseconds: a vDSO read, no system call.
uint64_t coarse_ns();
// A detached thread running fn(arg) with every signal blocked (the
// program's signals are for its own threads) and a small stack, named
// `name`. False when it cannot be made.
bool start_thread(void* (*fn)(void*), void* arg, const char* name);
void sleep_ms(uint64_t ms);

}  // namespace uvm::pal
