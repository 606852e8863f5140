/* Memory of blocks from before a fork() is given back once they are freed.
 * The parent makes 256 MiB of large blocks, forks (the child exits at once),
 * writes its blocks again, frees every block, then keeps mallocing and freeing blocks of the same
 * size, as a long-running program would. The pool file the blocks lived in
 * before the fork may keep at most about the lazily freed budget (lazy:,
 * 64 MiB by default) afterwards: it is measured from outside, as the
 * allocated size of the memfds that were open before the fork.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)
#define BLOCK (16 * MiB)
#define COUNT 16
#define MAX_FILES 64

int main(void) {
  uvmt_require_shim();
  size_t lazy = 128 * MiB; /* the default lazy: budget (smaller settings only help) */

  unsigned char* b[COUNT];
  for (int i = 0; i < COUNT; ++i) {
    b[i] = malloc(BLOCK);
    UVMT_REQUIRE(b[i] != NULL && uvmt_in_uvm(b[i]));
    memset(b[i], i + 1, BLOCK);
  }
  struct uvmt_file_id before[MAX_FILES], now[MAX_FILES];
  size_t before_bytes[MAX_FILES], now_bytes[MAX_FILES];
  int nbefore = uvmt_memfds(before, before_bytes, MAX_FILES);
  size_t held = 0;
  for (int i = 0; i < nbefore; ++i) held += before_bytes[i];
  UVMT_REQUIRE(held >= COUNT * BLOCK); /* the blocks live in these files */

  pid_t pid = fork();
  UVMT_REQUIRE(pid >= 0);
  if (pid == 0) _exit(0);
  int status;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status));

  /* The parent goes on using its blocks (each first write copies). */
  for (int i = 0; i < COUNT; ++i) memset(b[i], 0x40 + i, BLOCK);
  for (int i = 0; i < COUNT; ++i) free(b[i]);
  /* A program that goes on allocating and freeing buffers of one size. */
  for (int round = 0; round < 40; ++round) {
    unsigned char* p = malloc(BLOCK);
    UVMT_REQUIRE(p != NULL);
    memset(p, round, BLOCK);
    free(p);
  }

  int nnow = uvmt_memfds(now, now_bytes, MAX_FILES);
  size_t old_held = 0;
  for (int i = 0; i < nnow; ++i)
    for (int j = 0; j < nbefore; ++j)
      if (now[i].dev == before[j].dev && now[i].ino == before[j].ino) old_held += now_bytes[i];
  printf("pre-fork pool file(s): %zu MiB before the fork, %zu MiB after freeing everything\n",
         held >> 20, old_held >> 20);
  if (old_held > lazy + 16 * MiB) {
    /* Was a bug: lazily freed pre-fork blocks (reused for same-size
     * requests) pinned the whole old pool file. */
    printf("FAIL: freed pre-fork blocks stay allocated in the old pool file (%zu MiB)\n",
           old_held >> 20);
    return 1;
  }
  printf("fork_release: ok\n");
  return uvmt_failures ? 1 : 0;
}
