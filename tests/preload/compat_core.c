/* Core dumps show the blocks' contents, also after a fork: a block is
 * written, the process forks once (so uvmalloc has remapped its blocks
 * copy-on-write), and then a child aborts with a core dump; the core must
 * hold the block's data, as it does for glibc's anonymous memory under the
 * default coredump_filter. Run with and without the shim by compat.sh.
 * Exit 77 (skipped both ways) where cores are not written to the working
 * directory (core_pattern is a pipe or a path elsewhere). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

static const char kMarker[] = "uvmalloc-core-marker-";

/* Counts the distinct markers 0..n-1 found in the file. */
static int markers_in(const char* path, int n) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return -1;
  static char seen[64];
  memset(seen, 0, sizeof seen);
  static char buf[1 << 16];
  size_t keep = 0, got;
  size_t mlen = sizeof kMarker - 1;
  while ((got = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
    size_t len = keep + got;
    for (size_t i = 0; i + mlen + 2 <= len; ++i)
      if (buf[i] == 'u' && memcmp(buf + i, kMarker, mlen) == 0) {
        int k = (buf[i + mlen] - '0') * 10 + (buf[i + mlen + 1] - '0');
        if (k >= 0 && k < n) seen[k] = 1;
      }
    keep = len < 64 ? len : 64;
    memmove(buf, buf + len - keep, keep);
  }
  fclose(f);
  int count = 0;
  for (int k = 0; k < n; ++k) count += seen[k];
  return count;
}

int main(void) {
  char pattern[128] = {0};
  int pfd = open("/proc/sys/kernel/core_pattern", O_RDONLY);
  if (pfd >= 0) {
    if (read(pfd, pattern, sizeof pattern - 1) < 0) pattern[0] = 0;
    close(pfd);
  }
  if (pattern[0] == '|' || strchr(pattern, '/') != NULL) {
    printf("cores are not written to the working directory: skipped\n");
    return 77;
  }
  size_t n = 8 * MiB;
  int markers = 16;
  char* block = malloc(n);
  UVMT_REQUIRE(block != NULL);
  memset(block, 0, n);
  /* Markers built at run time, so the program's own image holds none. */
  for (int k = 0; k < markers; ++k) {
    char* at = block + (size_t)k * (n / markers) + 100;
    memcpy(at, kMarker, sizeof kMarker - 1);
    at[sizeof kMarker - 1] = (char)('0' + k / 10);
    at[sizeof kMarker] = (char)('0' + k % 10);
  }
  pid_t first = fork();
  if (first == 0) _exit(0);
  UVMT_REQUIRE(first > 0 && waitpid(first, NULL, 0) == first);

  char dir[] = "/tmp/uvm-compat-core-XXXXXX";
  UVMT_REQUIRE(mkdtemp(dir) != NULL);
  pid_t crasher = fork();
  if (crasher == 0) {
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &rl);
    if (chdir(dir) != 0) _exit(2);
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  int status;
  UVMT_REQUIRE(waitpid(crasher, &status, 0) == crasher);
  printf("child: killed by signal %d, core dumped: %s\n",
         WIFSIGNALED(status) ? WTERMSIG(status) : 0,
         WIFSIGNALED(status) && WCOREDUMP(status) ? "yes" : "no");
  int found = -1;
  DIR* d = opendir(dir);
  struct dirent* e;
  char path[512];
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "core", 4) != 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    found = markers_in(path, markers);
    unlink(path);
  }
  if (d != NULL) closedir(d);
  rmdir(dir);
  printf("markers of the block in the core: %d of %d\n", found, markers);
  free(block);
  return uvmt_failures != 0;
}
