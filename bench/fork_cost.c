/* fork_cost: what fork() costs a program with large live allocations, with
 * and without the shim. Not a test (nothing is asserted); run it by hand:
 *
 *   build/release/bench/fork_cost                     # glibc
 *   LD_PRELOAD=build/release/preload/libuvmalloc_preload.so \
 *     build/release/bench/fork_cost                   # uvmalloc
 *
 * For 10 MiB (10 blocks of 1 MiB) and then 1 GiB (64 blocks of 16 MiB) of
 * live, fully touched allocations, each repetition allocates the blocks
 * afresh and measures, median of REPS (default 5, or argv[1]):
 *   fork        fork() until it returns in the parent
 *   fork+wait   fork(), the child _exit(0)s at once, waitpid() returns
 *   cow-gone    then the parent's first write to every page (child gone)
 *   cow-alive   fork again; the parent's first write to every page while the
 *               child is still alive (blocked on a pipe)
 *   rewrite     a second write to every page (no fault): the floor
 * and, after the cow-gone pass, the parent's RssAnon and RssShmem and the
 * growth of the system's Shmem (/proc/meminfo) since before the blocks were
 * allocated: memfd pages the blocks still pin, mapped or not. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define MAX_REPS 101

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void touch_pages(unsigned char** blocks, int count, size_t size, unsigned char v) {
  for (int b = 0; b < count; ++b)
    for (size_t off = 0; off < size; off += 4096) blocks[b][off] = v;
  __asm__ volatile("" : : : "memory");
}

/* The value of "key:" in a /proc file of "key: value kB" lines, or -1. */
static long proc_kib(const char* path, const char* key) {
  FILE* f = fopen(path, "r");
  char line[256];
  long v = -1;
  size_t len = strlen(key);
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, key, len) == 0 && line[len] == ':') v = strtol(line + len + 1, NULL, 10);
  if (f != NULL) fclose(f);
  return v;
}

static void phase(const char* what, int count, size_t size, int reps) {
  double t_fork[MAX_REPS], t_wait[MAX_REPS], t_gone[MAX_REPS], t_alive[MAX_REPS],
      t_rewrite[MAX_REPS];
  long anon = 0, shmem = 0, sys_shmem = 0;
  unsigned char** blocks = calloc((size_t)count, sizeof *blocks);
  for (int r = 0; r < reps; ++r) {
    long shmem_before = proc_kib("/proc/meminfo", "Shmem");
    for (int b = 0; b < count; ++b) {
      blocks[b] = malloc(size);
      if (blocks[b] == NULL) {
        perror("malloc");
        exit(1);
      }
      memset(blocks[b], r + 1, size);
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    double t1 = now_ms();
    waitpid(pid, NULL, 0);
    double t2 = now_ms();
    touch_pages(blocks, count, size, 0x11);
    double t3 = now_ms();
    anon = proc_kib("/proc/self/status", "RssAnon");
    shmem = proc_kib("/proc/self/status", "RssShmem");
    sys_shmem = proc_kib("/proc/meminfo", "Shmem") - shmem_before;

    int go[2];
    if (pipe(go) != 0) exit(1);
    pid = fork();
    if (pid == 0) {
      char c;
      close(go[1]);
      if (read(go[0], &c, 1) < 0) _exit(1);
      _exit(0);
    }
    close(go[0]);
    double t4 = now_ms();
    touch_pages(blocks, count, size, 0x22);
    double t5 = now_ms();
    touch_pages(blocks, count, size, 0x33);
    double t6 = now_ms();
    close(go[1]);
    waitpid(pid, NULL, 0);

    t_fork[r] = t1 - t0;
    t_wait[r] = t2 - t0;
    t_gone[r] = t3 - t2;
    t_alive[r] = t5 - t4;
    t_rewrite[r] = t6 - t5;
    for (int b = 0; b < count; ++b) free(blocks[b]);
  }
  printf(
      "%-7s fork %8.3f ms  fork+wait %8.3f ms  cow-gone %8.3f ms  cow-alive %8.3f ms  "
      "rewrite %7.3f ms  RssAnon %5ld MiB  RssShmem %5ld MiB  Shmem +%5ld MiB\n",
      what, median(t_fork, reps), median(t_wait, reps), median(t_gone, reps), median(t_alive, reps),
      median(t_rewrite, reps), anon >> 10, shmem >> 10, sys_shmem >> 10);
  free(blocks);
}

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  if (reps < 1 || reps > MAX_REPS) reps = 5;
  const char* pre = getenv("LD_PRELOAD");
  printf("allocator: %s, median of %d\n",
         pre != NULL && strstr(pre, "uvmalloc") != NULL ? "uvmalloc shim" : "glibc", reps);
  phase("10 MiB", 10, 1 * MiB, reps);
  phase("1 GiB", 64, 16 * MiB, reps);
  return 0;
}
