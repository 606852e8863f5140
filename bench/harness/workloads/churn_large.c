/* (c) Large churn: 64 slots; each round replaces a random slot with a block
 * of a random size in 256 KiB..16 MiB (log-uniform), every page touched
 * (one tag per page) and every page checked before the block is freed.
 * Rounds: 500 quick, 3,000 full
 * (some allocators take ~2.5 ms a round on a 2-core machine). */
#include "common.h"

#define SLOTS 64

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "churn_large");
  const long rounds = PICK(full, 500, 3000);
  uint64_t rng = 0xC4u;
  char* ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  uint64_t seed[SLOTS] = {0};
  double t0 = now_s();
  for (long r = 0; r < rounds; r++) {
    unsigned s = (unsigned)(rng_next(&rng) % SLOTS);
    if (ptr[s] != NULL) {
      check_pages(ptr[s], 0, len[s], seed[s], "churn");
      free(ptr[s]);
    }
    size_t n = rng_log(&rng, 256 * KiB, 16 * MiB);
    char* p = malloc(n);
    if (p == NULL) FAIL("malloc(%zu) failed", n);
    ptr[s] = p;
    len[s] = n;
    seed[s] = rng_next(&rng);
    tag_pages(p, 0, n, seed[s]);
  }
  for (unsigned s = 0; s < SLOTS; s++) {
    if (ptr[s] == NULL) continue;
    check_pages(ptr[s], 0, len[s], seed[s], "final");
    free(ptr[s]);
  }
  printf("loop_s=%.6f\nrounds=%ld\n", now_s() - t0, rounds);
  report_after_free();
  return 0;
}
