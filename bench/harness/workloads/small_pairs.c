/* (l) malloc+free pairs of 8..1024 bytes (uniform), the first and last byte
 * written and checked: no request reaches the shim's threshold, so under the
 * shim all of the difference with the next allocator is the shim's own cost.
 * 20,000,000 pairs quick, 100,000,000 full (a quick run is about 0.3 s). */
#include "common.h"

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "small_pairs");
  const long pairs = PICK(full, 20000000L, 100000000L);
  enum { K = 4096 };
  static size_t sizes[K];
  uint64_t rng = 0x5;
  for (int i = 0; i < K; i++) sizes[i] = rng_range(&rng, 8, 1024);
  double t0 = now_s();
  for (long i = 0; i < pairs; i++) {
    size_t n = sizes[i & (K - 1)];
    unsigned char* p = malloc(n);
    if (p == NULL) FAIL("malloc(%zu) failed", n);
    p[0] = (unsigned char)i;
    p[n - 1] = (unsigned char)(i >> 8);
    if (p[0] != (unsigned char)i || p[n - 1] != (unsigned char)(i >> 8)) FAIL("pair %ld", i);
    free(p);
  }
  printf("loop_s=%.6f\npairs=%ld\n", now_s() - t0, pairs);
  report_after_free();
  return 0;
}
