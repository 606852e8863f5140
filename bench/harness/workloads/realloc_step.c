/* (a) Grows one buffer with realloc by 1 MiB steps (to 128 MiB quick,
 * 512 MiB full; not 1 GiB: mimalloc copies on most steps and needs ~80 s a
 * run there), touching each new MiB (one tag per page) and checking that the
 * old part survived every move. The shape of a buffer that collects a
 * stream. */
#include "common.h"

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "realloc_step");
  const size_t target = PICK(full, 128 * MiB, 512 * MiB), step = 1 * MiB;
  const uint64_t seed = 0xA11CE;
  char* p = NULL;
  size_t cur = 0;
  unsigned moves = 0;
  double t0 = now_s();
  for (size_t n = step; n <= target; n += step) {
    char* q = realloc(p, n);
    if (q == NULL) FAIL("realloc to %zu failed", n);
    if (q != p) {
      moves++;
      if (cur != 0) check_pages(q, cur - PAGE, cur, seed, "after realloc move"); /* last old page */
    }
    p = q;
    tag_pages(p, cur, n, seed);
    cur = n;
  }
  check_pages(p, 0, cur, seed, "final");
  double t1 = now_s();
  free(p);
  printf("loop_s=%.6f\nmoves=%u\nbytes=%zu\n", t1 - t0, moves, cur);
  report_after_free();
  return 0;
}
