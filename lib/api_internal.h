// What the C API shares with the preload shim: the process-wide Vmalloc and
// the report for pointers that start no live area.
#pragma once

namespace uvm {

class Vmalloc;

// The process-wide instance, created on first call; null if it cannot be.
Vmalloc* instance();
// The instance if it exists already (no creation).
Vmalloc* instance_if_ready();
// One line on stderr naming the call, the pointer and the area it falls in,
// then abort() unless bad_free:warn is set.
void report_bad_pointer(const char* call, const void* p, int status);

}  // namespace uvm
