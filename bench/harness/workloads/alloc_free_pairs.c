/* (e) Alloc/free pairs of 128 KiB..1 MiB (uniform), touching only the first
 * and the last 8 bytes, checked before the free. 5,000 pairs quick,
 * 50,000 full. Measures the fixed cost of a large allocation. */
#include "common.h"

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "alloc_free_pairs");
  const long pairs = PICK(full, 5000, 50000);
  uint64_t rng = 0xE;
  double t0 = now_s();
  for (long i = 0; i < pairs; i++) {
    size_t n = rng_range(&rng, 128 * KiB, 1 * MiB);
    char* p = malloc(n);
    if (p == NULL) FAIL("malloc(%zu) failed", n);
    tag_ends(p, n, (uint64_t)i);
    check_ends(p, n, (uint64_t)i, "pair");
    free(p);
  }
  printf("loop_s=%.6f\npairs=%ld\n", now_s() - t0, pairs);
  report_after_free();
  return 0;
}
