/* mlock, munlock and mlockall on a program's own large blocks: the lock
 * survives fork() in the parent (the child inherits none), a freed locked
 * block is not reused still locked, and mlockall locks what the program
 * has, not uvmalloc's reservation. */
#include "compat_mm.h"

#define SIZE (1u << 20)

static void child_status(void* p) {
  printf("  child: block locked %s, VmLck %s\n", mm_locked(p), mm_vmlck());
}

int main(void) {
  printf("start: VmLck %s\n", mm_vmlck());
  unsigned char* p = mm_block(SIZE);
  memset(p, 0x5c, SIZE);
  const char* rc = mm_rc(mlock(p, SIZE));
  printf("mlock %s: block locked %s, VmLck %s\n", rc, mm_locked(p), mm_vmlck());
  printf("child: %s\n", mm_in_child(child_status, p));
  printf("after fork: block locked %s, VmLck %s, reads %s\n", mm_locked(p), mm_vmlck(),
         mm_reads(p, SIZE));
  printf("DONTNEED on it: %s\n", mm_rc(madvise(p, MM_PAGE, MADV_DONTNEED)));
  rc = mm_rc(munlock(p, SIZE));
  printf("munlock %s: block locked %s, VmLck %s\n", rc, mm_locked(p), mm_vmlck());
  rc = mm_rc(mlock(p, SIZE));
  printf("mlock again %s: VmLck %s\n", rc, mm_vmlck());
  free(p);
  printf("freed locked block: VmLck %s\n", mm_vmlck());
  /* A block made after the fork, locked and freed. */
  unsigned char* l = mm_block(SIZE);
  memset(l, 0x6d, SIZE);
  rc = mm_rc(mlock(l, SIZE));
  printf("new block: mlock %s, VmLck %s\n", rc, mm_vmlck());
  free(l);
  printf("freed it: VmLck %s\n", mm_vmlck());
  for (int i = 0; i < 4; ++i) {
    unsigned char* q = mm_block(SIZE);
    memset(q, i, SIZE);
    printf("next block %d: locked %s\n", i, mm_locked(q));
    free(q);
  }
  printf("VmLck %s\n", mm_vmlck());

  rc = mm_rc(mlockall(MCL_CURRENT | MCL_FUTURE));
  printf("mlockall %s: VmLck %s\n", rc, mm_vmlck());
  unsigned char* big = (unsigned char*)malloc(4u << 20);
  printf("malloc(4 MiB) after mlockall: %s\n", big != NULL ? "ok" : "NULL");
  if (big != NULL) {
    memset(big, 1, 4u << 20);
    printf("it is locked: %s, VmLck %s\n", mm_locked(big + MM_PAGE), mm_vmlck());
    free(big);
  }
  printf("after free: VmLck %s\n", mm_vmlck());
  rc = mm_rc(munlockall());
  printf("munlockall %s: VmLck %s\n", rc, mm_vmlck());
  unsigned char* after = (unsigned char*)malloc(4u << 20);
  memset(after, 2, 4u << 20);
  printf("malloc after munlockall: locked %s, VmLck %s\n", mm_locked(after + MM_PAGE), mm_vmlck());
  free(after);
  return 0;
}
