/* The malloc family under the shim, one function at a time, with the edge
 * cases and errno values glibc documents. Runs with LD_PRELOAD set by ctest;
 * never links uvmalloc. Whether a block went to uvmalloc is decided by its
 * address (see preload_test.h). Usage: test_family [name-substring]. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload_test.h"

/* C23 / glibc 2.41; glibc 2.36 lacks them, the shim exports them. Weak, so
 * the program links without the shim and the test sees NULL there. */
extern void free_sized(void* p, size_t size) __attribute__((weak));
extern void free_aligned_sized(void* p, size_t align, size_t size) __attribute__((weak));

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

static size_t g_page;
static size_t g_threshold;

/* Sizes hidden from the compiler (no -Walloc-size-larger-than, no folding). */
static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_half = SIZE_MAX / 2;
/* Alignments that are no power of two (clang warns about literal ones). */
static volatile size_t v_zero = 0, v_three = 3, v_24 = 24;

static int aligned_to(const void* p, size_t align) {
  return ((uintptr_t)p & (align - 1)) == 0;
}

static void test_malloc_zero(void) {
  void* p = malloc(0);
  UVMT_CHECK(p != NULL);
  UVMT_CHECK(!uvmt_in_uvm(p));
  free(p);
  void* q = malloc(0);
  void* r = malloc(0);
  UVMT_CHECK(q != NULL && r != NULL && q != r);
  free(q);
  free(r);
}

static void test_free_null(void) {
  errno = 1234;
  free(NULL);
  UVMT_CHECK(errno == 1234);
  if (free_sized) free_sized(NULL, 0);
  if (free_aligned_sized) free_aligned_sized(NULL, 64, 0);
}

static void test_threshold_routing(void) {
  char* below = malloc(g_threshold - 1);
  char* at = malloc(g_threshold);
  UVMT_CHECK(below != NULL && at != NULL);
  UVMT_CHECK(!uvmt_in_uvm(below));
  UVMT_CHECK(uvmt_in_uvm(at));
  memset(below, 1, g_threshold - 1);
  memset(at, 2, g_threshold);
  free(below);
  free(at);
  size_t sizes[] = {g_threshold, 1 * MiB, 7 * MiB + 123, 64 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    char* p = malloc(sizes[i]);
    UVMT_CHECK(uvmt_in_uvm(p));
    UVMT_CHECK(aligned_to(p, 16));
    uvmt_fill(p, sizes[i], (unsigned)i);
    UVMT_CHECK(uvmt_verify(p, sizes[i], (unsigned)i) == (size_t)-1);
    free(p);
  }
}

static void test_calloc_overflow(void) {
  errno = 0;
  UVMT_CHECK(calloc(v_half + 1, 2) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  errno = 0;
  UVMT_CHECK(calloc(v_half >> 30, v_half >> 30) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  errno = 0;
  UVMT_CHECK(calloc(v_size_max, v_size_max) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  /* n * size that fits but is enormous: still ENOMEM, not a crash. */
  errno = 0;
  UVMT_CHECK(calloc(1, v_size_max) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  void* z = calloc(0, 0);
  UVMT_CHECK(z != NULL);
  free(z);
}

static void test_calloc_zeroed_after_dirty(void) {
  size_t sizes[] = {g_threshold, 256 * KiB, 4 * MiB, 4 * MiB + 4096, 32 * MiB};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
      size_t n = sizes[i];
      unsigned char* dirty = malloc(n);
      UVMT_REQUIRE(dirty != NULL);
      UVMT_CHECK(uvmt_in_uvm(dirty));
      memset(dirty, 0xAB, malloc_usable_size(dirty));
      free(dirty);
      unsigned char* z = calloc(1, n);
      UVMT_REQUIRE(z != NULL);
      UVMT_CHECK(uvmt_in_uvm(z));
      /* The whole usable size must be zero, not only the n bytes. */
      UVMT_CHECK(uvmt_all_zero(z, malloc_usable_size(z)));
      memset(z, 0xCD, n);
      free(z);
      /* calloc(n, size) with the product large. */
      unsigned* w = calloc(n / sizeof(unsigned), sizeof(unsigned));
      UVMT_REQUIRE(w != NULL);
      UVMT_CHECK(uvmt_all_zero(w, n / sizeof(unsigned) * sizeof(unsigned)));
      free(w);
    }
  }
  /* Many dirty blocks freed at once, then many callocs (pool and lazy reuse). */
  enum { N = 24 };
  void* blocks[N];
  for (int i = 0; i < N; ++i) {
    blocks[i] = malloc((size_t)(i % 6 + 1) * MiB);
    UVMT_REQUIRE(blocks[i] != NULL);
    memset(blocks[i], 0x5A, (size_t)(i % 6 + 1) * MiB);
  }
  for (int i = 0; i < N; ++i) free(blocks[i]);
  for (int i = 0; i < N; ++i) {
    blocks[i] = calloc((size_t)((i + 3) % 6 + 1), MiB);
    UVMT_REQUIRE(blocks[i] != NULL);
    UVMT_CHECK(uvmt_all_zero(blocks[i], (size_t)((i + 3) % 6 + 1) * MiB));
  }
  for (int i = 0; i < N; ++i) free(blocks[i]);
}

static void test_realloc_null(void) {
  char* s = realloc(NULL, 100);
  UVMT_CHECK(s != NULL && !uvmt_in_uvm(s));
  memset(s, 1, 100);
  free(s);
  char* l = realloc(NULL, 2 * MiB);
  UVMT_CHECK(l != NULL && uvmt_in_uvm(l));
  memset(l, 1, 2 * MiB);
  free(l);
}

static void test_realloc_zero(void) {
  /* glibc: realloc(p, 0) frees p and returns NULL. */
  char* s = malloc(100);
  UVMT_REQUIRE(s != NULL);
  UVMT_CHECK(realloc(s, 0) == NULL);
  char* l = malloc(3 * MiB);
  UVMT_REQUIRE(l != NULL);
  memset(l, 7, 3 * MiB);
  UVMT_CHECK(realloc(l, 0) == NULL);
  /* The large block really went away: its space can be had again. */
  for (int i = 0; i < 64; ++i) {
    char* again = malloc(3 * MiB);
    UVMT_REQUIRE(again != NULL);
    UVMT_CHECK(realloc(again, 0) == NULL);
  }
}

static void test_realloc_across_threshold(void) {
  size_t small = g_threshold / 2;
  /* small -> large */
  char* p = malloc(small);
  UVMT_REQUIRE(p != NULL);
  UVMT_CHECK(!uvmt_in_uvm(p));
  uvmt_fill(p, small, 11);
  p = realloc(p, 8 * MiB);
  UVMT_REQUIRE(p != NULL);
  UVMT_CHECK(uvmt_in_uvm(p));
  UVMT_CHECK(uvmt_verify(p, small, 11) == (size_t)-1);
  memset(p + small, 0x33, 8 * MiB - small);
  /* large -> small */
  uvmt_fill(p, 8 * MiB, 12);
  p = realloc(p, small);
  UVMT_REQUIRE(p != NULL);
  UVMT_CHECK(!uvmt_in_uvm(p));
  UVMT_CHECK(uvmt_verify(p, small, 12) == (size_t)-1);
  free(p);
  /* Right at the boundary, both ways. */
  p = malloc(g_threshold - 1);
  UVMT_REQUIRE(p != NULL);
  uvmt_fill(p, g_threshold - 1, 13);
  p = realloc(p, g_threshold);
  UVMT_REQUIRE(p != NULL);
  UVMT_CHECK(uvmt_in_uvm(p));
  UVMT_CHECK(uvmt_verify(p, g_threshold - 1, 13) == (size_t)-1);
  p = realloc(p, g_threshold - 1);
  UVMT_REQUIRE(p != NULL);
  UVMT_CHECK(!uvmt_in_uvm(p));
  UVMT_CHECK(uvmt_verify(p, g_threshold - 1, 13) == (size_t)-1);
  free(p);
}

static void test_realloc_large_growth(void) {
  size_t n = 256 * KiB;
  char* p = malloc(n);
  UVMT_REQUIRE(p != NULL);
  uvmt_fill(p, n, 21);
  /* A neighbour right after it makes some growths move. */
  char* neighbour = NULL;
  for (; n < 256 * MiB; n *= 2) {
    char* q = realloc(p, n * 2);
    UVMT_REQUIRE(q != NULL);
    p = q;
    UVMT_CHECK(uvmt_in_uvm(p));
    UVMT_CHECK(uvmt_verify(p, n, 21) == (size_t)-1);
    uvmt_fill(p, n * 2, 21);
    if (neighbour == NULL) {
      neighbour = malloc(1 * MiB);
      memset(neighbour, 0x44, 1 * MiB);
    }
  }
  /* Odd sizes, shrink and grow again. */
  size_t sizes[] = {100 * MiB + 17, 3 * MiB + 1, 300 * KiB + 5, 9 * MiB + 4095};
  size_t have = n;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    size_t m = sizes[i];
    p = realloc(p, m);
    UVMT_REQUIRE(p != NULL);
    size_t keep = m < have ? m : have;
    UVMT_CHECK(uvmt_verify(p, keep, 21 + (unsigned)i) == (size_t)-1);
    uvmt_fill(p, m, 22 + (unsigned)i);
    have = m;
  }
  size_t bad = 0;
  for (size_t i = 0; i < 1 * MiB; ++i) bad += neighbour[i] != 0x44;
  UVMT_CHECK(bad == 0);
  free(neighbour);
  free(p);
}

static void test_reallocarray(void) {
  char* p = malloc(1000);
  UVMT_REQUIRE(p != NULL);
  memset(p, 9, 1000);
  errno = 0;
  UVMT_CHECK(reallocarray(uvmt_launder(p), v_half + 1, 2) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  UVMT_CHECK(p[999] == 9); /* untouched */
  int* a = reallocarray(p, 1 * MiB, sizeof(int));
  UVMT_REQUIRE(a != NULL);
  UVMT_CHECK(uvmt_in_uvm(a));
  UVMT_CHECK(((char*)a)[999] == 9);
  errno = 0;
  UVMT_CHECK(reallocarray(uvmt_launder(a), v_size_max, v_size_max) == NULL);
  UVMT_CHECK(errno == ENOMEM);
  a[1 * MiB - 1] = 5;
  free(a);
  void* n = reallocarray(NULL, 512, 1024);
  UVMT_CHECK(n != NULL && uvmt_in_uvm(n));
  free(n);
}

static void test_posix_memalign_errors(void) {
  size_t bad[] = {0, 1, 2, 3, 4, sizeof(void*) / 2, 24, 48, 4095, 4097, ((size_t)1 << 40) + 8};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
    void* out = (void*)0x1234;
    UVMT_CHECK(posix_memalign(&out, bad[i], 100) == EINVAL);
    UVMT_CHECK(out == (void*)0x1234);
    UVMT_CHECK(posix_memalign(&out, bad[i], 1 * MiB) == EINVAL);
    UVMT_CHECK(out == (void*)0x1234);
  }
  void* out = (void*)0x1234;
  UVMT_CHECK(posix_memalign(&out, 64, v_size_max) == ENOMEM);
  UVMT_CHECK(out == (void*)0x1234);
  UVMT_CHECK(posix_memalign(&out, GiB, v_half) == ENOMEM);
  UVMT_CHECK(out == (void*)0x1234);
  /* Size 0 succeeds with something free() takes. */
  UVMT_CHECK(posix_memalign(&out, 64, 0) == 0);
  free(out);
}

static void check_aligned(void* p, size_t align, size_t size, int large) {
  UVMT_CHECK(p != NULL);
  if (p == NULL) return;
  UVMT_CHECK(aligned_to(p, align));
  UVMT_CHECK(malloc_usable_size(p) >= size);
  if (large) {
    UVMT_CHECK(uvmt_in_uvm(p));
  } else {
    UVMT_CHECK(!uvmt_in_uvm(p));
  }
  memset(p, 0x77, size);
  free(p);
}

static void test_alignment_honoured(void) {
  size_t small_sizes[] = {1, 100, 4000};
  size_t large_sizes[] = {g_threshold, 200 * KiB, 5 * MiB + 3};
  for (size_t a = sizeof(void*); a <= 1 * MiB; a <<= 1) {
    for (size_t i = 0; i < 3; ++i) {
      size_t s = small_sizes[i];
      if (s < g_threshold) {
        void* p = NULL;
        UVMT_CHECK(posix_memalign(&p, a, s) == 0);
        check_aligned(p, a, s, 0);
        check_aligned(aligned_alloc(a, s), a, s, 0);
        check_aligned(memalign(a, s), a, s, 0);
      }
      size_t l = large_sizes[i];
      void* p = NULL;
      UVMT_CHECK(posix_memalign(&p, a, l) == 0);
      check_aligned(p, a, l, 1);
      check_aligned(aligned_alloc(a, l), a, l, 1);
      check_aligned(memalign(a, l), a, l, 1);
    }
  }
  /* Huge alignments for large requests, up to 1 GiB. */
  for (size_t a = 2 * MiB; a <= GiB; a <<= 1) {
    void* p = NULL;
    UVMT_CHECK(posix_memalign(&p, a, 2 * MiB) == 0);
    check_aligned(p, a, 2 * MiB, 1);
    check_aligned(aligned_alloc(a, 3 * MiB), a, 3 * MiB, 1);
    check_aligned(memalign(a, g_threshold), a, g_threshold, 1);
  }
  /* Several 1 GiB-aligned blocks live at once. */
  void* gi[4];
  for (int i = 0; i < 4; ++i) {
    gi[i] = aligned_alloc(GiB, 1 * MiB);
    UVMT_CHECK(gi[i] != NULL && aligned_to(gi[i], GiB) && uvmt_in_uvm(gi[i]));
    if (gi[i]) memset(gi[i], i, 1 * MiB);
  }
  for (int i = 0; i < 4; ++i) free(gi[i]);
  /* valloc: page aligned. */
  check_aligned(valloc(10), g_page, 10, 0);
  check_aligned(valloc(3 * MiB), g_page, 3 * MiB, 1);
  /* pvalloc: page aligned, size rounded up to a page. */
  void* pv = pvalloc(10);
  UVMT_CHECK(pv != NULL && aligned_to(pv, g_page) && malloc_usable_size(pv) >= g_page);
  if (pv) memset(pv, 1, g_page);
  free(pv);
  pv = pvalloc(3 * MiB + 1);
  UVMT_CHECK(pv != NULL && aligned_to(pv, g_page) && uvmt_in_uvm(pv));
  UVMT_CHECK(malloc_usable_size(pv) >= 3 * MiB + g_page);
  if (pv) memset(pv, 1, 3 * MiB + g_page);
  free(pv);
  /* memalign rounds a non-power-of-two alignment up (glibc). */
  void* m = memalign(v_three, 100);
  UVMT_CHECK(m != NULL && aligned_to(m, 4));
  free(m);
  m = memalign(v_three * 4096, 1 * MiB);
  UVMT_CHECK(m != NULL && aligned_to(m, 16384) && uvmt_in_uvm(m));
  free(m);
  /* memalign(0, n) and memalign(1, n) behave as malloc. */
  m = memalign(v_zero, 1 * MiB);
  UVMT_CHECK(m != NULL && uvmt_in_uvm(m));
  free(m);
  /* aligned_alloc with a non-power-of-two alignment: EINVAL (glibc >= 2.38,
   * C17 DR 460). */
  errno = 0;
  UVMT_CHECK(aligned_alloc(v_24, 1 * MiB) == NULL);
  UVMT_CHECK(errno == EINVAL);
  errno = 0;
  UVMT_CHECK(aligned_alloc(v_zero, 1 * MiB) == NULL);
  UVMT_CHECK(errno == EINVAL);
  /* memalign with an alignment no power of two can reach: EINVAL. */
  errno = 0;
  UVMT_CHECK(memalign(v_half + 2, 100) == NULL);
  UVMT_CHECK(errno == EINVAL);
}

static void test_pvalloc_zero(void) {
  void* p = pvalloc(0);
  UVMT_CHECK(p != NULL);
  UVMT_CHECK(aligned_to(p, g_page));
  UVMT_CHECK(malloc_usable_size(p) >= g_page);
  if (p) memset(p, 0x11, g_page);
  free(p);
}

static void test_usable_size(void) {
  UVMT_CHECK(malloc_usable_size(NULL) == 0);
  size_t sizes[] = {1, 24, 1000, g_threshold - 1, g_threshold, 200 * KiB + 1, 1 * MiB, 5 * MiB + 7};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    size_t n = sizes[i] ? sizes[i] : 1;
    unsigned char* p = malloc(n);
    UVMT_REQUIRE(p != NULL);
    size_t u = malloc_usable_size(p);
    UVMT_CHECK(u >= n);
    if (n >= g_threshold) {
      UVMT_CHECK(uvmt_in_uvm(p));
      UVMT_CHECK(u % g_page == 0);
      UVMT_CHECK(u < n + g_page);
    }
    memset(p, 0xEE, u); /* every usable byte is writable */
    free(p);
  }
  void* c = calloc(3, 100 * KiB);
  UVMT_CHECK(c != NULL && malloc_usable_size(c) >= 300 * KiB &&
             malloc_usable_size(c) % g_page == 0);
  free(c);
  void* r = realloc(NULL, 1 * MiB + 1);
  UVMT_CHECK(r != NULL && malloc_usable_size(r) == 1 * MiB + g_page);
  r = realloc(r, 2 * MiB - 1);
  UVMT_CHECK(r != NULL && malloc_usable_size(r) == 2 * MiB);
  free(r);
}

static void test_free_sized(void) {
  UVMT_CHECK(free_sized != NULL);
  UVMT_CHECK(free_aligned_sized != NULL);
  if (free_sized == NULL || free_aligned_sized == NULL) return;
  for (int i = 0; i < 16; ++i) {
    void* s = malloc(100);
    void* l = malloc(2 * MiB);
    UVMT_REQUIRE(s != NULL && l != NULL);
    memset(l, 1, 2 * MiB);
    free_sized(s, 100);
    free_sized(l, 2 * MiB);
    void* as = aligned_alloc(256, 512);
    void* al = aligned_alloc(4 * MiB, 3 * MiB);
    UVMT_REQUIRE(as != NULL && al != NULL);
    UVMT_CHECK(uvmt_in_uvm(al));
    memset(al, 2, 3 * MiB);
    free_aligned_sized(as, 256, 512);
    free_aligned_sized(al, 4 * MiB, 3 * MiB);
  }
}

static void test_huge_sizes(void) {
  size_t huge[] = {v_size_max, v_half, v_half + 1, v_size_max - 4095, (size_t)1 << 62};
  for (size_t i = 0; i < sizeof huge / sizeof *huge; ++i) {
    size_t n = huge[i];
    errno = 0;
    UVMT_CHECK(malloc(n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(calloc(1, n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(realloc(NULL, n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(aligned_alloc(4096, n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(memalign(GiB, n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(valloc(n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(pvalloc(n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    /* A failed realloc leaves the block alone, small and large. */
    char* s = malloc(100);
    char* l = malloc(2 * MiB);
    UVMT_REQUIRE(s != NULL && l != NULL);
    memset(s, 3, 100);
    memset(l, 4, 2 * MiB);
    errno = 0;
    UVMT_CHECK(realloc(uvmt_launder(s), n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    errno = 0;
    UVMT_CHECK(realloc(uvmt_launder(l), n) == NULL);
    UVMT_CHECK(errno == ENOMEM);
    UVMT_CHECK(s[99] == 3 && l[2 * MiB - 1] == 4 && uvmt_in_uvm(l));
    free(s);
    free(l);
  }
  /* Larger than the vmalloc space but not absurd: either NULL with ENOMEM
   * (from uvmalloc and then from the next allocator) or a usable block. */
  errno = 0;
  void* big = malloc(65 * GiB);
  UVMT_CHECK(big != NULL || errno == ENOMEM);
  free(big);
}

/* Everything still works after all of the above, with many live blocks. */
static void test_many_live(void) {
  enum { N = 512 };
  static void* p[N];
  for (int i = 0; i < N; ++i) {
    size_t n = (i % 3 == 0) ? 64 + (size_t)i : g_threshold + (size_t)i * 4096;
    p[i] = malloc(n);
    UVMT_REQUIRE(p[i] != NULL);
    memset(p[i], i & 0xff, 64);
  }
  for (int i = 0; i < N; ++i) {
    UVMT_CHECK(((unsigned char*)p[i])[63] == (i & 0xff));
    free(p[i]);
  }
}

/* The small path of every entry point goes to the next allocator without
 * touching errno, and the large path next to it still routes by address. */
static void test_small_path(void) {
  errno = 4321;
  void* m = malloc(100);
  void* c = calloc(10, 10);
  void* r = realloc(NULL, 100);
  r = realloc(r, 3000);
  void* a = aligned_alloc(64, 128);
  void* ma = memalign(256, 100);
  void* v = valloc(100);
  void* pm = NULL;
  UVMT_CHECK(posix_memalign(&pm, 32, 100) == 0);
  UVMT_CHECK(errno == 4321);
  void* all[] = {m, c, r, a, ma, v, pm};
  for (size_t i = 0; i < sizeof all / sizeof *all; ++i) {
    UVMT_CHECK(all[i] != NULL && !uvmt_in_uvm(all[i]));
    UVMT_CHECK(malloc_usable_size(all[i]) >= 100);
  }
  UVMT_CHECK(aligned_to(a, 64) && aligned_to(ma, 256) && aligned_to(v, g_page) &&
             aligned_to(pm, 32));
  UVMT_CHECK(uvmt_all_zero(c, 100));
  /* Interleaved with large blocks: each free goes to the right owner. */
  void* big = malloc(g_threshold);
  UVMT_CHECK(uvmt_in_uvm(big));
  for (size_t i = 0; i < sizeof all / sizeof *all; ++i) free(all[i]);
  UVMT_CHECK(errno == 4321);
  free(big);
}

struct test {
  const char* name;
  void (*fn)(void);
};

int main(int argc, char** argv) {
  uvmt_require_shim();
  g_page = (size_t)sysconf(_SC_PAGESIZE);
  g_threshold = uvmt_threshold();
  /* The sizes below take 200 KiB and up as large and 4000 bytes as small. */
  UVMT_REQUIRE(g_threshold > 4000 && g_threshold <= 128 * KiB);
  /* Make sure uvmalloc is up, then that its space is visible. */
  void* probe = malloc(g_threshold);
  UVMT_REQUIRE(probe != NULL);
  uintptr_t lo, hi;
  UVMT_REQUIRE(uvmt_find_space(&lo, &hi));
  UVMT_REQUIRE(uvmt_in_uvm(probe));
  free(probe);
  printf("vmalloc space %#lx-%#lx (%lu GiB), threshold %zu\n", (unsigned long)lo, (unsigned long)hi,
         (unsigned long)((hi - lo) >> 30), g_threshold);

  const struct test tests[] = {
      {"malloc_zero", test_malloc_zero},
      {"free_null", test_free_null},
      {"small_path", test_small_path},
      {"threshold_routing", test_threshold_routing},
      {"calloc_overflow", test_calloc_overflow},
      {"calloc_zeroed_after_dirty", test_calloc_zeroed_after_dirty},
      {"realloc_null", test_realloc_null},
      {"realloc_zero", test_realloc_zero},
      {"realloc_across_threshold", test_realloc_across_threshold},
      {"realloc_large_growth", test_realloc_large_growth},
      {"reallocarray", test_reallocarray},
      {"posix_memalign_errors", test_posix_memalign_errors},
      {"alignment_honoured", test_alignment_honoured},
      {"pvalloc_zero", test_pvalloc_zero},
      {"usable_size", test_usable_size},
      {"free_sized", test_free_sized},
      {"huge_sizes", test_huge_sizes},
      {"many_live", test_many_live},
  };
  int failed_tests = 0;
  for (size_t i = 0; i < sizeof tests / sizeof *tests; ++i) {
    if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL) continue;
    int before = uvmt_failures;
    tests[i].fn();
    int bad = uvmt_failures - before;
    printf("[%s] %s\n", bad ? "FAIL" : " OK ", tests[i].name);
    fflush(stdout);
    if (bad) ++failed_tests;
  }
  printf("%d test(s) failed\n", failed_tests);
  return failed_tests ? 1 : 0;
}
