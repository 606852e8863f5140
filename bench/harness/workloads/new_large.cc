/* (d1) (d) as C++ writes it, as mimalloc-bench's malloc-large.cpp does:
 * 20 buffers; each iteration replaces a random one with a fresh
 * value-initialised `new char[n]()` of 5..25 MiB (uniform), the new one
 * allocated before the old one is `delete[]`d. Every allocation goes through
 * operator new, so an allocator that exports operator new (mimalloc,
 * jemalloc, tcmalloc) serves it even when preloaded after uvmalloc's shim,
 * unless the shim exports operator new too. Tags at each MiB are checked
 * before a buffer is freed. Iterations: 60 quick, 300 full. */
#include "common.h"

#define NBUF 20

int main(int argc, char** argv) {
  int full = parse_mode(argc, argv, "new_large");
  const long iters = PICK(full, 60, 300);
  uint64_t rng = 42;
  char* buf[NBUF] = {};
  size_t len[NBUF] = {};
  uint64_t seed[NBUF] = {};
  double t0 = now_s();
  for (long i = 0; i < iters; i++) {
    unsigned b = (unsigned)(rng_next(&rng) % NBUF);
    size_t n = rng_range(&rng, 5 * MiB, 25 * MiB);
    char* p = new char[n]();
    uint64_t sd = rng_next(&rng);
    for (size_t off = 0; off + 8 <= n; off += MiB) {
      uint64_t t = tag_at(sd, off);
      memcpy(p + off, &t, 8);
    }
    tag_ends(p, n, sd);
    if (buf[b] != nullptr) {
      for (size_t off = 8; off + 16 <= len[b]; off += MiB)
        if (buf[b][off] != 0) FAIL("buffer %u lost its zeros at %zu", b, off);
      check_ends(buf[b], len[b], seed[b], "new_large");
      delete[] buf[b];
    }
    buf[b] = p;
    len[b] = n;
    seed[b] = sd;
  }
  for (unsigned b = 0; b < NBUF; b++)
    if (buf[b] != nullptr) {
      check_ends(buf[b], len[b], seed[b], "final");
      delete[] buf[b];
    }
  printf("loop_s=%.6f\niters=%ld\n", now_s() - t0, iters);
  report_after_free();
  return 0;
}
