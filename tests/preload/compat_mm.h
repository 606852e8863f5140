/* Helpers for the compat tests of the memory calls a program makes on its
 * blocks (madvise, mprotect, mlock): what they print must be the same with
 * and without the shim, so they print outcomes, never addresses. */
#ifndef UVM_COMPAT_MM_H
#define UVM_COMPAT_MM_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MM_PAGE 4096

/* The helpers return strings from a ring of buffers, so several can be
 * printed at once; calls with effects are made before the printf, since
 * its arguments are evaluated in no fixed order. */
static inline char* mm_buf(void) {
  static char ring[16][64];
  static unsigned next;
  return ring[next++ % 16];
}

/* A page-aligned block of `size` bytes from the malloc family. */
static inline unsigned char* mm_block(size_t size) {
  void* p = NULL;
  if (posix_memalign(&p, MM_PAGE, size) != 0) {
    printf("posix_memalign failed\n");
    exit(1);
  }
  return (unsigned char*)p;
}

/* "0", or "-1 ENAME" for a failed call. */
static inline const char* mm_rc(int rc) {
  char* buf = mm_buf();
  if (rc == 0) return "0";
  const char* name = errno == EINVAL   ? "EINVAL"
                     : errno == ENOMEM ? "ENOMEM"
                     : errno == EPERM  ? "EPERM"
                     : errno == EAGAIN ? "EAGAIN"
                     : errno == EACCES ? "EACCES"
                                       : "other";
  snprintf(buf, 64, "-1 %s", name);
  return buf;
}

/* What `p` reads: "zeros", "byte XX" when all `n` bytes are XX, or "mixed". */
static inline const char* mm_reads(const unsigned char* p, size_t n) {
  char* buf = mm_buf();
  for (size_t i = 1; i < n; ++i)
    if (p[i] != p[0]) return "mixed";
  if (p[0] == 0) return "zeros";
  snprintf(buf, 64, "byte %02x", p[0]);
  return buf;
}

/* How a child that runs fn(arg) ends: "exit N" or "signal N". */
static inline const char* mm_in_child(void (*fn)(void*), void* arg) {
  char* buf = mm_buf();
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn(arg);
    fflush(stdout);
    _exit(0);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return "fork failed";
  if (WIFSIGNALED(st))
    snprintf(buf, 64, "signal %d", WTERMSIG(st));
  else
    snprintf(buf, 64, "exit %d", WEXITSTATUS(st));
  return buf;
}

static inline void mm_write_byte(void* p) {
  *(volatile unsigned char*)p = 0x5a;
}

/* Whether `p` can be written (in a child, so a fault costs nothing here). */
static inline const char* mm_writable(void* p) {
  return strcmp(mm_in_child(mm_write_byte, p), "exit 0") == 0 ? "yes" : "no";
}

/* The value of `key` (e.g. "Locked:" or "VmFlags:") in the smaps entry of
 * the mapping that contains `p`, into buf; "" when none. */
static inline const char* mm_smaps(const void* p, const char* key, char* buf, size_t len) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0;
  buf[0] = 0;
  if (f == NULL) return buf;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long a, b;
    char c;
    if (sscanf(line, "%lx-%lx %c", &a, &b, &c) == 3) {
      in = (uintptr_t)p >= a && (uintptr_t)p < b;
      continue;
    }
    if (in && strncmp(line, key, strlen(key)) == 0) {
      snprintf(buf, len, "%s", line + strlen(key));
      break;
    }
  }
  fclose(f);
  return buf;
}

/* Whether the mapping of `p` has VmFlag `flag` ("dd", "lo", ...). */
static inline const char* mm_vmflag(const void* p, const char* flag) {
  char buf[256], want[8];
  mm_smaps(p, "VmFlags:", buf, sizeof buf);
  snprintf(want, sizeof want, " %s", flag);
  char* at = strstr(buf, want);
  return at != NULL && (at[3] == ' ' || at[3] == '\n' || at[3] == 0) ? "yes" : "no";
}

/* Whether the page at `p` is locked (its mapping's Locked: is not 0 kB). */
static inline const char* mm_locked(const void* p) {
  char buf[64];
  mm_smaps(p, "Locked:", buf, sizeof buf);
  return strtoul(buf, NULL, 10) != 0 ? "yes" : "no";
}

/* VmLck of this process, bucketed: 0, nonzero (under 1 GiB) or huge. */
static inline const char* mm_vmlck(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long kb = 0;
  if (f == NULL) return "unknown";
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmLck: %lu", &kb) == 1) break;
  fclose(f);
  return kb == 0 ? "0" : kb < (1ul << 20) ? "nonzero" : "huge";
}

#endif
