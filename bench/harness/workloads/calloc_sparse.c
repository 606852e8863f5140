/* (f) calloc of large zeroed buffers of 8..64 MiB (uniform), 4 live; every
 * 64th page (from a random phase) is checked to be all zeros, then dirtied
 * with tags, so an allocator that recycles pages must really zero them.
 * Tags are checked before the free. 60 rounds quick, 250 full. */
#include "common.h"

#define SLOTS 4
#define STRIDE (64 * PAGE)

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "calloc_sparse");
  const long rounds = PICK(full, 60, 250);
  uint64_t rng = 0xF;
  char* ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0}, phase[SLOTS] = {0};
  uint64_t seed[SLOTS] = {0};
  double t0 = now_s();
  for (long r = 0; r < rounds; r++) {
    unsigned s = (unsigned)(rng_next(&rng) % SLOTS);
    if (ptr[s] != NULL) {
      for (size_t off = phase[s]; off + PAGE <= len[s]; off += STRIDE)
        check_pages(ptr[s], off, off + PAGE, seed[s], "calloc tags");
      free(ptr[s]);
    }
    size_t n = rng_range(&rng, 8 * MiB, 64 * MiB);
    char* p = calloc(1, n);
    if (p == NULL) FAIL("calloc(%zu) failed", n);
    size_t ph = (size_t)(rng_next(&rng) % 64) * PAGE;
    uint64_t sd = rng_next(&rng);
    for (size_t off = ph; off + PAGE <= n; off += STRIDE) {
      const uint64_t* w = (const uint64_t*)(p + off);
      for (size_t k = 0; k < PAGE / 8; k++)
        if (w[k] != 0) FAIL("calloc(%zu) returned a nonzero word at %zu", n, off + 8 * k);
      uint64_t t = tag_at(sd, off);
      memcpy(p + off, &t, 8);
      memset(p + off + 8, 0xAB, 120); /* dirty more than one word */
    }
    ptr[s] = p;
    len[s] = n;
    phase[s] = ph;
    seed[s] = sd;
  }
  for (unsigned s = 0; s < SLOTS; s++) free(ptr[s]);
  printf("loop_s=%.6f\nrounds=%ld\n", now_s() - t0, rounds);
  report_after_free();
  return 0;
}
