/* (b) Grows one buffer with realloc by doubling from 1 MiB to 1 GiB (full;
 * 256 MiB quick), touching the new half each time (one tag per page) and
 * checking the old part after every move and all of it at the end. */
#include "common.h"

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "realloc_double");
  const int passes = 1;
  const size_t target = PICK(full, 256 * MiB, 1 * GiB);
  unsigned moves = 0;
  double t0 = now_s();
  for (int pass = 0; pass < passes; pass++) {
    const uint64_t seed = 0xD0B1E + (uint64_t)pass;
    char* p = NULL;
    size_t cur = 0;
    for (size_t n = 1 * MiB; n <= target; n *= 2) {
      char* q = realloc(p, n);
      if (q == NULL) FAIL("realloc to %zu failed", n);
      if (q != p) {
        moves++;
        if (cur != 0) check_pages(q, 0, cur, seed, "after realloc move");
      }
      p = q;
      tag_pages(p, cur, n, seed);
      cur = n;
    }
    check_pages(p, 0, cur, seed, "final");
    free(p);
  }
  printf("loop_s=%.6f\nmoves=%u\n", now_s() - t0, moves);
  report_after_free();
  return 0;
}
