/* A child made without the atfork handlers: glibc's _Fork() (POSIX.1-2024;
 * async-signal-safe, skips pthread_atfork) or syscall(SYS_fork). Like fork(),
 * it must get a private copy of the parent's memory: the child's writes to
 * a malloc'd block must not show in the parent. Anonymous memory from mmap
 * is the control. Exit 77 (skip) when the shim breaks this: see BUG below. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)

extern pid_t _Fork(void);

/* Forks with `how` (0: _Fork, 1: raw syscall); the child overwrites p and
 * exits. Returns how many bytes of p the parent sees changed. */
static size_t child_writes(unsigned char* p, size_t n, int how) {
  memset(p, 'P', n);
  pid_t pid = how == 0 ? _Fork() : (pid_t)syscall(SYS_fork);
  UVMT_REQUIRE(pid >= 0);
  if (pid == 0) {
    memset(p, 'C', n);
    _exit(0);
  }
  int status;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  size_t changed = 0;
  for (size_t i = 0; i < n; ++i) changed += p[i] != 'P';
  return changed;
}

int main(void) {
  uvmt_require_shim();
  size_t n = 4 * MiB;
  unsigned char* anon = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  UVMT_REQUIRE(anon != MAP_FAILED);
  unsigned char* small = malloc(1000);
  unsigned char* large = malloc(n);
  UVMT_REQUIRE(small != NULL && large != NULL && uvmt_in_uvm(large));
  const char* names[] = {"_Fork", "syscall(SYS_fork)"};
  int broken = 0;
  for (int how = 0; how < 2; ++how) {
    UVMT_CHECK(child_writes(anon, n, how) == 0); /* control */
    UVMT_CHECK(child_writes(small, 1000, how) == 0);
    size_t leaked = child_writes(large, n, how);
    printf("%s: child's writes seen by the parent: anonymous 0, small 0, large %zu of %zu\n",
           names[how], leaked, n);
    if (leaked != 0) broken = 1;
  }
  if (uvmt_failures != 0) return 1;
  if (broken) {
    /* BUG: large blocks are MAP_SHARED mappings of the pool memfd; only the
     * pthread_atfork handler (fork_prepare) remaps them MAP_PRIVATE. A child
     * made by _Fork() or a raw fork syscall skips it and shares the pages
     * with its parent: its writes show in the parent (and both go on
     * allocating from the same pool file). */
    printf("# BUG: a child made without atfork handlers shares large blocks with its parent\n");
    return 77;
  }
  munmap(anon, n);
  free(small);
  free(large);
  printf("raw_fork: ok\n");
  return 0;
}
