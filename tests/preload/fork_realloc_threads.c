/* fork_realloc_threads: what fork() costs while other threads realloc-grow
 * large buffers, with and without the shim. Not a test (nothing is asserted
 * beyond the children's exit status; not built by CMake); build and run it
 * by hand:
 *
 *   gcc -O2 -pthread -fno-builtin -o /tmp/fork_realloc_threads \
 *     tests/preload/fork_realloc_threads.c
 *   /tmp/fork_realloc_threads                                    # glibc
 *   LD_PRELOAD=build/release/preload/libuvmalloc_preload.so \
 *     /tmp/fork_realloc_threads                                  # uvmalloc
 *
 * Two threads each repeatedly grow a buffer with realloc from 1 MiB,
 * doubling up to 64 MiB, writing every page of the new part (and checking
 * the old part kept its contents), then free it and start again. Once both
 * threads have finished one cycle, the main thread does 40 fork() calls; each
 * child _exit(0)s at once and the parent waitpid()s for it. Then the threads
 * are stopped and joined.
 *
 * Prints the wall time of the 40 forks (fork + waitpid) and of the whole run
 * (thread start to join), and the number of grow cycles the threads did. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define MIN_SIZE (1 * MiB)
#define MAX_SIZE (64 * MiB)
#define FORKS 40
#define THREADS 2

static atomic_int stop;
static atomic_long cycles[THREADS];
static atomic_int errors;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void* grower(void* arg) {
  int id = (int)(long)arg;
  while (!atomic_load(&stop)) {
    unsigned char tag = (unsigned char)(0x11 * (id + 1) + atomic_load(&cycles[id]));
    unsigned char* p = NULL;
    size_t old = 0;
    for (size_t size = MIN_SIZE; size <= MAX_SIZE && !atomic_load(&stop); size *= 2) {
      unsigned char* q = realloc(p, size);
      if (q == NULL) {
        atomic_fetch_add(&errors, 1);
        break;
      }
      p = q;
      for (size_t off = 0; off < old; off += 4096)
        if (p[off] != tag) {
          atomic_fetch_add(&errors, 1);
          break;
        }
      memset(p + old, tag, size - old);
      old = size;
    }
    free(p);
    atomic_fetch_add(&cycles[id], 1);
  }
  return NULL;
}

int main(void) {
  pthread_t th[THREADS];
  double t_start = now_ms();
  for (int i = 0; i < THREADS; ++i)
    if (pthread_create(&th[i], NULL, grower, (void*)(long)i) != 0) {
      perror("pthread_create");
      return 1;
    }
  for (int i = 0; i < THREADS; ++i)
    while (atomic_load(&cycles[i]) < 1) usleep(1000);

  int bad_children = 0;
  double t_fork = now_ms();
  for (int k = 0; k < FORKS; ++k) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) _exit(0);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++bad_children;
  }
  double forks_ms = now_ms() - t_fork;

  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; ++i) pthread_join(th[i], NULL);
  double total_ms = now_ms() - t_start;

  long c = 0;
  for (int i = 0; i < THREADS; ++i) c += atomic_load(&cycles[i]);
  printf("forks: %d in %.1f ms (%.3f ms each)\n", FORKS, forks_ms, forks_ms / FORKS);
  printf("whole run: %.1f ms (%ld grow cycles 1->64 MiB)\n", total_ms, c);
  if (bad_children || atomic_load(&errors)) {
    printf("FAILED: %d bad children, %d errors\n", bad_children, atomic_load(&errors));
    return 1;
  }
  return 0;
}
