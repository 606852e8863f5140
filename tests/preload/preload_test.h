/* Helpers for the LD_PRELOAD shim tests. These programs never link uvmalloc:
 * they get the shim only through LD_PRELOAD, so they decide whether a block
 * went to uvmalloc by its address. uvmalloc reserves one large PROT_NONE
 * range (64 GiB by default) and maps memfd pages into it; in /proc/self/maps
 * that range shows as adjacent entries that are either anonymous PROT_NONE
 * or memfd mappings. The longest such run of at least 1 GiB is the vmalloc
 * space. */
#ifndef UVM_PRELOAD_TEST_H
#define UVM_PRELOAD_TEST_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

static int uvmt_failures;

#define UVMT_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++uvmt_failures;                                                         \
    }                                                                          \
  } while (0)

/* Fatal variant for preconditions the rest of a test depends on. */
#define UVMT_REQUIRE(cond)                                                       \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Keep the compiler from reasoning about a pointer (or eliding its block). */
static inline void uvmt_escape(const void* p) {
  __asm__ volatile("" : : "g"(p) : "memory");
}

/* The same pointer, opaque to the compiler: for calls that may fail and
 * leave the block alone (a failed realloc), which -Wuse-after-free cannot
 * know. */
static inline void* uvmt_launder(void* p) {
  __asm__("" : "+r"(p));
  return p;
}

static inline int uvmt_is_memfd_path(const char* path) {
  return strncmp(path, "/memfd:", 7) == 0;
}

/* Finds the vmalloc space in /proc/self/maps. Returns 1 and sets *lo, *hi
 * when found. Uses a static buffer: call it from one thread at a time. */
static int uvmt_find_space(uintptr_t* lo, uintptr_t* hi) {
  static char buf[1 << 20]; /* maps of a test program fit easily */
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == NULL) return 0;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  uintptr_t best_lo = 0, best_hi = 0, run_lo = 0, run_hi = 0;
  for (char* line = buf; *line != 0;) {
    char* nl = strchr(line, '\n');
    if (nl != NULL) *nl = 0;
    unsigned long a, b, off;
    char perms[8] = {0}, dev[16] = {0};
    unsigned long inode;
    int path_at = 0;
    int member = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &a, &b, perms, &off, dev, &inode, &path_at) >=
        6) {
      const char* path = line + path_at;
      int anon_none = strcmp(perms, "---p") == 0 && inode == 0 && *path == 0;
      member = anon_none || uvmt_is_memfd_path(path);
    }
    if (member) {
      if (run_hi == a && run_hi != 0) {
        run_hi = b;
      } else {
        run_lo = a;
        run_hi = b;
      }
      if (run_hi - run_lo > best_hi - best_lo) {
        best_lo = run_lo;
        best_hi = run_hi;
      }
    } else {
      run_lo = run_hi = 0;
    }
    if (nl == NULL) break;
    line = nl + 1;
  }
  if (best_hi - best_lo < ((uintptr_t)1 << 30)) return 0;
  *lo = best_lo;
  *hi = best_hi;
  return 1;
}

/* True when p lies in the vmalloc space, i.e. uvmalloc served it. */
static inline int uvmt_in_uvm(const void* p) {
  uintptr_t lo, hi, a = (uintptr_t)p;
  return p != NULL && uvmt_find_space(&lo, &hi) && a >= lo && a < hi;
}

/* The shim's routing threshold, from UVMALLOC_CONF (default 128 KiB). */
static inline size_t uvmt_threshold(void) {
  size_t t = (size_t)128 << 10;
  const char* conf = getenv("UVMALLOC_CONF");
  const char* k = conf ? strstr(conf, "threshold:") : NULL;
  if (k != NULL) {
    char* end;
    unsigned long long n = strtoull(k + 10, &end, 10);
    if (*end == 'k' || *end == 'K') n <<= 10;
    if (*end == 'm' || *end == 'M') n <<= 20;
    t = n == 0 ? 1 : (size_t)n;
  }
  return t;
}

/* The tests are meaningless without the shim: fail loudly if it is absent. */
static inline void uvmt_require_shim(void) {
  const char* pre = getenv("LD_PRELOAD");
  if (pre == NULL || strstr(pre, "libuvmalloc_preload") == NULL) {
    fprintf(stderr, "LD_PRELOAD does not name libuvmalloc_preload.so\n");
    exit(1);
  }
}

/* Deterministic byte pattern keyed by a seed. */
static inline unsigned char uvmt_byte(size_t i, unsigned seed) {
  return (unsigned char)((i * 2654435761u) >> 13 ^ seed ^ (i >> 12));
}

static inline void uvmt_fill(void* p, size_t n, unsigned seed) {
  unsigned char* c = (unsigned char*)p;
  for (size_t i = 0; i < n; ++i) c[i] = uvmt_byte(i, seed);
}

/* Returns the first mismatching offset, or (size_t)-1. */
static inline size_t uvmt_verify(const void* p, size_t n, unsigned seed) {
  const unsigned char* c = (const unsigned char*)p;
  for (size_t i = 0; i < n; ++i)
    if (c[i] != uvmt_byte(i, seed)) return i;
  return (size_t)-1;
}

static inline int uvmt_all_zero(const void* p, size_t n) {
  const unsigned char* c = (const unsigned char*)p;
  for (size_t i = 0; i < n; ++i)
    if (c[i] != 0) return 0;
  return 1;
}

struct uvmt_file_id {
  dev_t dev;
  ino_t ino;
};

/* The memfds open in this process (at most max): their ids, when ids is not
 * null, and their allocated bytes. Returns how many. */
static inline int uvmt_memfds(struct uvmt_file_id* ids, size_t* bytes, int max) {
  DIR* d = opendir("/proc/self/fd");
  UVMT_REQUIRE(d != NULL);
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < max) {
    char path[64], link[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, link, sizeof link - 1);
    if (len <= 0) continue;
    link[len] = 0;
    struct stat st;
    if (!uvmt_is_memfd_path(link) || stat(path, &st) != 0) continue;
    if (ids != NULL) {
      ids[n].dev = st.st_dev;
      ids[n].ino = st.st_ino;
    }
    bytes[n] = (size_t)st.st_blocks * 512;
    ++n;
  }
  closedir(d);
  return n;
}

#ifdef __cplusplus
}
#endif

#endif /* UVM_PRELOAD_TEST_H */
