/* madvise on a program's own large blocks, as on private anonymous memory:
 * MADV_DONTNEED reads back zeros (also after a fork, in parent and child),
 * MADV_FREE is accepted, MADV_REMOVE is refused. */
#include "compat_mm.h"

#define SIZE (1u << 20)

static unsigned char* g_block;

static void child_dontneed(void* arg) {
  (void)arg;
  const char* rc = mm_rc(madvise(g_block + 8 * MM_PAGE, 16 * MM_PAGE, MADV_DONTNEED));
  printf("child: DONTNEED %s, reads %s, rest %s\n", rc,
         mm_reads(g_block + 8 * MM_PAGE, 16 * MM_PAGE), mm_reads(g_block, 8 * MM_PAGE));
}

int main(void) {
  unsigned char* p = mm_block(SIZE);
  memset(p, 0xab, SIZE);
  const char* rc = mm_rc(madvise(p + 16 * MM_PAGE, 32 * MM_PAGE, MADV_DONTNEED));
  printf("DONTNEED %s, reads %s, before %s, after %s\n", rc,
         mm_reads(p + 16 * MM_PAGE, 32 * MM_PAGE), mm_reads(p, 16 * MM_PAGE),
         mm_reads(p + 48 * MM_PAGE, SIZE - 48 * MM_PAGE));
  /* The zeroed range is memory again. */
  memset(p + 16 * MM_PAGE, 0x11, MM_PAGE);
  printf("written again: %s\n", mm_reads(p + 16 * MM_PAGE, MM_PAGE));

  rc = mm_rc(madvise(p + 64 * MM_PAGE, 8 * MM_PAGE, MADV_FREE));
  const char* r = mm_reads(p + 64 * MM_PAGE, 8 * MM_PAGE);
  /* Zeros or the old data are both what MADV_FREE may leave. */
  printf("FREE %s, reads %s\n", rc,
         strcmp(r, "zeros") == 0 || strcmp(r, "byte ab") == 0 ? "zeros or old data" : r);
  rc = mm_rc(madvise(p + 80 * MM_PAGE, 8 * MM_PAGE, MADV_REMOVE));
  printf("REMOVE %s, reads %s\n", rc, mm_reads(p + 80 * MM_PAGE, 8 * MM_PAGE));

  /* After a fork the block is the parent's and the child's snapshot. */
  unsigned char* q = mm_block(SIZE);
  memset(q, 0xcd, SIZE);
  g_block = q;
  printf("child: %s\n", mm_in_child(child_dontneed, NULL));
  printf("parent after child: %s\n", mm_reads(q, SIZE));
  rc = mm_rc(madvise(q + 8 * MM_PAGE, 16 * MM_PAGE, MADV_DONTNEED));
  printf("parent: DONTNEED %s, reads %s, rest %s\n", rc, mm_reads(q + 8 * MM_PAGE, 16 * MM_PAGE),
         mm_reads(q + 24 * MM_PAGE, SIZE - 24 * MM_PAGE));
  memset(q + 8 * MM_PAGE, 0x22, MM_PAGE);
  printf("parent written again: %s\n", mm_reads(q + 8 * MM_PAGE, MM_PAGE));
  /* Advice the shim does not emulate goes to the kernel. */
  const char* will = mm_rc(madvise(q, SIZE, MADV_WILLNEED));
  const char* seq = mm_rc(madvise(q, SIZE, MADV_SEQUENTIAL));
  const char* bad = mm_rc(madvise(q, SIZE, 12345));
  printf("WILLNEED %s, SEQUENTIAL %s, bad advice %s\n", will, seq, bad);
  free(q);
  free(p);
  return 0;
}
