/* Thread scaling: how many operations per second N threads get, for
 * N = 1, 2, 4, ... up to the CPUs this process may run on (nproc), nproc
 * itself when it is not a power of two, and 2 * nproc (oversubscribed).
 * Every point runs for a fixed time: a warm-up (50 ms quick, 100 ms full)
 * whose operations are not counted, then a measured window (200 ms quick,
 * 1 s full) at whose edges the main thread reads every worker's count. A
 * quick sweep on 2 CPUs is 30 points, about 8 s.
 *
 *   alloc_bound        issue 13's allocator-bound loop: each thread keeps 16
 *                      live blocks of 128 KiB..2 MiB (uniform, 16-byte
 *                      steps, drawn once per slot), frees a random one and
 *                      allocates one of that slot's size; first and last
 *                      8 bytes written and checked. One op = one free + one
 *                      malloc.
 *   alloc_bound_touch  the same with a tag written in every page and every
 *                      tag checked before the free.
 *   alloc_bound_resize the same with a new size for every allocation, so
 *                      that a cache of freed blocks must fit, not match.
 *   cross_thread       N/2 producer/consumer pairs, one lock-free ring of 16
 *                      blocks each: the producer allocates (16 sizes of
 *                      128 KiB..2 MiB in turn, ends tagged), the consumer
 *                      checks and frees. A thread without a partner (N = 1,
 *                      or odd N) does both with 8 blocks in flight. One op =
 *                      one block freed.
 *   <test>_alloc_test  lib/test_vmalloc.c's scenarios (vmalloc_scenarios.h)
 *                      on N workers, as the kernel runs them on nr_threads.
 *                      One op = one loop step. full_fit keeps at most 8,192
 *                      pairs and long_busy_list 16,000 blocks over all
 *                      workers (512 and 1,000 a worker up to 16 workers),
 *                      which keeps uvmalloc's mappings well below
 *                      vm.max_map_count.
 *
 *   thread_scaling quick|full [threads=1,2,4] [scenarios=NAME,...]
 *
 * Prints one line per point, scenario=NAME threads=N ops_per_s=X ops=K
 * secs=S cpus=C (CPUs the process kept busy in the window: below 1 with
 * one thread, another process took the CPU), after a line nproc=P; exits
 * 3 on corrupted data. */
#include "vmalloc_scenarios.h" /* first: common.h defines _GNU_SOURCE (CPU_COUNT) */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>

#define MAX_THREADS 512
#define LIVE 16      /* blocks a thread keeps in alloc_bound */
#define QCAP 16      /* ring size of a cross_thread pair */
#define ALONE_KEEP 8 /* blocks in flight for a thread without a partner */
#define SMALL (128 * KiB)
#define LARGE (2 * MiB)

struct block {
  char* p;
  size_t n;
  uint64_t seed;
};

/* Single producer, single consumer; head and tail on their own lines. */
struct ring {
  _Alignas(64) atomic_uint head; /* written by the consumer */
  _Alignas(64) atomic_uint tail; /* written by the producer */
  _Alignas(64) atomic_int done;  /* the producer has stopped */
  struct block slot[QCAP];
};

enum role { ALONE, PRODUCER, CONSUMER };

struct worker {
  _Alignas(64) atomic_long ops; /* read by the main thread at the window's edges */
  uint64_t rng;
  enum role role;
  struct ring* ring;
  struct block live[LIVE];
  struct tv_worker tv;
  pthread_t th;
};

struct scenario {
  const char* name;
  void* (*run)(void*);
  const struct tv_scenario* tv;
};

static struct worker g_w[MAX_THREADS];
static struct ring g_rings[MAX_THREADS / 2 + 1];
static const struct scenario* g_sc;
static pthread_barrier_t g_start;
static atomic_int g_stop;

static int stopped(void) {
  return atomic_load_explicit(&g_stop, memory_order_relaxed);
}
static void count(struct worker* w, long* ops) {
  atomic_store_explicit(&w->ops, ++*ops, memory_order_relaxed);
}

/* Sizes are multiples of 16, as the peers' blocks are: the tag at n - 8
 * then never overlaps a page's tag. */
static size_t draw_size(uint64_t* rng) {
  return rng_range(rng, SMALL, LARGE) & ~(size_t)15;
}
static struct block make(uint64_t* rng, size_t n, int touch) {
  char* p = malloc(n);
  if (p == NULL) FAIL("malloc(%zu) failed", n);
  struct block b = {p, n, rng_next(rng)};
  if (touch) tag_pages(p, 0, n, b.seed);
  tag_ends(p, n, b.seed);
  return b;
}
static void release(struct block b, int touch, const char* what) {
  if (touch) check_pages(b.p, 0, b.n, b.seed, what);
  check_ends(b.p, b.n, b.seed, what);
  free(b.p);
}

/* resize: every allocation draws a new size, instead of the slot's own. */
static void* alloc_loop(struct worker* w, int touch, int resize) {
  for (int i = 0; i < LIVE; i++) w->live[i] = make(&w->rng, draw_size(&w->rng), touch);
  pthread_barrier_wait(&g_start);
  long ops = 0;
  while (!stopped()) {
    unsigned i = (unsigned)(rng_next(&w->rng) % LIVE);
    size_t n = resize ? draw_size(&w->rng) : w->live[i].n;
    release(w->live[i], touch, g_sc->name);
    w->live[i] = make(&w->rng, n, touch);
    count(w, &ops);
  }
  for (int i = 0; i < LIVE; i++) release(w->live[i], touch, g_sc->name);
  return NULL;
}
static void* alloc_bound(void* arg) {
  return alloc_loop(arg, 0, 0);
}
static void* alloc_bound_touch(void* arg) {
  return alloc_loop(arg, 1, 0);
}
static void* alloc_bound_resize(void* arg) {
  return alloc_loop(arg, 0, 1);
}

static int push(struct ring* r, struct block b) {
  unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&r->head, memory_order_acquire) == QCAP) return 0;
  r->slot[t % QCAP] = b;
  atomic_store_explicit(&r->tail, t + 1, memory_order_release);
  return 1;
}
static int pop(struct ring* r, struct block* b) {
  unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == atomic_load_explicit(&r->tail, memory_order_acquire)) return 0;
  *b = r->slot[h % QCAP];
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return 1;
}
static unsigned queued(struct ring* r) {
  return atomic_load_explicit(&r->tail, memory_order_acquire) -
         atomic_load_explicit(&r->head, memory_order_acquire);
}

/* The producer's sizes cycle through LIVE sizes drawn once, as a slot of
 * alloc_bound keeps its size: an allocator may serve a request from a block
 * the consumer freed. */
static void* cross_thread(void* arg) {
  struct worker* w = arg;
  struct ring* r = w->ring;
  size_t sizes[LIVE];
  for (int i = 0; i < LIVE; i++) sizes[i] = draw_size(&w->rng);
  struct block b;
  long made = 0, ops = 0;
  pthread_barrier_wait(&g_start);
  switch (w->role) {
    case ALONE:
      while (!stopped()) {
        if (!push(r, make(&w->rng, sizes[made++ % LIVE], 0))) FAIL("cross_thread: own ring full");
        if (queued(r) > ALONE_KEEP && pop(r, &b)) {
          release(b, 0, "cross_thread");
          count(w, &ops);
        }
      }
      while (pop(r, &b)) release(b, 0, "cross_thread");
      break;
    case PRODUCER:
      while (!stopped()) {
        struct block nb = make(&w->rng, sizes[made++ % LIVE], 0);
        while (!push(r, nb)) sched_yield();
      }
      atomic_store_explicit(&r->done, 1, memory_order_release);
      break;
    case CONSUMER:
      for (;;) {
        if (pop(r, &b)) {
          release(b, 0, "cross_thread");
          count(w, &ops);
        } else if (atomic_load_explicit(&r->done, memory_order_acquire)) {
          if (queued(r) == 0) break;
        } else {
          sched_yield();
        }
      }
      break;
  }
  return NULL;
}

static void* vmalloc_test(void* arg) {
  struct worker* w = arg;
  const struct tv_scenario* s = g_sc->tv;
  s->setup(&w->tv);
  pthread_barrier_wait(&g_start);
  long ops = 0;
  while (!stopped()) {
    s->step(&w->tv);
    count(w, &ops);
  }
  s->teardown(&w->tv);
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
static long total_ops(int n) {
  long sum = 0;
  for (int i = 0; i < n; i++) sum += atomic_load_explicit(&g_w[i].ops, memory_order_relaxed);
  return sum;
}
/* CPU seconds of the whole process (the main thread sleeps meanwhile). */
static double cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) FAIL("getrusage");
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}
static int min_int(int a, int b) {
  return a < b ? a : b;
}

static void run_point(const struct scenario* sc, int n, long warm_ms, long window_ms) {
  g_sc = sc;
  atomic_store(&g_stop, 0);
  if (pthread_barrier_init(&g_start, NULL, (unsigned)n + 1) != 0) FAIL("pthread_barrier_init");
  for (int i = 0; i < n; i++) {
    struct worker* w = &g_w[i];
    atomic_store(&w->ops, 0);
    w->rng = 0x5CA1E000u + (uint64_t)i * 7919;
    w->tv.rng = w->rng;
    w->tv.junk_n = min_int(TV_JUNK_MAX, 8192 / n);
    w->tv.busy_n = min_int(TV_BUSY_MAX, 16000 / n);
    /* Threads 2k and 2k+1 share ring k; the last of an odd count is alone. */
    w->role = (i % 2 == 0) ? (i + 1 < n ? PRODUCER : ALONE) : CONSUMER;
    w->ring = &g_rings[i / 2];
    atomic_store(&w->ring->head, 0);
    atomic_store(&w->ring->tail, 0);
    atomic_store(&w->ring->done, 0);
  }
  for (int i = 0; i < n; i++)
    if (pthread_create(&g_w[i].th, NULL, sc->run, &g_w[i]) != 0) FAIL("pthread_create");
  pthread_barrier_wait(&g_start);
  sleep_ms(warm_ms);
  long ops0 = total_ops(n);
  double t0 = now_s(), c0 = cpu_s();
  sleep_ms(window_ms);
  long ops1 = total_ops(n);
  double t1 = now_s(), c1 = cpu_s();
  atomic_store(&g_stop, 1);
  for (int i = 0; i < n; i++) pthread_join(g_w[i].th, NULL);
  pthread_barrier_destroy(&g_start);
  double secs = t1 - t0;
  printf("scenario=%s threads=%d ops_per_s=%.0f ops=%ld secs=%.6f cpus=%.2f\n", sc->name, n,
         (double)(ops1 - ops0) / secs, ops1 - ops0, secs, (c1 - c0) / secs);
  fflush(stdout);
}

/* 1, 2, 4, ... below nproc, nproc, then 2 * nproc. */
static int default_threads(int nproc, int* out) {
  int k = 0;
  for (int t = 1; t < nproc; t *= 2) out[k++] = t;
  out[k++] = nproc;
  out[k++] = 2 * nproc;
  return k;
}
static int parse_threads(const char* list, int* out) {
  int k = 0;
  for (const char* s = list; *s != 0 && k < 64;) {
    char* end;
    long t = strtol(s, &end, 10);
    if (end == s || t < 1 || t > MAX_THREADS) FAIL("bad thread count in %s", list);
    out[k++] = (int)t;
    s = *end == ',' ? end + 1 : end;
  }
  if (k == 0) FAIL("no thread counts in %s", list);
  return k;
}
/* Whether `name` is one of the comma-separated names in `list`. */
static int listed(const char* list, const char* name) {
  size_t n = strlen(name);
  for (const char* s = list;; s++) {
    if (strncmp(s, name, n) == 0 && (s[n] == ',' || s[n] == 0)) return 1;
    s = strchr(s, ',');
    if (s == NULL) return 0;
  }
}

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "thread_scaling");
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) FAIL("sched_getaffinity");
  int nproc = min_int(CPU_COUNT(&cpus), MAX_THREADS / 2);
  int threads[64];
  int nthreads = default_threads(nproc, threads);
  const char* only = NULL;
  for (int i = 2; i < argc; i++) {
    if (strncmp(argv[i], "threads=", 8) == 0)
      nthreads = parse_threads(argv[i] + 8, threads);
    else if (strncmp(argv[i], "scenarios=", 10) == 0)
      only = argv[i] + 10;
    else
      FAIL("unknown argument %s", argv[i]);
  }

  struct scenario scenarios[4 + TV_NSCENARIOS] = {
      {"alloc_bound", alloc_bound, NULL},
      {"alloc_bound_touch", alloc_bound_touch, NULL},
      {"alloc_bound_resize", alloc_bound_resize, NULL},
      {"cross_thread", cross_thread, NULL},
  };
  static char names[TV_NSCENARIOS][64];
  for (size_t i = 0; i < TV_NSCENARIOS; i++) {
    snprintf(names[i], sizeof names[i], "%s_alloc_test", tv_scenarios[i].name);
    scenarios[4 + i] = (struct scenario){names[i], vmalloc_test, &tv_scenarios[i]};
  }

  long warm_ms = PICK(full, 50, 100), window_ms = PICK(full, 200, 1000);
  printf("nproc=%d\n", nproc);
  int points = 0;
  for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
    if (only != NULL && !listed(only, scenarios[s].name)) continue;
    for (int i = 0; i < nthreads; i++, points++)
      run_point(&scenarios[s], threads[i], warm_ms, window_ms);
  }
  if (points == 0) FAIL("no scenario matches %s", only);
  printf("points=%d\n", points);
  return 0;
}
