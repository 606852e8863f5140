/* (g) The scenarios of Linux's lib/test_vmalloc.c through malloc and
 * aligned_alloc, with the kernel's "page" scaled to a 128 KiB unit U so that
 * every request is large (>= 128 KiB). Each scenario touches the first byte
 * (as the kernel test does) and checks it; aligned ones check the
 * alignment. Loop count per scenario: 500 quick, 5,000 full (the
 * kernel's default is 1,000,000). Prints each scenario's time.
 *
 *   fix_size          malloc(3U)
 *   full_fit          512 pairs of U, every second one freed, then U in the holes
 *   long_busy_list    1,000 live U blocks, then malloc(100U) + malloc(U)
 *   random_size       malloc((1..100)U)
 *   fix_align         aligned_alloc(1 MiB, 5U)  (kernel: 5 pages at THREAD_ALIGN<<1)
 *   random_size_align aligned_alloc(1 << (r % 23), (r % 10 + 1)U), r a random byte */
#include "common.h"

#define U (128 * KiB)

static long g_loops;
static uint64_t g_rng = 0x7E57;

static char* must(char* p, size_t n, size_t align) {
  if (p == NULL) FAIL("allocation of %zu (align %zu) failed", n, align);
  if (align != 0 && ((uintptr_t)p & (align - 1)) != 0)
    FAIL("%p is not aligned to %zu", (void*)p, align);
  return p;
}
static void touch(char* p, unsigned char v) {
  *(volatile unsigned char*)p = v;
  if (*(volatile unsigned char*)p != v) FAIL("byte at %p lost", (void*)p);
}

static void fix_size(void) {
  for (long i = 0; i < g_loops; i++) {
    char* p = must(malloc(3 * U), 3 * U, 0);
    touch(p, 0);
    free(p);
  }
}

static void full_fit(void) {
  enum { JUNK = 512 };
  static char *ptr[JUNK], *junk[JUNK];
  for (int i = 0; i < JUNK; i++) {
    ptr[i] = must(malloc(U), U, 0);
    junk[i] = must(malloc(U), U, 0);
    touch(ptr[i], (unsigned char)i);
    touch(junk[i], 1);
  }
  for (int i = 0; i < JUNK; i++) free(junk[i]);
  for (long i = 0; i < g_loops; i++) {
    char* p = must(malloc(U), U, 0);
    touch(p, 1);
    free(p);
  }
  for (int i = 0; i < JUNK; i++) {
    if (*ptr[i] != (char)(unsigned char)i) FAIL("full_fit: block %d lost its byte", i);
    free(ptr[i]);
  }
}

static void long_busy_list(void) {
  enum { BUSY = 1000 };
  static char* ptr[BUSY];
  for (int i = 0; i < BUSY; i++) {
    ptr[i] = must(malloc(U), U, 0);
    touch(ptr[i], (unsigned char)i);
  }
  for (long i = 0; i < g_loops; i++) {
    char* p1 = must(malloc(100 * U), 100 * U, 0);
    char* p2 = must(malloc(U), U, 0);
    touch(p1, 0);
    touch(p2, 1);
    free(p1);
    free(p2);
  }
  for (int i = 0; i < BUSY; i++) {
    if (*ptr[i] != (char)(unsigned char)i) FAIL("long_busy_list: block %d lost its byte", i);
    free(ptr[i]);
  }
}

static void random_size(void) {
  for (long i = 0; i < g_loops; i++) {
    size_t n = (rng_next(&g_rng) % 100 + 1) * U;
    char* p = must(malloc(n), n, 0);
    touch(p, 'a');
    free(p);
  }
}

static void fix_align(void) {
  for (long i = 0; i < g_loops; i++) {
    char* p = must(aligned_alloc(1 * MiB, 5 * U), 5 * U, 1 * MiB);
    touch(p, 0);
    free(p);
  }
}

static void random_size_align(void) {
  for (long i = 0; i < g_loops; i++) {
    unsigned r = (unsigned)(rng_next(&g_rng) & 0xff);
    size_t align = (size_t)1 << (r % 23);
    size_t n = (size_t)(r % 10 + 1) * U;
    char* p = must(aligned_alloc(align, n), n, align);
    touch(p, 0);
    free(p);
  }
}

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "test_vmalloc");
  g_loops = PICK(full, 500, 5000);
  static const struct {
    const char* name;
    void (*fn)(void);
  } tests[] = {{"fix_size", fix_size},
               {"full_fit", full_fit},
               {"long_busy_list", long_busy_list},
               {"random_size", random_size},
               {"fix_align", fix_align},
               {"random_size_align", random_size_align}};
  double total = 0;
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    double t0 = now_s();
    tests[i].fn();
    double dt = now_s() - t0;
    total += dt;
    printf("t_%s_s=%.6f\n", tests[i].name, dt);
  }
  printf("loop_s=%.6f\nloops=%ld\n", total, g_loops);
  report_after_free();
  return 0;
}
