/* The scenarios of Linux's lib/test_vmalloc.c through malloc and
 * aligned_alloc, with the kernel's "page" scaled to a 128 KiB unit U so that
 * every request is large (>= 128 KiB). Each scenario is a setup, one loop
 * step and a teardown over one worker's state, so that test_vmalloc.c runs
 * them in one thread and thread_scaling.c on N workers at once, as the
 * kernel's test does with nr_threads. Every step touches the first byte of
 * what it allocates (as the kernel test does) and checks it; aligned ones
 * check the alignment; the teardowns check the blocks kept across the loop.
 *
 *   fix_size          malloc(3U)
 *   full_fit          junk_n pairs of U, every second one freed, then U in the holes
 *   long_busy_list    busy_n live U blocks, then malloc(100U) + malloc(U)
 *   random_size       malloc((1..100)U)
 *   fix_align         aligned_alloc(1 MiB, 5U)  (kernel: 5 pages at THREAD_ALIGN<<1)
 *   random_size_align aligned_alloc(1 << (r % 23), (r % 10 + 1)U), r a random byte
 *
 * The kernel's align_shift_alloc_test is left out: it asks for every
 * alignment up to 2^63 and is "supposed to be failed", a check of the error
 * path rather than a loop to time. */
#ifndef HARNESS_VMALLOC_SCENARIOS_H
#define HARNESS_VMALLOC_SCENARIOS_H

#include "common.h"

#define TV_U (128 * KiB)
#define TV_JUNK_MAX 512  /* the kernel keeps fls(ncpus) * 8192 one-page pairs */
#define TV_BUSY_MAX 1000 /* the kernel keeps 15,000 one-page areas */

struct tv_worker {
  uint64_t rng;
  int junk_n, busy_n; /* how many pairs full_fit and blocks long_busy_list keep */
  char* kept[TV_BUSY_MAX > TV_JUNK_MAX ? TV_BUSY_MAX : TV_JUNK_MAX];
};

static char* tv_must(char* p, size_t n, size_t align) {
  if (p == NULL) FAIL("allocation of %zu (align %zu) failed", n, align);
  if (align != 0 && ((uintptr_t)p & (align - 1)) != 0)
    FAIL("%p is not aligned to %zu", (void*)p, align);
  return p;
}
static void tv_touch(char* p, unsigned char v) {
  *(volatile unsigned char*)p = v;
  if (*(volatile unsigned char*)p != v) FAIL("byte at %p lost", (void*)p);
}
/* Frees the kept blocks after checking the byte each was given. */
static void tv_release_kept(struct tv_worker* w, int n, const char* what) {
  for (int i = 0; i < n; i++) {
    if (*w->kept[i] != (char)(unsigned char)i) FAIL("%s: block %d lost its byte", what, i);
    free(w->kept[i]);
  }
}
static void tv_none(struct tv_worker* w) {
  (void)w;
}

static void fix_size_step(struct tv_worker* w) {
  (void)w;
  char* p = tv_must(malloc(3 * TV_U), 3 * TV_U, 0);
  tv_touch(p, 0);
  free(p);
}

static void full_fit_setup(struct tv_worker* w) {
  char* junk[TV_JUNK_MAX];
  for (int i = 0; i < w->junk_n; i++) {
    w->kept[i] = tv_must(malloc(TV_U), TV_U, 0);
    junk[i] = tv_must(malloc(TV_U), TV_U, 0);
    tv_touch(w->kept[i], (unsigned char)i);
    tv_touch(junk[i], 1);
  }
  for (int i = 0; i < w->junk_n; i++) free(junk[i]);
}
static void full_fit_step(struct tv_worker* w) {
  (void)w;
  char* p = tv_must(malloc(TV_U), TV_U, 0);
  tv_touch(p, 1);
  free(p);
}
static void full_fit_teardown(struct tv_worker* w) {
  tv_release_kept(w, w->junk_n, "full_fit");
}

static void long_busy_list_setup(struct tv_worker* w) {
  for (int i = 0; i < w->busy_n; i++) {
    w->kept[i] = tv_must(malloc(TV_U), TV_U, 0);
    tv_touch(w->kept[i], (unsigned char)i);
  }
}
static void long_busy_list_step(struct tv_worker* w) {
  (void)w;
  char* p1 = tv_must(malloc(100 * TV_U), 100 * TV_U, 0);
  char* p2 = tv_must(malloc(TV_U), TV_U, 0);
  tv_touch(p1, 0);
  tv_touch(p2, 1);
  free(p1);
  free(p2);
}
static void long_busy_list_teardown(struct tv_worker* w) {
  tv_release_kept(w, w->busy_n, "long_busy_list");
}

static void random_size_step(struct tv_worker* w) {
  size_t n = (rng_next(&w->rng) % 100 + 1) * TV_U;
  char* p = tv_must(malloc(n), n, 0);
  tv_touch(p, 'a');
  free(p);
}

static void fix_align_step(struct tv_worker* w) {
  (void)w;
  char* p = tv_must(aligned_alloc(1 * MiB, 5 * TV_U), 5 * TV_U, 1 * MiB);
  tv_touch(p, 0);
  free(p);
}

static void random_size_align_step(struct tv_worker* w) {
  unsigned r = (unsigned)(rng_next(&w->rng) & 0xff);
  size_t align = (size_t)1 << (r % 23);
  size_t n = (size_t)(r % 10 + 1) * TV_U;
  char* p = tv_must(aligned_alloc(align, n), n, align);
  tv_touch(p, 0);
  free(p);
}

struct tv_scenario {
  const char* name; /* the kernel's test name without "_alloc_test" */
  void (*setup)(struct tv_worker*);
  void (*step)(struct tv_worker*);
  void (*teardown)(struct tv_worker*);
};
static const struct tv_scenario tv_scenarios[] = {
    {"fix_size", tv_none, fix_size_step, tv_none},
    {"full_fit", full_fit_setup, full_fit_step, full_fit_teardown},
    {"long_busy_list", long_busy_list_setup, long_busy_list_step, long_busy_list_teardown},
    {"random_size", tv_none, random_size_step, tv_none},
    {"fix_align", tv_none, fix_align_step, tv_none},
    {"random_size_align", tv_none, random_size_align_step, tv_none},
};
#define TV_NSCENARIOS (sizeof tv_scenarios / sizeof tv_scenarios[0])

#endif
