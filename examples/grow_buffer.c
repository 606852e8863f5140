/* Growing a buffer with uvm_vrealloc: the data is never copied; the block
 * grows in place or its pages are mapped at a new address. */
#include <stdio.h>
#include <string.h>
#include <uvmalloc/uvmalloc.h>

int main(void) {
  size_t size = 0, step = 1 << 20;
  unsigned char* buf = NULL;
  for (int i = 0; i < 256; ++i) {
    unsigned char* grown = uvm_vrealloc(buf, size + step);
    if (grown == NULL) {
      perror("uvm_vrealloc");
      uvm_vfree(buf);
      return 1;
    }
    buf = grown;
    memset(buf + size, i, step); /* fill only the new part */
    size += step;
  }
  for (size_t off = 0; off < size; off += step)
    if (buf[off] != (unsigned char)(off / step) || buf[off + step - 1] != buf[off]) {
      fprintf(stderr, "grow_buffer: data lost at %zu\n", off);
      return 1;
    }
  struct uvm_stats s;
  uvm_stats(&s);
  printf("grew to %zu MiB in %d steps: %zu in place, %zu moved by re-mapping, %zu copied\n",
         size >> 20, 256, s.grown_in_place, s.moved, s.copied);
  uvm_vfree(buf);
  return s.copied == 0 ? 0 : 1;
}
