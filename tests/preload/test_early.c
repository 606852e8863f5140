/* Early start: allocations and dlopen/dlsym before main. A constructor of
 * priority 101 (the earliest a program may ask for) mallocs small and large
 * blocks, reallocs across the threshold, dlopens libm and looks symbols up
 * with dlsym (which itself allocates, e.g. for dlerror), and starts a thread
 * that allocates. main then checks that everything made early is intact,
 * that the large blocks went to uvmalloc, and frees it all. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

static char* early_small;
static char* early_large;
static char* early_zeroed;
static char* early_grown;
static void* early_libm;
static double (*early_cos)(double);
static const char* early_dlerror;
static void* early_thread_block;
static pthread_t early_thread;

static void* thread_main(void* arg) {
  (void)arg;
  char* p = malloc(3 * MiB);
  if (p != NULL) uvmt_fill(p, 3 * MiB, 5);
  return p;
}

__attribute__((constructor(101))) static void early(void) {
  early_small = malloc(100);
  if (early_small) memset(early_small, 's', 100);
  early_large = malloc(4 * MiB);
  if (early_large) uvmt_fill(early_large, 4 * MiB, 1);
  early_zeroed = calloc(1, 2 * MiB);
  early_grown = malloc(1000);
  if (early_grown) {
    uvmt_fill(early_grown, 1000, 2);
    early_grown = realloc(early_grown, 6 * MiB);
  }
  early_libm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
  if (early_libm != NULL) {
    *(void**)&early_cos = dlsym(early_libm, "cos");
    /* A failing lookup allocates the dlerror message. */
    if (dlsym(early_libm, "no_such_symbol_uvmalloc") == NULL) {
      const char* e = dlerror();
      early_dlerror = e ? strdup(e) : NULL;
    }
  }
  if (pthread_create(&early_thread, NULL, thread_main, NULL) != 0) early_thread = 0;
}

int main(void) {
  uvmt_require_shim();
  UVMT_REQUIRE(early_small != NULL && early_large != NULL && early_zeroed != NULL &&
               early_grown != NULL);
  for (int i = 0; i < 100; ++i) UVMT_CHECK(early_small[i] == 's');
  UVMT_CHECK(uvmt_verify(early_large, 4 * MiB, 1) == (size_t)-1);
  UVMT_CHECK(uvmt_all_zero(early_zeroed, 2 * MiB));
  UVMT_CHECK(uvmt_verify(early_grown, 1000, 2) == (size_t)-1);
  UVMT_CHECK(!uvmt_in_uvm(early_small));
  UVMT_CHECK(uvmt_in_uvm(early_large));
  UVMT_CHECK(uvmt_in_uvm(early_zeroed));
  UVMT_CHECK(uvmt_in_uvm(early_grown));
  UVMT_CHECK(malloc_usable_size(early_large) >= 4 * MiB);

  UVMT_CHECK(early_libm != NULL);
  UVMT_CHECK(early_cos != NULL && early_cos(0.0) == 1.0);
  UVMT_CHECK(early_dlerror != NULL && strstr(early_dlerror, "no_such_symbol_uvmalloc") != NULL);

  UVMT_REQUIRE(early_thread != 0);
  UVMT_CHECK(pthread_join(early_thread, &early_thread_block) == 0);
  UVMT_CHECK(early_thread_block != NULL && uvmt_in_uvm(early_thread_block));
  if (early_thread_block) UVMT_CHECK(uvmt_verify(early_thread_block, 3 * MiB, 5) == (size_t)-1);

  /* dlopen/dlsym again from main, and the early blocks freed and reused. */
  void* libm2 = dlopen("libm.so.6", RTLD_NOW);
  UVMT_CHECK(libm2 != NULL);
  void* sym = libm2 ? dlsym(libm2, "sqrt") : NULL;
  UVMT_CHECK(sym != NULL);
  if (libm2) dlclose(libm2);
  if (early_libm) dlclose(early_libm);
  free(early_small);
  free(early_large);
  free(early_zeroed);
  free(early_grown);
  free(early_thread_block);
  free((void*)early_dlerror);
  for (int i = 0; i < 32; ++i) {
    char* p = malloc(4 * MiB);
    UVMT_REQUIRE(p != NULL);
    UVMT_CHECK(uvmt_in_uvm(p));
    p[4 * MiB - 1] = 1;
    free(p);
  }
  printf("early: %d failure(s)\n", uvmt_failures);
  return uvmt_failures ? 1 : 0;
}
