#include "pal_fault.h"

namespace uvm::pal {
namespace {

struct armed {
  std::atomic<unsigned> skip{0};   // calls to let through first
  std::atomic<unsigned> times{0};  // calls to fail after that
  std::atomic<int> err{0};
};
armed g_faults[static_cast<int>(fault::count)];
std::atomic<bool> g_any{false};

}  // namespace

void inject_fault(fault what, unsigned nth, int err, unsigned times) {
  armed& a = g_faults[static_cast<int>(what)];
  a.err = err;
  a.skip = nth > 0 ? nth - 1 : 0;
  a.times = times;
  g_any = true;
}

void clear_faults() {
  for (armed& a : g_faults) a.times = 0;
  g_any = false;
}

bool injected(fault what, int* err) {
  if (!g_any.load(std::memory_order_relaxed)) return false;
  armed& a = g_faults[static_cast<int>(what)];
  if (a.times.load(std::memory_order_relaxed) == 0) return false;
  unsigned skip = a.skip.load(std::memory_order_relaxed);
  while (skip > 0) {
    if (a.skip.compare_exchange_weak(skip, skip - 1)) return false;
  }
  unsigned t = a.times.load(std::memory_order_relaxed);
  while (t > 0) {
    if (a.times.compare_exchange_weak(t, t - 1)) {
      *err = a.err.load(std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

}  // namespace uvm::pal
