#include "caller.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace uvm {

void format_caller(const void* caller, char* buf, size_t len) {
  Dl_info dl;
  auto a = reinterpret_cast<uintptr_t>(caller);
  if (caller == nullptr || dladdr(caller, &dl) == 0) {
    snprintf(buf, len, "%p", caller);
  } else if (dl.dli_sname != nullptr) {
    snprintf(buf, len, "%s+0x%lx", dl.dli_sname,
             static_cast<unsigned long>(a - reinterpret_cast<uintptr_t>(dl.dli_saddr)));
  } else {
    const char* base = dl.dli_fname != nullptr ? strrchr(dl.dli_fname, '/') : nullptr;
    snprintf(buf, len, "%s+0x%lx", base ? base + 1 : (dl.dli_fname ? dl.dli_fname : "?"),
             static_cast<unsigned long>(a - reinterpret_cast<uintptr_t>(dl.dli_fbase)));
  }
}

}  // namespace uvm
