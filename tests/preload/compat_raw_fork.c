/* Children made without the fork handlers: glibc's _Fork() (which the shim
 * wraps in them), a raw fork system call and clone() without CLONE_VM (which
 * the shim detects at the child's first malloc-family call). With glibc the
 * child's memory is private; under the shim it must be too: the child's
 * writes and its own new blocks never reach the parent's blocks. Run with and
 * without the shim by compat.sh, which compares the output.
 *
 * What user space cannot give (README): after a raw fork or clone, a child
 * that writes to a block before it makes any malloc-family call writes into
 * the parent's pages. The cases here make a call first, as nearly every
 * program does. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

extern pid_t _Fork(void);

static unsigned char* g_block;
static size_t g_n;

/* The child: frees the parent's block, takes new ones of the same size
 * (which, sharing the parent's pool, would land on its pages) and fills
 * them; then writes to a second inherited block. */
static int child_work(void* other) {
  unsigned char* kept = other;
  free(g_block);
  for (int i = 0; i < 4; ++i) {
    unsigned char* b = malloc(g_n);
    if (b == NULL) return 3;
    memset(b, 'C', g_n);
    if (i % 2 == 0) free(b);
  }
  memset(kept, 'c', g_n);
  return 0;
}

static size_t changed(const unsigned char* p, size_t n, unsigned char want) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += p[i] != want;
  return bad;
}

static int run(const char* how) {
  g_n = 4 * MiB;
  g_block = malloc(g_n);
  unsigned char* kept = malloc(g_n);
  UVMT_REQUIRE(g_block != NULL && kept != NULL);
  memset(g_block, 'P', g_n);
  memset(kept, 'K', g_n);
  /* Freed blocks the child could otherwise pick up again. */
  for (int i = 0; i < 3; ++i) free(malloc(g_n));
  pid_t pid;
  if (strcmp(how, "_Fork") == 0) {
    pid = _Fork();
    if (pid == 0) _exit(child_work(kept));
  } else if (strcmp(how, "syscall") == 0) {
    pid = (pid_t)syscall(SYS_fork);
    if (pid == 0) _exit(child_work(kept));
  } else {
    static char stack[256 << 10];
    pid = clone(child_work, stack + sizeof stack, SIGCHLD, kept);
  }
  UVMT_REQUIRE(pid > 0);
  int status;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid);
  printf("%s: child exit %d\n", how, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  printf("%s: parent's freed-in-child block changed bytes: %zu\n", how, changed(g_block, g_n, 'P'));
  printf("%s: parent's written-in-child block changed bytes: %zu\n", how, changed(kept, g_n, 'K'));
  /* The parent goes on: its new blocks hold only what it writes. */
  unsigned char* fresh = malloc(g_n);
  UVMT_REQUIRE(fresh != NULL);
  memset(fresh, 'Q', g_n);
  printf("%s: parent's new block after the child: %s\n", how,
         changed(fresh, g_n, 'Q') == 0 && changed(g_block, g_n, 'P') == 0 ? "ok" : "corrupt");
  free(fresh);
  free(g_block);
  free(kept);
  return 0;
}

int main(int argc, char** argv) {
  UVMT_REQUIRE(argc == 2);
  run(argv[1]);
  return uvmt_failures != 0;
}
