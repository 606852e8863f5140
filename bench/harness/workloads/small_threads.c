/* (l1) small-object churn on 4 threads: each thread keeps 4,096 live blocks
 * of 8..2048 bytes (log-uniform), and each step frees a random one (checking
 * its first and last byte) and allocates a new one in its place; every 64th
 * step hands the block to the next thread's inbox instead, which that thread
 * frees (cross-thread frees, as a server's request objects do). No request
 * reaches the shim's threshold: under the shim all of the difference with the
 * next allocator is the shim's own cost, on several threads at once.
 * 4,000,000 steps a thread quick, 20,000,000 full. */
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

enum { THREADS = 4, LIVE = 4096, INBOX = 1024 };

/* A single-producer single-consumer ring: thread i writes thread (i+1)'s. */
struct inbox {
  _Atomic size_t head, tail;
  unsigned char* slot[INBOX];
};

static struct inbox g_inbox[THREADS];
static long g_steps;

static void stamp(unsigned char* p, size_t n, uint64_t v) {
  p[0] = (unsigned char)v;
  p[n - 1] = (unsigned char)(v >> 8);
  memcpy(p + 8, &n, sizeof n); /* bytes 8..15, before the last */
}

static void check(const unsigned char* p, size_t n, uint64_t v) {
  if (p[0] != (unsigned char)v || p[n - 1] != (unsigned char)(v >> 8))
    FAIL("block %p of %zu bytes corrupted", (const void*)p, n);
}

/* Frees what the previous thread handed over; each block carries its size. */
static void drain(struct inbox* in) {
  size_t t = atomic_load_explicit(&in->tail, memory_order_relaxed);
  size_t h = atomic_load_explicit(&in->head, memory_order_acquire);
  for (; t != h; t++) {
    unsigned char* p = in->slot[t % INBOX];
    size_t n;
    memcpy(&n, p + 8, sizeof n);
    if (n < 24 || n > 2048) FAIL("handed-over block %p has a bad size %zu", (void*)p, n);
    free(p);
  }
  atomic_store_explicit(&in->tail, t, memory_order_release);
}

static void* worker(void* arg) {
  long id = (long)arg;
  uint64_t rng = 0x5a11 + (uint64_t)id;
  static __thread unsigned char* live[LIVE];
  static __thread size_t size[LIVE];
  struct inbox* mine = &g_inbox[id];
  struct inbox* next = &g_inbox[(id + 1) % THREADS];
  for (int i = 0; i < LIVE; i++) {
    size[i] = rng_log(&rng, 24, 2048);
    if ((live[i] = malloc(size[i])) == NULL) FAIL("malloc(%zu) failed", size[i]);
    stamp(live[i], size[i], (uint64_t)i);
  }
  for (long s = 0; s < g_steps; s++) {
    size_t i = (size_t)(rng_next(&rng) % LIVE);
    check(live[i], size[i], (uint64_t)i);
    size_t h = atomic_load_explicit(&next->head, memory_order_relaxed);
    if ((s & 63) == 0 && h - atomic_load_explicit(&next->tail, memory_order_acquire) < INBOX) {
      next->slot[h % INBOX] = live[i];
      atomic_store_explicit(&next->head, h + 1, memory_order_release);
    } else {
      free(live[i]);
    }
    if ((s & 255) == 0) drain(mine);
    size[i] = rng_log(&rng, 24, 2048);
    if ((live[i] = malloc(size[i])) == NULL) FAIL("malloc(%zu) failed", size[i]);
    stamp(live[i], size[i], (uint64_t)i);
  }
  for (int i = 0; i < LIVE; i++) {
    check(live[i], size[i], (uint64_t)i);
    free(live[i]);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "small_threads");
  g_steps = PICK(full, 4000000L, 20000000L);
  double t0 = now_s();
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, worker, (void*)i) != 0) FAIL("pthread_create");
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) drain(&g_inbox[i]);
  printf("loop_s=%.6f\nsteps=%ld\nthreads=%d\n", now_s() - t0, g_steps * THREADS, THREADS);
  report_after_free();
  return 0;
}
