/* alloc_probe [--fclose-stderr] SIZE...: mallocs, touches and frees a block
 * of each SIZE (bytes, K or M suffix). With --fclose-stderr it then closes
 * stderr before returning, as GNU coreutils and xz do. Used by the
 * uvmalloc-run and --stats checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  int close_stderr = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--fclose-stderr") == 0) {
      close_stderr = 1;
      continue;
    }
    char* end;
    size_t n = strtoull(argv[i], &end, 10);
    if (*end == 'K') n <<= 10;
    if (*end == 'M') n <<= 20;
    char* p = malloc(n);
    if (p == NULL) return 1;
    memset(p, 1, n);
    __asm__ volatile("" : : "g"(p) : "memory");
    free(p);
  }
  printf("probe: ok\n");
  if (close_stderr && fclose(stderr) != 0) return 1;
  return 0;
}
