// caller: an allocation site for reports, "symbol+0xoff" when the symbol is
// exported, else "object+0xoff" relative to the object's load address (what
// addr2line -e object takes), else the raw address.
#pragma once

#include <cstddef>

namespace uvm {

void format_caller(const void* caller, char* buf, size_t len);

}  // namespace uvm
