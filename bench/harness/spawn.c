/* spawn REPORT PRELOAD PROGRAM [ARGS...]
 *
 * Runs PROGRAM with LD_PRELOAD=PRELOAD (none when PRELOAD is empty), waits
 * for it with wait4 and writes its peak RSS (ru_maxrss, KiB), its peak
 * footprint and its own wall time to the file REPORT; exits with PROGRAM's
 * status (128 + signal when killed).
 *
 * Peak footprint: RssAnon + RssFile + every page of the child's memfds
 * (mapped or not; uvmalloc keeps freed pages there, where no RSS figure
 * shows them), sampled from /proc/PID every 10 ms by a thread while the
 * main thread waits, and never less than ru_maxrss. For an allocator
 * without memfds it is its peak RSS.
 *
 * Why: Linux carries ru_maxrss across execve (the pre-exec memory of the
 * forked parent counts), so a workload forked straight from the Python
 * driver would report at least the driver's ~20 MiB. Forked from this small
 * process instead, it starts from ~1 MiB. The driver still times the run
 * itself (time.monotonic around this process) and reaps it with os.wait4.
 * Built with gcc -O2 by run.sh; never loads the allocator under test. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static pid_t g_child;
static atomic_int g_done;
static long g_peak_kb;  // written by the sampler, read after the join

static long status_kb(const char* status, const char* key) {
  const char* at = strstr(status, key);
  return at != NULL ? atol(at + strlen(key)) : 0;
}

/* The child's footprint now, in KiB (0 once it is gone). */
static long footprint_kb(void) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)g_child);
  FILE* f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  long kb = status_kb(buf, "RssAnon:") + status_kb(buf, "RssFile:");
  snprintf(path, sizeof path, "/proc/%d/fd", (int)g_child);
  DIR* d = opendir(path);
  if (d == NULL) return kb;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char fd_path[340], link[300];
    snprintf(fd_path, sizeof fd_path, "%s/%s", path, e->d_name);
    ssize_t len = readlink(fd_path, link, sizeof link - 1);
    if (len <= 0) continue;
    link[len] = 0;
    struct stat st;
    if (strncmp(link, "/memfd:", 7) == 0 && stat(fd_path, &st) == 0) kb += (long)(st.st_blocks / 2);
  }
  closedir(d);
  return kb;
}

static void* sampler(void* arg) {
  (void)arg;
  const struct timespec tick = {0, 10 * 1000 * 1000};
  while (!atomic_load(&g_done)) {
    long kb = footprint_kb();
    if (kb > g_peak_kb) g_peak_kb = kb;
    nanosleep(&tick, NULL);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: spawn REPORT PRELOAD PROGRAM [ARGS...]\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("spawn: fork");
    return 2;
  }
  if (pid == 0) {
    if (argv[2][0] != 0)
      setenv("LD_PRELOAD", argv[2], 1);
    else
      unsetenv("LD_PRELOAD");
    execvp(argv[3], argv + 3);
    perror("spawn: exec");
    _exit(127);
  }
  g_child = pid;
  pthread_t th;
  int sampling = pthread_create(&th, NULL, sampler, NULL) == 0;
  int status;
  struct rusage ru;
  // Stop the sampler before the child is reaped, so that its pid is never
  // another process's when it is read.
  siginfo_t si;
  if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) != 0) {
    perror("spawn: waitid");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  atomic_store(&g_done, 1);
  if (sampling) pthread_join(th, NULL);
  if (wait4(pid, &status, 0, &ru) != pid) {
    perror("spawn: wait4");
    return 2;
  }
  FILE* f = fopen(argv[1], "w");
  if (f == NULL) {
    perror("spawn: report");
    return 2;
  }
  long peak_fp = g_peak_kb > ru.ru_maxrss ? g_peak_kb : ru.ru_maxrss;
  fprintf(f, "peak_rss_kb=%ld\npeak_footprint_kb=%ld\nchild_wall_s=%.6f\n", ru.ru_maxrss, peak_fp,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
  fclose(f);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 2;
}
