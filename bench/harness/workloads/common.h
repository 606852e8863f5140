/* Shared helpers for the harness workloads: a fixed-seed RNG, page tagging
 * and checking, the quick/full scale argument, and the report printed on
 * stdout as key=value lines that bench/harness/driver.py parses.
 *
 * The workloads are plain C (new_large.cc: C++), built with gcc -O2 and
 * linked with no allocator: the allocator under test is whatever malloc the process gets
 * (glibc, or an LD_PRELOADed one). Every workload checks its own data and
 * exits non-zero (3) on corruption. */
#ifndef HARNESS_COMMON_H
#define HARNESS_COMMON_H

#ifndef _GNU_SOURCE /* g++ defines it */
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define PAGE ((size_t)4096)

static const char* g_prog = "workload";

#define FAIL(...)                         \
  do {                                    \
    fprintf(stderr, "FAIL %s: ", g_prog); \
    fprintf(stderr, __VA_ARGS__);         \
    fputc('\n', stderr);                  \
    fflush(stdout);                       \
    exit(3);                              \
  } while (0)

/* argv[1] is "quick" or "full"; returns 1 for full. */
static int parse_mode(int argc, char** argv, const char* prog) {
  g_prog = prog;
  if (argc < 2) return 0;
  if (strcmp(argv[1], "quick") == 0) return 0;
  if (strcmp(argv[1], "full") == 0) return 1;
  fprintf(stderr, "usage: %s quick|full ...\n", prog);
  exit(2);
}
#define PICK(full, q, f) ((full) ? (f) : (q))

/* splitmix64: deterministic, seeded per workload. */
static inline uint64_t rng_next(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* Uniform in [lo, hi]. */
static inline size_t rng_range(uint64_t* s, size_t lo, size_t hi) {
  return lo + (size_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}
/* Log-uniform in [lo, hi]: as many blocks in 256K..512K as in 8M..16M. */
static inline size_t rng_log(uint64_t* s, size_t lo, size_t hi) {
  double u = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
  size_t n = (size_t)((double)lo * exp(u * log((double)hi / (double)lo)));
  if (n < lo) n = lo;
  if (n > hi) n = hi;
  return n;
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The tag stored at byte offset `off` of a block whose seed is `seed`. */
static inline uint64_t tag_at(uint64_t seed, size_t off) {
  uint64_t z = seed ^ ((uint64_t)off * 0x9E3779B97F4A7C15ull);
  return z ^ (z >> 29) ^ 1; /* never 0 for a nonzero-looking pattern */
}

/* Writes one 8-byte tag per page of [from, to) (page offsets relative to the
 * block start, so a block that moves keeps its tags), and one at the last
 * 8 bytes when the block ends mid-page. */
static inline void tag_pages(char* p, size_t from, size_t to, uint64_t seed) {
  for (size_t off = from; off + 8 <= to; off += PAGE) {
    uint64_t t = tag_at(seed, off);
    memcpy(p + off, &t, 8);
  }
}
static inline void check_pages(const char* p, size_t from, size_t to, uint64_t seed,
                               const char* what) {
  for (size_t off = from; off + 8 <= to; off += PAGE) {
    uint64_t t;
    memcpy(&t, p + off, 8);
    if (t != tag_at(seed, off))
      FAIL("%s: corrupted tag at offset %zu of block %p (got %016llx want %016llx)", what, off,
           (const void*)p, (unsigned long long)t, (unsigned long long)tag_at(seed, off));
  }
}
static inline void tag_ends(char* p, size_t n, uint64_t seed) {
  uint64_t a = tag_at(seed, 0), b = tag_at(seed, n - 8);
  memcpy(p, &a, 8);
  memcpy(p + n - 8, &b, 8);
}
static inline void check_ends(const char* p, size_t n, uint64_t seed, const char* what) {
  uint64_t a, b;
  memcpy(&a, p, 8);
  memcpy(&b, p + n - 8, 8);
  if (a != tag_at(seed, 0) || b != tag_at(seed, n - 8))
    FAIL("%s: corrupted block %p of %zu bytes", what, (const void*)p, n);
}

/* memset through a volatile pointer so that gcc does not turn
 * malloc+memset(0) into calloc (the workload wants the value-initialising
 * shape, not calloc). */
static void* (*volatile memset_v)(void*, int, size_t) = memset;

/* Bytes held in memfd files (uvmalloc's page pool keeps pages there,
 * mapped or not; 0 for the other allocators), in KiB. */
static inline long long memfd_kb(void) {
  long long kb = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char path[300], link[300];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = 0;
    struct stat st;
    if (strncmp(link, "/memfd:", 7) == 0 && stat(path, &st) == 0) kb += (long long)st.st_blocks / 2;
  }
  closedir(d);
  return kb;
}

/* The footprint, in KiB: RssAnon + RssFile + every memfd page, mapped or
 * not (mapped memfd pages are in RssShmem, left out so they count once).
 * For an allocator without memfds it is its RSS less shared memory. */
static inline long long footprint_kb(void) {
  long long anon = -1, file = -1;
  char line[256];
  FILE* f = fopen("/proc/self/status", "r");
  if (f == NULL) FAIL("cannot read /proc/self/status");
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "RssAnon:", 8) == 0) anon = atoll(line + 8);
    if (strncmp(line, "RssFile:", 8) == 0) file = atoll(line + 8);
  }
  fclose(f);
  if (anon < 0 || file < 0) FAIL("no RssAnon/RssFile in /proc/self/status");
  return anon + file + memfd_kb();
}

/* After everything is freed: resident memory (statm resident pages x page
 * size), the memfd bytes, and the footprint. With HARNESS_IDLE_S set (a
 * comma-separated list of seconds, increasing, e.g. "1,10"), the footprint
 * again that long after the free while the program makes no call
 * (footprint_idle_<N>s_kb), and idle_s: the seconds slept, which the
 * driver takes off the run's time. */
static inline void report_after_free(void) {
  long size = 0, res = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2) FAIL("cannot read /proc/self/statm");
  fclose(f);
  long page_kb = sysconf(_SC_PAGESIZE) / 1024;
  printf("rss_after_free_kb=%ld\n", res * page_kb);
  printf("memfd_after_free_kb=%lld\n", memfd_kb());
  printf("footprint_after_free_kb=%lld\n", footprint_kb());
  fflush(stdout);
  const char* idle = getenv("HARNESS_IDLE_S");
  if (idle == NULL || *idle == 0) return;
  double t0 = now_s();
  while (*idle != 0) {
    char* end;
    long secs = strtol(idle, &end, 10);
    if (end == idle || secs <= 0) FAIL("HARNESS_IDLE_S: bad list \"%s\"", getenv("HARNESS_IDLE_S"));
    double left = t0 + (double)secs - now_s();
    if (left > 0) {
      struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    printf("footprint_idle_%lds_kb=%lld\n", secs, footprint_kb());
    idle = *end == ',' ? end + 1 : end;
  }
  printf("idle_s=%.6f\n", now_s() - t0);
  fflush(stdout);
}

#endif
