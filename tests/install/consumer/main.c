#include <stdio.h>
#include <string.h>
#include <uvmalloc/uvmalloc.h>

int main(void) {
  if (strcmp(uvm_version(), "0.1.0") != 0) return 1;
  printf("consumer: uvmalloc %s: %s\n", uvm_version(), uvm_strerror(UVM_ENOTALLOC));
  return 0;
}
