/* glibc's introspection and tuning calls see the shim's blocks as glibc sees
 * its mmapped chunks: mallinfo2/mallinfo count them in hblks/hblkhd,
 * malloc_info in its mmap total, malloc_trim gives freed memory back, and
 * mallopt(M_MMAP_THRESHOLD) moves the routing threshold. Run by compat.sh:
 * only what must be identical with and without the shim is printed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload_test.h"

#define MiB ((size_t)1 << 20)
#define KiB ((size_t)1 << 10)

static void* touched(size_t n) {
  char* p = malloc(n);
  UVMT_REQUIRE(p != NULL);
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;
  uvmt_escape(p);
  return p;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static struct mallinfo old_mallinfo(void) {
  return mallinfo();
}
#pragma GCC diagnostic pop

/* Bytes all memfds of the process hold: what freed large blocks may still
 * pin under the shim (none exist without it). */
static size_t memfd_bytes(void) {
  size_t bytes[256], total = 0;
  int n = uvmt_memfds(NULL, bytes, 256);
  for (int i = 0; i < n; ++i) total += bytes[i];
  return total;
}

/* Elements open and close in order, attributes are quoted: enough to tell a
 * document spliced wrongly. */
static int well_formed(const char* doc) {
  char stack[32][32];
  int depth = 0, seen = 0;
  for (const char* p = strchr(doc, '<'); p != NULL; p = strchr(p + 1, '<')) {
    const char* end = strchr(p, '>');
    if (end == NULL) return 0;
    if (p[1] == '?') continue;
    int closing = p[1] == '/';
    const char* name = p + 1 + closing;
    size_t len = strcspn(name, " />");
    if (len == 0 || len >= sizeof stack[0]) return 0;
    int quotes = 0;
    for (const char* q = p; q < end; ++q) quotes += *q == '"';
    if (quotes % 2 != 0) return 0;
    if (closing) {
      if (depth == 0 || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], name, len))
        return 0;
      --depth;
    } else if (end[-1] != '/') {
      if (depth == 32) return 0;
      memcpy(stack[depth], name, len);
      stack[depth++][len] = 0;
      ++seen;
    }
  }
  return depth == 0 && seen > 0;
}

int main(void) {
  /* glibc raises its mmap threshold as mmapped chunks are freed; a set one
   * stays put, so both allocators route the same sizes the same way. */
  printf("mallopt(M_MMAP_THRESHOLD, 128 KiB) = %d\n", mallopt(M_MMAP_THRESHOLD, 128 * KiB));
  printf("mallopt(M_TRIM_THRESHOLD, 512 MiB) = %d\n", mallopt(M_TRIM_THRESHOLD, 512 * MiB));

  /* mallinfo2: three 1 MiB blocks are three mmapped regions. */
  struct mallinfo2 a = mallinfo2();
  void* big[3];
  for (int i = 0; i < 3; ++i) big[i] = touched(MiB);
  struct mallinfo2 b = mallinfo2();
  printf("mallinfo2 with 3 blocks: hblks +%zu, hblkhd >= 3 MiB: %s, uordblks < +64 KiB: %s\n",
         b.hblks - a.hblks, b.hblkhd - a.hblkhd >= 3 * MiB ? "yes" : "no",
         b.uordblks - a.uordblks < 64 * KiB ? "yes" : "no");
  struct mallinfo oa = old_mallinfo();
  printf("mallinfo with 3 blocks: hblks +%d, hblkhd >= 3 MiB: %s\n", oa.hblks - (int)a.hblks,
         (size_t)oa.hblkhd - a.hblkhd >= 3 * MiB ? "yes" : "no");

  /* malloc_info: the mmap total includes them, the document stays valid. */
  char* doc = NULL;
  size_t len = 0;
  FILE* mem = open_memstream(&doc, &len);
  UVMT_REQUIRE(mem != NULL);
  int rc = malloc_info(0, mem);
  fclose(mem);
  unsigned long long count = 0, size = 0;
  const char* total = strstr(doc, "<total type=\"mmap\" count=\"");
  int parsed = total != NULL && sscanf(total, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"",
                                       &count, &size) == 2;
  printf("malloc_info = %d, well formed: %s, mmap total found: %s, count %llu, size >= 3 MiB: %s\n",
         rc, well_formed(doc) ? "yes" : "no", parsed ? "yes" : "no", count,
         size >= 3 * MiB ? "yes" : "no");
  free(doc);
  mem = fopen("/dev/null", "w");
  rc = malloc_info(1, mem);
  printf("malloc_info(1) = %d\n", rc);
  fclose(mem);

  /* malloc_stats writes to stderr (not compared): it must just work. */
  malloc_stats();

  /* Freed, they are no longer counted. */
  for (int i = 0; i < 3; ++i) free(big[i]);
  struct mallinfo2 c = mallinfo2();
  printf("mallinfo2 after free: hblks %+ld, hblkhd %+ld\n", (long)(c.hblks - a.hblks),
         (long)(c.hblkhd - a.hblkhd));

  /* malloc_trim: small freed blocks on the heap make both sides return 1;
   * after it no freed large block pins memory. */
  void* small[200];
  for (int i = 0; i < 200; ++i) small[i] = touched(4 * KiB);
  for (int i = 199; i >= 0; --i) free(small[i]);
  printf("malloc_trim(0) = %d\n", malloc_trim(0));
  printf("memfd bytes after malloc_trim < 1 MiB: %s\n", memfd_bytes() < MiB ? "yes" : "no");
  printf("malloc_trim(0) again = %d\n", malloc_trim(0));

  /* mallopt(M_MMAP_THRESHOLD, 4 MiB): 1 MiB from the heap, 8 MiB mmapped. */
  printf("mallopt(M_MMAP_THRESHOLD, 4 MiB) = %d\n", mallopt(M_MMAP_THRESHOLD, 4 * MiB));
  struct mallinfo2 d = mallinfo2();
  void* one = touched(MiB);
  struct mallinfo2 e = mallinfo2();
  void* eight = touched(8 * MiB);
  struct mallinfo2 f = mallinfo2();
  printf("1 MiB: hblks +%zu; 8 MiB: hblks +%zu, hblkhd >= 8 MiB: %s\n", e.hblks - d.hblks,
         f.hblks - e.hblks, f.hblkhd - e.hblkhd >= 8 * MiB ? "yes" : "no");
  free(one);
  free(eight);
  /* glibc applies the threshold only when its heap cannot serve a request
   * (a large free top can, whatever the size): trim the top away first. */
  printf("malloc_trim(0) = %d\n", malloc_trim(0));
  printf("mallopt(M_MMAP_THRESHOLD, 256 KiB) = %d\n", mallopt(M_MMAP_THRESHOLD, 256 * KiB));
  struct mallinfo2 g = mallinfo2();
  void* quarter = touched(256 * KiB);
  struct mallinfo2 h = mallinfo2();
  printf("256 KiB under a 256 KiB threshold: hblks +%zu\n", h.hblks - g.hblks);
  free(quarter);
  /* Older glibc refuses thresholds above HEAP_MAX / 2 (32 MiB) and negative
   * ones with 0; 2.36 takes them (-1: nothing is mmapped). Either way the
   * shim answers and routes as glibc does. */
  printf("mallopt(M_MMAP_THRESHOLD, 64 MiB) = %d\n", mallopt(M_MMAP_THRESHOLD, 64 * MiB));
  int neg = mallopt(M_MMAP_THRESHOLD, -1);
  printf("mallopt(M_MMAP_THRESHOLD, -1) = %d\n", neg);
  struct mallinfo2 i2 = mallinfo2();
  void* forty = touched(40 * MiB);
  struct mallinfo2 j = mallinfo2();
  printf("40 MiB: hblks +%zu\n", j.hblks - i2.hblks);
  free(forty);
  printf("mallopt(M_MMAP_THRESHOLD, 128 KiB) = %d\n", mallopt(M_MMAP_THRESHOLD, 128 * KiB));
  printf("mallopt(M_TOP_PAD, 64 KiB) = %d\n", mallopt(M_TOP_PAD, 64 * KiB));
  return uvmt_failures == 0 ? 0 : 1;
}
