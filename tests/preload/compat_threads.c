/* No thread the program did not make: after many large allocations, frees
 * and growths (which uvmalloc could hand to io_uring's worker threads), a
 * process idle for a few seconds shows only its own threads (the purge
 * thread exists only while something is cached), and what needs a single-threaded
 * process (unshare(CLONE_NEWUSER)) behaves as with glibc. Run with and
 * without the shim by compat.sh, which compares the output. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

static int tasks(void) {
  DIR* d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

int main(void) {
  void* live[16] = {0};
  for (int i = 0; i < 400; ++i) {
    size_t n = (size_t)(1 + i % 13) * MiB;
    int k = i % 16;
    free(live[k]);
    live[k] = malloc(n);
    UVMT_REQUIRE(live[k] != NULL);
    memset(live[k], i, n);
  }
  char* grow = NULL;
  for (size_t n = MiB; n <= 256 * MiB; n *= 2) {
    grow = realloc(grow, n);
    UVMT_REQUIRE(grow != NULL);
    memset(grow + n / 2, 1, n / 2);
  }
  for (int k = 0; k < 16; ++k) free(live[k]);
  free(grow);
  /* Idle: uvmalloc's purge thread gives the cached blocks back within about
   * a second (decay_ms) and then exits, so wait up to 5 s for it. */
  for (int i = 0; i < 50 && tasks() > 1; ++i) usleep(100 * 1000);
  printf("threads when idle: %d\n", tasks());
  int rc = unshare(CLONE_NEWUSER);
  printf("unshare(CLONE_NEWUSER): %s\n", rc == 0 ? "ok" : strerror(errno));
  return uvmt_failures != 0;
}
