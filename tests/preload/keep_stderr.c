/* keep_stderr.so: a test helper preloaded next to the shim for programs that
 * fclose(stderr) before they exit (GNU coreutils through gnulib's
 * close_stdout, xz through tuklib_exit). uvmalloc prints its --stats report
 * from an atexit handler to stderr, which by then is closed, so the report
 * is lost (see stats_fclose.sh). This library turns fclose(stderr) into a
 * flush, so the tests can still read the report. Nothing else changes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int fclose(FILE* f) {
  static int (*next)(FILE*);
  if (f == stderr) return fflush(f);
  if (next == NULL) *(void**)&next = dlsym(RTLD_NEXT, "fclose");
  return next(f);
}
