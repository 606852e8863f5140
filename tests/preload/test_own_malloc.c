/* A program with an allocator of its own (malloc, free, calloc, realloc
 * defined in the executable, as programs that link one statically do),
 * run with the shim preloaded: its calls must stay with its allocator, also
 * those it makes through entry points only the shim defines (free_sized),
 * nothing may reach uvmalloc, and the shim must say it stands aside
 * (chain_inert.sh). A bump allocator over a static arena: free does
 * nothing. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "preload_test.h"

/* C23 / glibc 2.41: the shim exports it. */
extern void free_sized(void* p, size_t size) __attribute__((weak));

static _Alignas(16) unsigned char g_arena[64 << 20];
static size_t g_used;

static int in_arena(const void* p) {
  return (uintptr_t)p - (uintptr_t)g_arena < sizeof g_arena;
}

void* malloc(size_t n) {
  size_t start = (g_used + 15) & ~(size_t)15;
  if (n > sizeof g_arena - start) return NULL;
  g_used = start + n;
  return g_arena + start;
}
void free(void* p) {
  (void)p;
}
void* calloc(size_t a, size_t b) {
  size_t n;
  if (__builtin_mul_overflow(a, b, &n)) return NULL;
  return malloc(n); /* the arena is zero and never reused */
}
void* realloc(void* p, size_t n) {
  void* q = malloc(n);
  if (q != NULL && p != NULL) memcpy(q, p, n); /* the arena is larger than any copy here */
  return q;
}

int main(void) {
  uvmt_require_shim();
  UVMT_REQUIRE(free_sized != NULL);
  void* blocks[] = {malloc(100), malloc(4 << 20), calloc(1, 1 << 20), realloc(NULL, 2 << 20)};
  for (size_t i = 0; i < sizeof blocks / sizeof *blocks; ++i) {
    UVMT_CHECK(blocks[i] != NULL && in_arena(blocks[i]));
    free_sized(blocks[i], 0); /* the shim's: on to the program's free */
  }
  /* The program has no valloc: whoever serves it (glibc, as without the
   * shim), uvmalloc must not. */
  void* v = valloc(1 << 20);
  UVMT_CHECK(v != NULL && !uvmt_in_uvm(v));
  uintptr_t lo, hi;
  UVMT_CHECK(!uvmt_find_space(&lo, &hi));
  printf("own malloc: %d failure(s)\n", uvmt_failures);
  return uvmt_failures ? 1 : 0;
}
