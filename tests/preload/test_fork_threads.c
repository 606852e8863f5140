/* fork() of a multithreaded program under the shim. A writer thread sweeps
 * a large malloc'd buffer over and over (word i of sweep g holds g << 32 | i)
 * and a churn thread mallocs and frees large blocks, while the main thread
 * forks several times. Each child checks that:
 *   - its snapshot is consistent: every word has its index, and the sweep
 *     numbers form one cut of the writer's progress (a prefix of sweep g+1
 *     followed by sweep g), as with anonymous memory;
 *   - the snapshot stays stable while the parent's threads keep writing, and
 *     a write the parent's main thread makes after the fork is invisible;
 *   - it can allocate, write and free large blocks, the inherited ones too.
 * The parent checks that the child's writes to the same buffers are
 * invisible to it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)
#define BUF_BYTES (48 * MiB)
#define WORDS (BUF_BYTES / sizeof(uint64_t))
#define MARK_BYTES (8 * MiB)
#define CHILD_GEN 0xC41DULL
#define FORKS 8

static volatile uint64_t* g_buf;
static atomic_ulong g_sweeps;
static atomic_int g_stop;

static atomic_ulong g_lost; /* words that did not hold the writer's last value */

/* Only this thread writes g_buf in the parent, so each word must still hold
 * what it wrote in the previous sweep: a write lost around a fork shows. */
static void* writer(void* arg) {
  (void)arg;
  for (uint64_t gen = 1; !atomic_load(&g_stop); ++gen) {
    unsigned long lost = 0;
    for (size_t i = 0; i < WORDS; ++i) {
      lost += g_buf[i] != ((gen - 1) << 32 | (uint32_t)i);
      g_buf[i] = gen << 32 | (uint32_t)i;
    }
    if (lost != 0) atomic_fetch_add(&g_lost, lost);
    atomic_store(&g_sweeps, gen);
  }
  return NULL;
}

static void* churn(void* arg) {
  (void)arg;
  unsigned seed = 1;
  void* keep[8] = {0};
  while (!atomic_load(&g_stop)) {
    seed = seed * 1103515245u + 12345u;
    size_t n = (128 << 10) + (seed >> 8) % (4 * MiB);
    unsigned slot = (seed >> 4) % 8;
    free(keep[slot]);
    keep[slot] = (seed & 1) ? malloc(n) : calloc(1, n);
    if (keep[slot] != NULL) memset(keep[slot], (int)slot, n < 65536 ? n : 65536);
    if ((seed & 6) == 0 && keep[slot] != NULL) {
      void* q = realloc(keep[slot], n * 2);
      if (q != NULL) keep[slot] = q;
    }
  }
  for (int i = 0; i < 8; ++i) free(keep[i]);
  return NULL;
}

/* 0 when the words form one cut of the writer's sweeps; else the first bad
 * index + 1. *gen_out gets the newest sweep seen. */
static size_t check_cut(const volatile uint64_t* b, uint64_t* gen_out) {
  uint64_t first = b[0] >> 32;
  int stepped = 0;
  for (size_t i = 0; i < WORDS; ++i) {
    uint64_t w = b[i];
    if ((uint32_t)w != (uint32_t)i) return i + 1;
    uint64_t g = w >> 32;
    if (g == first && !stepped) continue;
    if (g == first - 1 && first > 0) {
      stepped = 1;
      continue;
    }
    return i + 1;
  }
  *gen_out = first;
  return 0;
}

static uint64_t sum(const volatile uint64_t* b, size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s = s * 31 + b[i];
  return s;
}

static int read_byte(int fd) {
  char c;
  return read(fd, &c, 1) == 1 ? c : -1;
}

static void write_byte(int fd, char c) {
  if (write(fd, &c, 1) != 1) _exit(90);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* The child: returns its exit status (0 good). */
static int child(unsigned char* mark, int from_parent, int to_parent) {
  uint64_t gen = 0;
  size_t bad = check_cut(g_buf, &gen);
  if (bad != 0) {
    fprintf(stderr, "child: snapshot is not one cut at word %zu: %#llx\n", bad - 1,
            (unsigned long long)g_buf[bad - 1]);
    return 10;
  }
  uint64_t before = sum(g_buf, WORDS);
  for (size_t i = 0; i < MARK_BYTES; ++i)
    if (mark[i] != 'A') return 11;
  write_byte(to_parent, 'r');                   /* ready: parent may now write */
  if (read_byte(from_parent) != 'w') return 12; /* parent has written */
  if (sum(g_buf, WORDS) != before) {
    fprintf(stderr, "child: snapshot changed while the parent wrote\n");
    return 13;
  }
  for (size_t i = 0; i < MARK_BYTES; ++i)
    if (mark[i] != 'A') {
      fprintf(stderr, "child: sees the parent's write at %zu\n", i);
      return 14;
    }
  /* The child's own writes. */
  for (size_t i = 0; i < WORDS; ++i) g_buf[i] = CHILD_GEN << 32 | (uint32_t)i;
  memset(mark, 'C', MARK_BYTES);
  /* Allocation works in the child, also large, and the inherited blocks can
   * be freed and their space reused. */
  for (int k = 0; k < 8; ++k) {
    size_t n = (size_t)(k + 1) * MiB;
    unsigned char* p = malloc(n);
    if (p == NULL || !uvmt_in_uvm(p)) return 15;
    memset(p, k + 1, n);
    for (size_t i = 0; i < n; i += 4096)
      if (p[i] != k + 1) return 16;
    p = realloc(p, 2 * n);
    if (p == NULL) return 17;
    for (size_t i = 0; i < n; i += 4096)
      if (p[i] != k + 1 || p[n - 1] != k + 1) return 17;
    free(p);
  }
  for (size_t i = 0; i < WORDS; ++i)
    if (g_buf[i] != (CHILD_GEN << 32 | (uint32_t)i)) return 18;
  for (size_t i = 0; i < MARK_BYTES; ++i)
    if (mark[i] != 'C') return 19;
  write_byte(to_parent, 'd'); /* done writing */
  free((void*)g_buf);
  free(mark);
  void* again = malloc(BUF_BYTES);
  if (again == NULL) return 20;
  memset(again, 1, BUF_BYTES);
  free(again);
  return 0;
}

int main(void) {
  uvmt_require_shim();
  g_buf = malloc(BUF_BYTES);
  unsigned char* mark = malloc(MARK_BYTES);
  UVMT_REQUIRE(g_buf != NULL && mark != NULL);
  UVMT_REQUIRE(uvmt_in_uvm((void*)g_buf) && uvmt_in_uvm(mark));
  for (size_t i = 0; i < WORDS; ++i) g_buf[i] = (uint32_t)i;
  pthread_t w, c;
  UVMT_REQUIRE(pthread_create(&w, NULL, writer, NULL) == 0);
  UVMT_REQUIRE(pthread_create(&c, NULL, churn, NULL) == 0);

  for (int f = 0; f < FORKS; ++f) {
    memset(mark, 'A', MARK_BYTES);
    unsigned long start = atomic_load(&g_sweeps);
    while (atomic_load(&g_sweeps) < start + 1) sleep_ms(1); /* writer is busy */
    int p2c[2], c2p[2];
    UVMT_REQUIRE(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid_t pid = fork();
    UVMT_REQUIRE(pid >= 0);
    if (pid == 0) {
      close(p2c[1]);
      close(c2p[0]);
      _exit(child(mark, p2c[0], c2p[1]));
    }
    close(p2c[0]);
    close(c2p[1]);
    UVMT_CHECK(read_byte(c2p[0]) == 'r');
    /* The parent's writes after the fork: the writer's sweeps, and ours. */
    unsigned long now = atomic_load(&g_sweeps);
    while (atomic_load(&g_sweeps) < now + 2) sleep_ms(1);
    memset(mark, 'P', MARK_BYTES);
    write_byte(p2c[1], 'w');
    int done = read_byte(c2p[0]);
    /* The child has overwritten both buffers in its copy by now. */
    size_t seen_child = 0;
    for (size_t i = 0; i < WORDS; ++i) seen_child += (g_buf[i] >> 32) == CHILD_GEN;
    size_t bad_mark = 0;
    for (size_t i = 0; i < MARK_BYTES; ++i) bad_mark += mark[i] != 'P';
    int status = 0;
    UVMT_REQUIRE(waitpid(pid, &status, 0) == pid);
    UVMT_CHECK(done == 'd');
    UVMT_CHECK(seen_child == 0);
    UVMT_CHECK(bad_mark == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork %d: child status %#x (exit %d)\n", f, status,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      ++uvmt_failures;
    }
    close(p2c[1]);
    close(c2p[0]);
  }
  atomic_store(&g_stop, 1);
  pthread_join(w, NULL);
  pthread_join(c, NULL);
  uint64_t gen = 0;
  UVMT_CHECK(check_cut(g_buf, &gen) == 0);
  UVMT_CHECK(atomic_load(&g_lost) == 0);
  printf("fork_threads: %d forks, %lu sweeps, %d failure(s)\n", FORKS,
         (unsigned long)atomic_load(&g_sweeps), uvmt_failures);
  free((void*)g_buf);
  free(mark);
  return uvmt_failures ? 1 : 0;
}
