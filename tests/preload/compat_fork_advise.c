/* MADV_DONTFORK / DOFORK, MADV_WIPEONFORK / KEEPONFORK and MADV_DONTDUMP on
 * a program's own large blocks take effect at fork() as on private
 * anonymous memory. */
#include "compat_mm.h"

#define SIZE (1u << 20)

static void child_reads(void* p) {
  printf("  child reads %s\n", mm_reads((unsigned char*)p, SIZE / 2));
}

static void grandchild_reads(void* p) {
  unsigned char* b = (unsigned char*)p;
  printf("  child reads %s\n", mm_reads(b, SIZE / 2));
  memset(b, 0x77, SIZE / 2);
  printf("  grandchild: %s\n", mm_in_child(child_reads, p));
}

static void child_dumpflag(void* p) {
  printf("  child dontdump %s\n", mm_vmflag(p, "dd"));
}

int main(void) {
  unsigned char* a = mm_block(SIZE);
  memset(a, 0xa1, SIZE);
  printf("DONTFORK %s\n", mm_rc(madvise(a, SIZE / 2, MADV_DONTFORK)));
  printf("child touching it: %s\n", mm_in_child(mm_write_byte, a));
  printf("child touching the rest: %s\n", mm_in_child(mm_write_byte, a + SIZE / 2));
  printf("parent reads %s\n", mm_reads(a, SIZE));
  printf("DOFORK %s\n", mm_rc(madvise(a, SIZE / 2, MADV_DOFORK)));
  printf("child after DOFORK: %s\n", mm_in_child(child_reads, a));

  unsigned char* b = mm_block(SIZE);
  memset(b, 0xb2, SIZE);
  printf("WIPEONFORK %s\n", mm_rc(madvise(b, SIZE / 2, MADV_WIPEONFORK)));
  printf("child: %s\n", mm_in_child(grandchild_reads, b));
  printf("parent reads %s\n", mm_reads(b, SIZE));
  printf("KEEPONFORK %s\n", mm_rc(madvise(b, SIZE / 2, MADV_KEEPONFORK)));
  printf("child after KEEPONFORK: %s\n", mm_in_child(child_reads, b));

  unsigned char* c = mm_block(SIZE);
  memset(c, 0xc3, SIZE);
  const char* rc = mm_rc(madvise(c, SIZE, MADV_DONTDUMP));
  printf("DONTDUMP %s, flag %s\n", rc, mm_vmflag(c, "dd"));
  printf("child: %s\n", mm_in_child(child_dumpflag, c));
  printf("parent after fork: dontdump %s\n", mm_vmflag(c, "dd"));
  rc = mm_rc(madvise(c, SIZE, MADV_DODUMP));
  printf("DODUMP %s, flag %s\n", rc, mm_vmflag(c, "dd"));
  free(c);
  free(b);
  free(a);
  return 0;
}
