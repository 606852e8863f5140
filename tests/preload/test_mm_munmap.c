/* A program's munmap or mremap of part of a block it got from malloc is
 * refused (EINVAL and a line on stderr): obeyed, it would leave a hole that
 * the program's next mmap takes and that uvmalloc maps over when the block
 * is freed. Every mapping the program makes afterwards must stay its own. */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "preload_test.h"

#define N 64
#define BLOCK (1u << 20)
#define HOLE (256u << 10)

int main(void) {
  uvmt_require_shim();
  unsigned char* blocks[N];
  unsigned char* mine[N];
  int refused[N];
  for (int i = 0; i < N; ++i) {
    void* p = NULL;
    UVMT_REQUIRE(posix_memalign(&p, 4096, BLOCK) == 0);
    UVMT_REQUIRE(uvmt_in_uvm(p));
    blocks[i] = p;
    memset(p, 0x10 + i, BLOCK);
    errno = 0;
    int rc = munmap(blocks[i] + HOLE, HOLE);
    refused[i] = rc == -1 && errno == EINVAL;
    UVMT_CHECK(refused[i]);
  }
  /* A whole block, and mremap of part of one, moved or in place. */
  errno = 0;
  UVMT_CHECK(munmap(blocks[0], BLOCK) == -1 && errno == EINVAL);
  errno = 0;
  UVMT_CHECK(mremap(blocks[1] + HOLE, HOLE, 2 * HOLE, MREMAP_MAYMOVE) == MAP_FAILED &&
             errno == EINVAL);
  errno = 0;
  UVMT_CHECK(mremap(blocks[2], BLOCK, HOLE, 0) == MAP_FAILED && errno == EINVAL);
  for (int i = 0; i < N; ++i) {
    mine[i] = mmap(NULL, HOLE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    UVMT_REQUIRE(mine[i] != MAP_FAILED);
    uvmt_fill(mine[i], HOLE, 1000 + i);
  }
  /* The blocks are whole still, and freeing them touches nothing else. */
  for (int i = 0; i < N; ++i) {
    if (refused[i]) UVMT_CHECK(blocks[i][HOLE] == 0x10 + i && blocks[i][2 * HOLE - 1] == 0x10 + i);
    free(blocks[i]);
  }
  for (int i = 0; i < N; ++i) {
    void* p = malloc(BLOCK);
    UVMT_REQUIRE(p != NULL);
    memset(p, 0xee, BLOCK);
    free(p);
  }
  int intact = 0;
  for (int i = 0; i < N; ++i) intact += uvmt_verify(mine[i], HOLE, 1000 + i) == (size_t)-1;
  printf("program's mappings intact: %d of %d\n", intact, N);
  UVMT_CHECK(intact == N);
  /* The program's own mappings are its own to unmap. */
  for (int i = 0; i < N; ++i) UVMT_CHECK(munmap(mine[i], HOLE) == 0);
  return uvmt_failures == 0 ? 0 : 1;
}
