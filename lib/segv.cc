// Fault reports: a SIGSEGV inside the vmalloc space is explained on stderr
// (overflow into a guard page, use after free, wild access) with the area
// and its allocation site, then the signal goes on as it would have: to the
// program's own handler if it installed one before us, else the default
// action (core dump, exit status of a segfault). Faults elsewhere are passed
// straight on.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "api_internal.h"
#include "caller.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

struct sigaction g_previous;
bool g_installed = false;

void symbol(uintptr_t caller, char* buf, size_t len) {
  format_caller(reinterpret_cast<const void*>(caller), buf, len);
}

// Pass the signal on as if we had never been there.
void chain(int sig, siginfo_t* info, void* ctx) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: uninstall and return; the access faults again and the
  // kernel ends the process with the usual core dump and status.
  signal(sig, SIG_DFL);
}

void on_segv(int sig, siginfo_t* info, void* ctx) {
  int saved = errno;
  Vmalloc* vm = instance_if_ready();
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (vm != nullptr && vm->contains(info->si_addr)) {
    char line[640];
    vm->describe_fault(addr, line, sizeof line);
    if (write(2, line, strlen(line)) < 0) {
      // nothing more to do: stderr is gone
    }
  }
  errno = saved;
  chain(sig, info, ctx);
}

}  // namespace

void Vmalloc::remember_freed(const vm_struct* vm) {
  freed_area& f = freed_[freed_next_.fetch_add(1, std::memory_order_relaxed) % kFreedHistory];
  f.start.store(vm->addr, std::memory_order_relaxed);
  f.end.store(vm->va->va_end, std::memory_order_relaxed);
  f.caller.store(reinterpret_cast<uintptr_t>(vm->caller), std::memory_order_relaxed);
}

void Vmalloc::describe_fault(uintptr_t addr, char* buf, size_t len) const {
  char site[256];
  vmap_area area{};
  vm_struct copy{};
  bool live = false;
  // try_lock only: the faulting thread may hold the lock itself.
  if (space_.try_find(addr, &area) && area.vm != nullptr && area.flags != VMAP_RAM) {
    copy = *static_cast<const vm_struct*>(area.vm);
    live = true;
  }
  if (live && addr >= copy.addr + copy.size) {
    symbol(reinterpret_cast<uintptr_t>(copy.caller), site, sizeof site);
    snprintf(buf, len,
             "uvmalloc: SIGSEGV at %#lx: overflow into the guard page, %lu bytes past the end of "
             "the area %#lx-%#lx (%zu bytes asked for, %zu mapped) allocated at %s\n",
             static_cast<unsigned long>(addr),
             static_cast<unsigned long>(addr - (copy.addr + copy.offset + copy.requested)),
             static_cast<unsigned long>(copy.addr),
             static_cast<unsigned long>(copy.addr + copy.size), copy.requested, copy.size, site);
    return;
  }
  if (!live) {
    // Newest first: the most recent area freed at this address.
    unsigned next = freed_next_.load(std::memory_order_relaxed);
    for (unsigned i = 1; i <= kFreedHistory && i <= next; ++i) {
      const freed_area& f = freed_[(next - i) % kFreedHistory];
      uintptr_t s = f.start.load(std::memory_order_relaxed);
      uintptr_t e = f.end.load(std::memory_order_relaxed);
      if (addr >= s && addr < e) {
        symbol(f.caller.load(std::memory_order_relaxed), site, sizeof site);
        snprintf(buf, len,
                 "uvmalloc: SIGSEGV at %#lx: use after free, %lu bytes into the freed area "
                 "%#lx-%#lx allocated at %s\n",
                 static_cast<unsigned long>(addr), static_cast<unsigned long>(addr - s),
                 static_cast<unsigned long>(s), static_cast<unsigned long>(e), site);
        return;
      }
    }
  }
  snprintf(buf, len,
           "uvmalloc: SIGSEGV at %#lx: in the vmalloc space %#lx-%#lx but in no live area "
           "(wild pointer, or use after free of an area freed long ago)\n",
           static_cast<unsigned long>(addr), static_cast<unsigned long>(space_.start()),
           static_cast<unsigned long>(space_.end()));
}

void install_segv_handler() {
  if (g_installed) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_previous) == 0) g_installed = true;
}

}  // namespace uvm
