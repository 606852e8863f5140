/* (d) The shape of mimalloc-bench's malloc-large: 20 buffers; each
 * iteration replaces a random one with a fresh value-initialised buffer
 * (malloc + memset 0, like std::make_unique<char[]>) of 5..25 MiB (uniform),
 * the new one allocated before the old one is freed. Tags at each MiB are
 * checked before a buffer is freed. Iterations: 60 quick, 2,000 full (as
 * the original; each is a 5..25 MiB memset). second_half_s: the time of
 * the second half of the iterations, the steady state, which does not
 * depend on how fast an allocator warms up (glibc, for one, moves its mmap
 * threshold above these sizes after the first frees). */
#include "common.h"

#define NBUF 20

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "malloc_large");
  const long iters = PICK(full, 60, 2000);
  uint64_t rng = 42;
  char* buf[NBUF] = {0};
  size_t len[NBUF] = {0};
  uint64_t seed[NBUF] = {0};
  double t0 = now_s(), t_half = t0;
  for (long i = 0; i < iters; i++) {
    if (i == iters / 2) t_half = now_s();
    unsigned b = (unsigned)(rng_next(&rng) % NBUF);
    size_t n = rng_range(&rng, 5 * MiB, 25 * MiB);
    char* p = malloc(n);
    if (p == NULL) FAIL("malloc(%zu) failed", n);
    memset_v(p, 0, n);
    uint64_t sd = rng_next(&rng);
    for (size_t off = 0; off + 8 <= n; off += MiB) {
      uint64_t t = tag_at(sd, off);
      memcpy(p + off, &t, 8);
    }
    tag_ends(p, n, sd);
    if (buf[b] != NULL) {
      for (size_t off = 8; off + 16 <= len[b]; off += MiB)
        if (buf[b][off] != 0) FAIL("buffer %u lost its zeros at %zu", b, off);
      check_ends(buf[b], len[b], seed[b], "malloc_large");
      free(buf[b]);
    }
    buf[b] = p;
    len[b] = n;
    seed[b] = sd;
  }
  for (unsigned b = 0; b < NBUF; b++)
    if (buf[b] != NULL) {
      check_ends(buf[b], len[b], seed[b], "final");
      free(buf[b]);
    }
  double t1 = now_s();
  printf("loop_s=%.6f\nsecond_half_s=%.6f\niters=%ld\n", t1 - t0, t1 - t_half, iters);
  report_after_free();
  return 0;
}
