/* (h) T threads (argv[2], default 2) churn blocks of 256 KiB..4 MiB
 * (log-uniform): each thread allocates a block, tags every page and hands it
 * to the next thread through a mutex-protected queue; a thread frees blocks
 * from its own queue (after checking every page) once 8 are waiting, so
 * with T = 2 every free is a cross-thread free, and with T = 1 the same work
 * runs in one thread (frees of its own blocks). Each thread makes 600
 * blocks quick, 4,000 full. Prints ops (blocks) and the loop time, from
 * which the driver computes the throughput ratio of 2 threads vs 1. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "common.h"

#define QCAP 64
#define KEEP 8

struct block {
  char* p;
  size_t n;
  uint64_t seed;
};
struct queue {
  pthread_mutex_t mu;
  struct block b[QCAP];
  unsigned head, count;
};

static struct queue g_q[64];
static int g_threads;
static long g_per_thread;
static atomic_long g_freed;

static int push(struct queue* q, struct block b) {
  pthread_mutex_lock(&q->mu);
  int ok = q->count < QCAP;
  if (ok) {
    q->b[(q->head + q->count) % QCAP] = b;
    q->count++;
  }
  pthread_mutex_unlock(&q->mu);
  return ok;
}
/* Pops one block if more than `keep` are waiting. */
static int pop(struct queue* q, unsigned keep, struct block* out) {
  pthread_mutex_lock(&q->mu);
  int ok = q->count > keep;
  if (ok) {
    *out = q->b[q->head];
    q->head = (q->head + 1) % QCAP;
    q->count--;
  }
  pthread_mutex_unlock(&q->mu);
  return ok;
}
static void release(struct block b) {
  check_pages(b.p, 0, b.n, b.seed, "cross-thread");
  free(b.p);
  atomic_fetch_add(&g_freed, 1);
}

static void* worker(void* arg) {
  long id = (long)arg;
  struct queue* own = &g_q[id];
  struct queue* next = &g_q[(id + 1) % g_threads];
  uint64_t rng = 0x5EED0000u + (uint64_t)id;
  struct block b;
  for (long i = 0; i < g_per_thread; i++) {
    size_t n = rng_log(&rng, 256 * KiB, 4 * MiB);
    char* p = malloc(n);
    if (p == NULL) FAIL("malloc(%zu) failed", n);
    struct block nb = {p, n, rng_next(&rng)};
    tag_pages(p, 0, n, nb.seed);
    while (!push(next, nb)) {
      if (pop(own, 0, &b))
        release(b);
      else
        sched_yield();
    }
    if (pop(own, KEEP, &b)) release(b);
  }
  const long total = (long)g_threads * g_per_thread;
  while (atomic_load(&g_freed) < total) {
    if (pop(own, 0, &b))
      release(b);
    else
      sched_yield();
  }
  return NULL;
}

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "xthread_churn");
  g_threads = argc > 2 ? atoi(argv[2]) : 2;
  if (g_threads < 1 || g_threads > 64) FAIL("bad thread count");
  g_per_thread = PICK(full, 600, 4000);
  for (int i = 0; i < g_threads; i++) pthread_mutex_init(&g_q[i].mu, NULL);
  pthread_t th[64];
  double t0 = now_s();
  for (long i = 0; i < g_threads; i++)
    if (pthread_create(&th[i], NULL, worker, (void*)i) != 0) FAIL("pthread_create");
  for (int i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
  double dt = now_s() - t0;
  if (atomic_load(&g_freed) != (long)g_threads * g_per_thread) FAIL("lost blocks");
  printf("loop_s=%.6f\nthreads=%d\nops=%ld\n", dt, g_threads, (long)g_threads * g_per_thread);
  report_after_free();
  return 0;
}
