/* Blocks from before a fork(), changed after it. Each process must keep a
 * private snapshot: when one process grows (in place or by moving), shrinks,
 * frees and reallocates, or reuses a lazily freed area, and then writes, the
 * other process's untouched view of the pre-fork blocks must not change, and
 * the process doing it must keep its own contents.
 *
 * Runs the same sequence twice: once with the child mutating while the
 * parent checks, once with the parent mutating while the child checks. The
 * checker writes nothing to the watched blocks, so its views still read the
 * pages the two processes had in common at the fork. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

enum { GROW, NEIGHBOUR, SHRINK, FREED, EDGE, NBLOCKS };
static const size_t kSize[NBLOCKS] = {8 * MiB, 8 * MiB, 8 * MiB, 4 * MiB, 2 * MiB};

struct set {
  unsigned char* b[NBLOCKS];
};

static void make_set(struct set* s, unsigned seed) {
  for (int i = 0; i < NBLOCKS; ++i) {
    s->b[i] = malloc(kSize[i]);
    UVMT_REQUIRE(s->b[i] != NULL && uvmt_in_uvm(s->b[i]));
    uvmt_fill(s->b[i], kSize[i], seed + (unsigned)i);
  }
}

/* Returns 0 when every block still holds its pre-fork pattern. */
static int check_set(const struct set* s, unsigned seed, const char* who) {
  int bad = 0;
  for (int i = 0; i < NBLOCKS; ++i) {
    size_t at = uvmt_verify(s->b[i], kSize[i], seed + (unsigned)i);
    if (at != (size_t)-1) {
      fprintf(stderr, "%s: pre-fork block %d changed at offset %zu (byte %#x)\n", who, i, at,
              s->b[i][at]);
      bad = 1;
    }
  }
  return bad;
}

/* The mutating side. Returns 0 on success, else a code. */
static int mutate(struct set* s, unsigned seed) {
  /* 1. Grow a block whose neighbour is live: it has to move (or copy). */
  unsigned char* g = realloc(s->b[GROW], 40 * MiB);
  if (g == NULL) return 20;
  if (uvmt_verify(g, kSize[GROW], seed + GROW) != (size_t)-1) return 21;
  memset(g, 0xC1, 40 * MiB);
  s->b[GROW] = g;
  /* 2. Shrink in place: the tail pages go back; then allocate and write a
   * lot so that any page given back gets reused. */
  unsigned char* sh = realloc(s->b[SHRINK], 1 * MiB);
  if (sh == NULL) return 22;
  if (uvmt_verify(sh, 1 * MiB, seed + SHRINK) != (size_t)-1) return 23;
  memset(sh, 0xC2, 1 * MiB);
  s->b[SHRINK] = sh;
  /* 3. Free one outright. */
  free(s->b[FREED]);
  s->b[FREED] = NULL;
  /* 4. Grow the last block: the space after it is free, so in place. */
  unsigned char* e = realloc(s->b[EDGE], 16 * MiB);
  if (e == NULL) return 24;
  if (uvmt_verify(e, kSize[EDGE], seed + EDGE) != (size_t)-1) return 25;
  memset(e, 0xC3, 16 * MiB);
  s->b[EDGE] = e;
  /* 5. New allocations of every size just given back, written. */
  size_t sizes[] = {7 * MiB, 4 * MiB, 4 * MiB, 8 * MiB, 2 * MiB, 1 * MiB, 16 * MiB};
  unsigned char* fresh[sizeof sizes / sizeof *sizes];
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    fresh[i] = calloc(1, sizes[i]);
    if (fresh[i] == NULL) return 26;
    if (!uvmt_all_zero(fresh[i], sizes[i])) return 27;
    memset(fresh[i], 0xC4, sizes[i]);
  }
  /* 6. Move a grown block again, and shrink the moved one. */
  g = realloc(s->b[GROW], 100 * MiB);
  if (g == NULL) return 28;
  for (size_t i = 0; i < 40 * MiB; i += 4096)
    if (g[i] != 0xC1) return 29;
  s->b[GROW] = g;
  g = realloc(g, 3 * MiB);
  if (g == NULL || g[3 * MiB - 1] != 0xC1) return 30;
  s->b[GROW] = g;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; ++i) {
    for (size_t j = 0; j < sizes[i]; j += 4096)
      if (fresh[i][j] != 0xC4) return 31;
    free(fresh[i]);
  }
  for (int i = 0; i < NBLOCKS; ++i) free(s->b[i]);
  return 0;
}

/* The same size as an area lazily freed before the fork (which may be
 * reused), written, then grown so that it moves. */
static int lazy_reuse(size_t n) {
  unsigned char* p = malloc(n);
  if (p == NULL) return 40;
  memset(p, 0xC5, n);
  unsigned char* q = realloc(p, 4 * n);
  if (q == NULL) return 41;
  for (size_t i = 0; i < n; i += 4096)
    if (q[i] != 0xC5) return 42;
  free(q);
  return 0;
}

/* One round: `child_mutates` picks the side. */
static void round_trip(int child_mutates) {
  const char* role = child_mutates ? "parent (checker)" : "child (checker)";
  struct set s;
  unsigned seed = child_mutates ? 100 : 200;
  make_set(&s, seed);
  /* A lazily freed area: freed before the fork, still mapped. */
  unsigned char* lazy = malloc(6 * MiB);
  UVMT_REQUIRE(lazy != NULL);
  memset(lazy, 0x11, 6 * MiB);
  free(lazy);

  int to_child[2], to_parent[2];
  UVMT_REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
  pid_t pid = fork();
  UVMT_REQUIRE(pid >= 0);
  int is_child = pid == 0;
  int mutating = is_child == child_mutates;
  int rc = 0;
  char c = 0;
  if (mutating) {
    rc = mutate(&s, seed);
    if (rc == 0) rc = lazy_reuse(6 * MiB);
    /* Tell the checker to look now, and wait until it has. */
    if (write(is_child ? to_parent[1] : to_child[1], "m", 1) != 1) rc = 50;
    if (read(is_child ? to_child[0] : to_parent[0], &c, 1) != 1) rc = 51;
  } else {
    if (read(is_child ? to_child[0] : to_parent[0], &c, 1) != 1) rc = 52;
    if (rc == 0 && check_set(&s, seed, role) != 0) rc = 53;
    if (write(is_child ? to_parent[1] : to_child[1], "c", 1) != 1) rc = 54;
    /* Still intact after the other side is done, and freeable. */
    if (rc == 0 && check_set(&s, seed, role) != 0) rc = 55;
    for (int i = 0; i < NBLOCKS; ++i) free(s.b[i]);
  }
  if (is_child) _exit(rc);
  int status = 0;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid);
  int child_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (rc != 0 || child_rc != 0) {
    fprintf(stderr, "%s mutates: parent rc %d, child rc %d\n", child_mutates ? "child" : "parent",
            rc, child_rc);
    ++uvmt_failures;
  }
  close(to_child[0]);
  close(to_child[1]);
  close(to_parent[0]);
  close(to_parent[1]);
}

int main(void) {
  uvmt_require_shim();
  for (int r = 0; r < 3; ++r) {
    round_trip(1);
    round_trip(0);
  }
  printf("fork_realloc: %d failure(s)\n", uvmt_failures);
  return uvmt_failures ? 1 : 0;
}
