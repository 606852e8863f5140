/* The program's descriptors are the program's: a daemon's closefrom(3) or
 * close_range(3, ~0), or a raw close_range system call followed by dup2 of
 * its own file onto every number, must neither lose the data of its large
 * blocks nor let a later block be mapped from the program's file. Run with
 * and without the shim by compat.sh, which compares the output.
 *   compat_fds closefrom|close_range|raw */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)
#define FILE_BYTES ((size_t)64 << 10)

static int file_intact(int fd) {
  static unsigned char buf[FILE_BYTES];
  if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) return 0;
  for (size_t i = 0; i < sizeof buf; ++i)
    if (buf[i] != (unsigned char)(i * 7)) return 0;
  return 1;
}

int main(int argc, char** argv) {
  UVMT_REQUIRE(argc == 2);
  const char* how = argv[1];
  size_t n = 4 * MiB;
  unsigned char* before = malloc(n);
  UVMT_REQUIRE(before != NULL);
  uvmt_fill(before, n, 1);
  free(malloc(n)); /* warm pages and a lazily freed block */

  if (strcmp(how, "closefrom") == 0)
    closefrom(3);
  else if (strcmp(how, "close_range") == 0)
    UVMT_CHECK(close_range(3, ~0u, 0) == 0);
  else
    UVMT_CHECK(syscall(SYS_close_range, 3, ~0u, 0) == 0);

  /* The program's own file, written and then put under every free number. */
  char path[] = "/tmp/uvm-compat-fds-XXXXXX";
  int fd = mkstemp(path);
  UVMT_REQUIRE(fd >= 0);
  unlink(path);
  static unsigned char data[FILE_BYTES];
  for (size_t i = 0; i < sizeof data; ++i) data[i] = (unsigned char)(i * 7);
  UVMT_REQUIRE(write(fd, data, sizeof data) == (ssize_t)sizeof data);
  printf("first descriptor after closing: %d\n", fd);
  if (strcmp(how, "raw") == 0) {
    struct rlimit rl;
    UVMT_REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    int top = rl.rlim_cur > 4096 ? 4096 : (int)rl.rlim_cur;
    for (int i = fd + 1; i < top; ++i) dup2(fd, i);
  }

  /* Blocks after that: new ones, reused ones, a growth, a move. */
  unsigned char* blocks[8];
  for (int i = 0; i < 8; ++i) {
    blocks[i] = malloc(n + (size_t)i * MiB);
    UVMT_REQUIRE(blocks[i] != NULL);
    uvmt_fill(blocks[i], n + (size_t)i * MiB, 10 + i);
  }
  for (int i = 0; i < 8; i += 2) free(blocks[i]);
  for (int i = 0; i < 8; i += 2) {
    blocks[i] = malloc(n + (size_t)i * MiB);
    UVMT_REQUIRE(blocks[i] != NULL);
    uvmt_fill(blocks[i], n + (size_t)i * MiB, 10 + i);
  }
  before = realloc(before, 3 * n);
  UVMT_REQUIRE(before != NULL);
  int ok = 1;
  for (int i = 0; i < 8; ++i)
    ok &= uvmt_verify(blocks[i], n + (size_t)i * MiB, 10 + i) == (size_t)-1;
  printf("blocks made after closing: %s\n", ok ? "intact" : "corrupt");
  printf("block from before, grown: %s\n",
         uvmt_verify(before, n, 1) == (size_t)-1 ? "intact" : "corrupt");
  printf("the program's file: %s\n", file_intact(fd) ? "intact" : "overwritten");
  for (int i = 0; i < 8; ++i) free(blocks[i]);
  free(before);
  printf("the program's file after the frees: %s\n", file_intact(fd) ? "intact" : "overwritten");
  return uvmt_failures != 0;
}
