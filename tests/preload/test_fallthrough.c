/* When uvmalloc cannot serve a large request (here: its VMA budget is two
 * blocks, UVMALLOC_CONF=vma_max:5), the shim falls through to the next
 * allocator instead of failing: every malloc succeeds, the first blocks are
 * uvmalloc's, the rest glibc's, and each keeps its data; frees and reallocs
 * reach the right owner. */
#include "preload_test.h"

int main(void) {
  uvmt_require_shim();
  enum { N = 8 };
  size_t size = (size_t)1 << 20;
  unsigned char* p[N];
  int ours = 0;
  for (int i = 0; i < N; ++i) {
    p[i] = malloc(size);
    UVMT_REQUIRE(p[i] != NULL);
    uvmt_fill(p[i], size, (unsigned)i);
    ours += uvmt_in_uvm(p[i]);
  }
  UVMT_CHECK(ours >= 1); /* uvmalloc served what its budget allows ... */
  UVMT_CHECK(ours < N);  /* ... and the next allocator the rest */
  for (int i = 0; i < N; ++i) UVMT_CHECK(uvmt_verify(p[i], size, (unsigned)i) == (size_t)-1);
  for (int i = 0; i < N; ++i) {
    p[i] = realloc(p[i], 2 * size); /* grows whoever owns it */
    UVMT_REQUIRE(p[i] != NULL);
    UVMT_CHECK(uvmt_verify(p[i], size, (unsigned)i) == (size_t)-1);
  }
  for (int i = 0; i < N; ++i) free(p[i]);
  printf("fallthrough: %d of %d blocks from uvmalloc, the rest from the next allocator\n", ours, N);
  return uvmt_failures ? 1 : 0;
}
