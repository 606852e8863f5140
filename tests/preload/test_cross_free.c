/* Cross-thread frees under the shim: thread A mallocs large blocks that
 * thread B checks and frees, and at the same time B mallocs blocks that A
 * checks and frees. Blocks come from malloc, calloc, aligned_alloc and
 * realloc; some are grown with realloc by the consumer before the free.
 * Every page of a block carries a tag (block number, page index) that the
 * consumer verifies, so a block handed out twice or a page mapped in the
 * wrong place shows. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define PAGE ((size_t)4096)
#define BLOCKS 2500
#define QCAP 64

struct block {
  uint64_t* p;
  size_t size;
  uint64_t id;
};

/* Two bounded queues under one lock: g_q[t] holds blocks thread t made.
 * A thread whose queue is full consumes from the other one instead of
 * waiting, and a thread that has made all its blocks keeps consuming until
 * the other is done too, so neither waits for the other forever. */
struct queue {
  struct block items[QCAP];
  size_t head, tail;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static struct queue g_q[2];
static int g_done[2];
static atomic_ulong g_errors;
static atomic_ulong g_outside;

/* Called with g_lock held. */
static int take(struct queue* q, struct block* out) {
  if (q->tail == q->head) return 0;
  *out = q->items[q->head++ % QCAP];
  pthread_cond_broadcast(&g_cond);
  return 1;
}

static uint64_t tag(uint64_t id, size_t page) {
  return id << 24 ^ page ^ 0x5a5a000000000000ull;
}

static void stamp(struct block* b) {
  for (size_t pg = 0; pg * PAGE < b->size; ++pg) b->p[pg * PAGE / 8] = tag(b->id, pg);
  b->p[b->size / 8 - 1] = ~tag(b->id, 0);
}

static int check(const struct block* b, size_t upto) {
  for (size_t pg = 0; pg * PAGE < upto; ++pg)
    if (b->p[pg * PAGE / 8] != tag(b->id, pg)) return 0;
  return 1;
}

static struct block make(uint64_t id, unsigned* seed) {
  *seed = *seed * 1103515245u + 12345u;
  unsigned r = *seed >> 8;
  size_t size = (128 * KiB + (r % 64) * 64 * KiB) & ~(size_t)7; /* 128 KiB .. ~4 MiB */
  if (r % 17 == 0) size = 8 * MiB + 64;
  struct block b = {NULL, size, id};
  switch (r % 4) {
    case 0:
      b.p = malloc(size);
      break;
    case 1:
      b.p = calloc(size / 8, 8);
      if (b.p && (b.p[0] != 0 || b.p[size / 8 - 1] != 0)) atomic_fetch_add(&g_errors, 1);
      break;
    case 2:
      b.p = aligned_alloc((size_t)64 << (r % 12), size); /* 64 B .. 128 KiB */
      if (b.p && ((uintptr_t)b.p & ((64u << (r % 12)) - 1))) atomic_fetch_add(&g_errors, 1);
      break;
    default:
      b.p = realloc(NULL, size);
      break;
  }
  if (b.p == NULL) {
    fprintf(stderr, "allocation of %zu failed\n", size);
    exit(1);
  }
  stamp(&b);
  return b;
}

static void consume(struct block b, unsigned* seed) {
  if (!check(&b, b.size) || b.p[b.size / 8 - 1] != ~tag(b.id, 0) ||
      malloc_usable_size(b.p) < b.size) {
    fprintf(stderr, "block %llu (%zu bytes at %p) is corrupt\n", (unsigned long long)b.id, b.size,
            (void*)b.p);
    atomic_fetch_add(&g_errors, 1);
  }
  *seed = *seed * 1103515245u + 12345u;
  if ((*seed >> 8) % 5 == 0) { /* grow or shrink it here, then check again */
    size_t n = (*seed >> 16) % 2 ? b.size * 2 : b.size / 2;
    uint64_t* q = realloc(b.p, n);
    if (q == NULL) {
      atomic_fetch_add(&g_errors, 1);
    } else {
      b.p = q;
      size_t keep = n < b.size ? n : b.size;
      if (!check(&b, keep)) atomic_fetch_add(&g_errors, 1);
      b.size = n;
    }
  }
  free(b.p);
}

struct role {
  int self; /* fills g_q[self], consumes g_q[!self] */
  unsigned seed;
};

static void* run(void* arg) {
  struct role* r = arg;
  struct queue* mine = &g_q[r->self];
  struct queue* theirs = &g_q[!r->self];
  struct block b;
  for (uint64_t i = 0; i < BLOCKS; ++i) {
    struct block made = make((uint64_t)r->self << 40 | i, &r->seed);
    pthread_mutex_lock(&g_lock);
    for (;;) {
      if (mine->tail - mine->head < QCAP) {
        mine->items[mine->tail++ % QCAP] = made;
        pthread_cond_broadcast(&g_cond);
        break;
      }
      if (take(theirs, &b)) { /* full: make room by consuming theirs */
        pthread_mutex_unlock(&g_lock);
        consume(b, &r->seed);
        pthread_mutex_lock(&g_lock);
      } else {
        pthread_cond_wait(&g_cond, &g_lock);
      }
    }
    int got = take(theirs, &b);
    pthread_mutex_unlock(&g_lock);
    if (got) consume(b, &r->seed);
  }
  pthread_mutex_lock(&g_lock);
  g_done[r->self] = 1;
  pthread_cond_broadcast(&g_cond);
  /* Keep consuming while the other still makes blocks; what is left when
   * both are done is freed by main, a third thread. */
  while (!g_done[!r->self]) {
    if (take(theirs, &b)) {
      pthread_mutex_unlock(&g_lock);
      consume(b, &r->seed);
      pthread_mutex_lock(&g_lock);
    } else {
      pthread_cond_wait(&g_cond, &g_lock);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(void) {
  uvmt_require_shim();
  /* Routing check, from this thread (uvmt_in_uvm is not thread-safe). */
  void* probe = malloc(128 * KiB);
  UVMT_REQUIRE(uvmt_in_uvm(probe));
  free(probe);
  struct role a = {0, 1}, b = {1, 2};
  pthread_t ta, tb;
  UVMT_REQUIRE(pthread_create(&ta, NULL, run, &a) == 0);
  UVMT_REQUIRE(pthread_create(&tb, NULL, run, &b) == 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  /* What is left in the queues is freed here, a third thread. */
  struct block left;
  unsigned seed = 3;
  size_t drained = 0;
  for (int q = 0; q < 2; ++q)
    while (take(&g_q[q], &left)) {
      if (!uvmt_in_uvm(left.p)) atomic_fetch_add(&g_outside, 1);
      consume(left, &seed);
      ++drained;
    }
  UVMT_CHECK(atomic_load(&g_errors) == 0);
  UVMT_CHECK(atomic_load(&g_outside) == 0);
  printf("cross_free: %d blocks each way, %zu drained by main, %lu error(s)\n", BLOCKS, drained,
         (unsigned long)atomic_load(&g_errors));
  return uvmt_failures ? 1 : 0;
}
