/* mprotect on a program's own large blocks: the protection survives fork()
 * (JIT code stays executable and not writable), and a protected block that
 * is freed never comes back protected to another malloc caller. */
#include "compat_mm.h"

#define SIZE (256u << 10)

typedef int (*jit_fn)(void);

static void child_calls(void* p) {
  _exit(((jit_fn)p)() == 42 ? 0 : 1);
}

int main(void) {
  /* x86-64: mov eax, 42; ret */
  static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
  unsigned char* jit = mm_block(SIZE);
  memset(jit, 0xcc, SIZE);
  memcpy(jit, code, sizeof code);
  printf("mprotect RX %s\n", mm_rc(mprotect(jit, SIZE, PROT_READ | PROT_EXEC)));
  printf("call: %d\n", ((jit_fn)jit)());
  printf("writable: %s\n", mm_writable(jit));
  printf("child calls it: %s\n", mm_in_child(child_calls, jit));
  printf("after fork, call: %d\n", ((jit_fn)jit)());
  printf("after fork, writable: %s\n", mm_writable(jit));
  printf("mprotect RW %s\n", mm_rc(mprotect(jit, SIZE, PROT_READ | PROT_WRITE)));
  printf("writable again: %s\n", mm_writable(jit));
  free(jit);

  /* Part of a block read-only, then freed: the next blocks are writable. */
  for (int round = 0; round < 4; ++round) {
    unsigned char* ro = mm_block(SIZE);
    memset(ro, 0x33, SIZE);
    const char* rc = mm_rc(mprotect(ro + (round & 1) * MM_PAGE, SIZE / 2, PROT_READ));
    printf("round %d: mprotect RO %s, writable %s\n", round, rc,
           mm_writable(ro + (round & 1) * MM_PAGE));
    free(ro);
    unsigned char* next = mm_block(SIZE);
    int ok = 1;
    for (size_t off = 0; off < SIZE; off += MM_PAGE)
      if (strcmp(mm_writable(next + off), "yes") != 0) ok = 0;
    printf("round %d: the next block is writable: %s\n", round, ok ? "yes" : "no");
    memset(next, 0x44, SIZE);
    free(next);
  }
  /* Read-only across a fork, then freed. */
  unsigned char* ro = mm_block(SIZE);
  printf("mprotect RO %s\n", mm_rc(mprotect(ro, SIZE, PROT_READ)));
  printf("child writing: %s\n", mm_in_child(mm_write_byte, ro));
  printf("after fork, writable: %s\n", mm_writable(ro));
  free(ro);
  unsigned char* next = mm_block(SIZE);
  printf("the next block is writable: %s\n", mm_writable(next));
  free(next);
  return 0;
}
