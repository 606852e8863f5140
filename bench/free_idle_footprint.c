/* free_idle_footprint: the cases of issue 12's table. Not a test
 * (nothing is asserted); run it by hand:
 *
 *   build/release/bench/free_idle_footprint CASE [IDLE_MS]      # glibc
 *   LD_PRELOAD=build/release/preload/libuvmalloc_preload.so \
 *     build/release/bench/free_idle_footprint CASE [IDLE_MS]    # uvmalloc
 *
 * CASE is one of
 *   1m      1024 blocks of 1 MiB, every page written, all freed (jemalloc#1230)
 *   128m    16 blocks of 128 MiB, every page written, all freed
 *   grow    realloc doubling from 1 MiB to 1 GiB, only the first MiB written
 *           ("live" is then the grown, untouched block; it is freed after)
 *   fork    one 512 MiB block written, fork() (the child exits at once), the
 *           block written again: "live" with the block, then IDLE_MS idle,
 *           then after malloc_trim(0), then freed
 *
 * Prints the footprint (RssAnon + RssFile from /proc/self/status, plus
 * every allocated page of the process's memfds, mapped or not; RssShmem is
 * left out so mapped memfd pages count once) in KiB: with the blocks live,
 * at once after the free, and after IDLE_MS ms idle (default 1500). */
#define _GNU_SOURCE
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static long status_kb(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = 0;
  size_t n = strlen(key);
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, key, n) == 0) v = strtol(line + n, NULL, 10);
  if (f != NULL) fclose(f);
  return v;
}

/* Every memfd once, however many descriptors it has (uvmalloc holds a
 * second one on a file a fork left behind). */
static long memfd_kb(void) {
  long kb = 0;
  ino_t seen[256];
  int nseen = 0;
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    char path[300], link[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, link, sizeof link - 1);
    struct stat st;
    if (len <= 0) continue;
    link[len] = 0;
    if (strncmp(link, "/memfd:", 7) != 0 || stat(path, &st) != 0) continue;
    int dup = 0;
    for (int i = 0; i < nseen; i++) dup |= seen[i] == st.st_ino;
    if (dup) continue;
    if (nseen < 256) seen[nseen++] = st.st_ino;
    kb += st.st_blocks / 2;
  }
  if (d != NULL) closedir(d);
  return kb;
}

static void report(const char* when) {
  long anon = status_kb("RssAnon:"), file = status_kb("RssFile:"), mfd = memfd_kb();
  printf("%-12s footprint_kb=%ld (anon %ld + file %ld + memfd %ld)\n", when, anon + file + mfd,
         anon, file, mfd);
  fflush(stdout);
}

/* Where the blocks are, for the compiler too: writes to a block that is
 * freed without being read again would otherwise be left out. */
static char* volatile blocks[1024];

/* Allocates the case's blocks into `blocks`; returns how many, 0 on failure. */
static int allocate(const char* which) {
  if (strcmp(which, "grow") == 0) {
    char* p = malloc(MiB);
    if (p == NULL) return 0;
    memset(p, 1, MiB);
    for (size_t n = 2 * MiB; n <= 1024 * MiB; n *= 2) {
      char* q = realloc(p, n);
      if (q == NULL) return 0;
      p = q;
    }
    blocks[0] = p;
    return 1;
  }
  int n = strcmp(which, "128m") == 0 ? 16 : 1024;
  size_t size = n == 16 ? 128 * MiB : MiB;
  for (int i = 0; i < n; i++) {
    blocks[i] = malloc(size);
    if (blocks[i] == NULL) return 0;
    memset(blocks[i], i, size);
  }
  return n;
}

static void idle(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The fork case: what the pages from before the fork cost once the child is
 * gone and the parent has rewritten them. */
static int fork_case(long idle_ms) {
  size_t size = 512 * MiB;
  char* p = malloc(size);
  if (p == NULL) return 1;
  blocks[0] = p;
  memset(p, 1, size);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) _exit(p[size - 1] == 1 ? 0 : 1);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  memset(p, 2, size);
  report("live");
  idle(idle_ms);
  report("idle");
  malloc_trim(0);
  report("trimmed");
  int bad = p[0] != 2 || p[size - 1] != 2;
  free(p);
  report("freed");
  return bad;
}

int main(int argc, char** argv) {
  const char* which = argc > 1 ? argv[1] : "1m";
  long idle_ms = argc > 2 ? atol(argv[2]) : 1500;
  if (strcmp(which, "fork") == 0) return fork_case(idle_ms);
  if (strcmp(which, "1m") != 0 && strcmp(which, "128m") != 0 && strcmp(which, "grow") != 0) {
    fprintf(stderr, "usage: %s 1m|128m|grow|fork [IDLE_MS]\n", argv[0]);
    return 2;
  }
  int n = allocate(which);
  if (n == 0) return 1;
  report("live");
  for (int i = 0; i < n; i++) free(blocks[i]);
  report("freed");
  idle(idle_ms);
  report("idle");
  return 0;
}
