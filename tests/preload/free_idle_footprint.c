/* free_idle_footprint: issue 12's first case (jemalloc#1230): 1024 blocks
 * of 1 MiB, every page written, all freed, then idle. Not a test (nothing
 * is asserted); run it by hand:
 *
 *   build/tests/preload/preload_free_idle_footprint              # glibc
 *   LD_PRELOAD=build/preload/libuvmalloc_preload.so \
 *     build/tests/preload/preload_free_idle_footprint            # uvmalloc
 *
 * Prints the footprint (RssAnon + RssFile from /proc/self/status, plus
 * every allocated page of the process's memfds, mapped or not; RssShmem is
 * left out so mapped memfd pages count once) in KiB: with the blocks live,
 * at once after the free, and after argv[1] ms idle (default 1500). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N 1024
#define BLOCK (1u << 20)

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

static long memfd_kb(void) {
  long kb = 0;
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    char path[300], link[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, link, sizeof link - 1);
    struct stat st;
    if (len <= 0) continue;
    link[len] = 0;
    if (strncmp(link, "/memfd:", 7) == 0 && stat(path, &st) == 0) kb += st.st_blocks / 2;
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

int main(int argc, char** argv) {
  long idle_ms = argc > 1 ? atol(argv[1]) : 1500;
  static char* p[N];
  for (int i = 0; i < N; i++) {
    p[i] = malloc(BLOCK);
    if (p[i] == NULL) return 1;
    memset(p[i], i, BLOCK);
  }
  report("live");
  for (int i = 0; i < N; i++) free(p[i]);
  report("freed");
  struct timespec ts = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  report("idle");
  return 0;
}
