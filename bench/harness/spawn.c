/* spawn REPORT PRELOAD PROGRAM [ARGS...]
 *
 * Runs PROGRAM with LD_PRELOAD=PRELOAD (none when PRELOAD is empty), waits
 * for it with wait4 and writes its peak RSS (ru_maxrss, KiB) and its own
 * wall time to the file REPORT; exits with PROGRAM's status (128 + signal
 * when killed).
 *
 * Why: Linux carries ru_maxrss across execve (the pre-exec memory of the
 * forked parent counts), so a workload forked straight from the Python
 * driver would report at least the driver's ~20 MiB. Forked from this small
 * process instead, it starts from ~1 MiB. The driver still times the run
 * itself (time.monotonic around this process) and reaps it with os.wait4.
 * Built with gcc -O2 by run.sh; never loads the allocator under test. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

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
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid) {
    perror("spawn: wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  FILE* f = fopen(argv[1], "w");
  if (f == NULL) {
    perror("spawn: report");
    return 2;
  }
  fprintf(f, "peak_rss_kb=%ld\nchild_wall_s=%.6f\n", ru.ru_maxrss,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
  fclose(f);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 2;
}
