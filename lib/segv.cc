// Fault reports: a SIGSEGV inside the vmalloc space is explained on stderr
// (overflow into a guard page, use after free, wild access) with the area
// and its allocation site, when the signal is about to take its default
// action and end the process. Otherwise the signal goes where it would have
// gone without uvmalloc: to the program's handler (installed before us, or
// after us through the shim's sigaction, recorded here by
// segv_program_action), or it is ignored.
//
// The kernel holds our handler; the program's disposition is kept here, as
// the kernel keeps it in sighand: delivery honours its sa_flags and sa_mask
// the way get_signal() and signal_setup_done() would.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "api_internal.h"
#include "caller.h"
#include "pal.h"
#include "vmalloc.h"

namespace uvm {
namespace {

// glibc's sigaction always hands the kernel SA_RESTORER (x86-64), so the
// kernel reports it back in sa_flags; the program must see it as it would.
#if defined(__x86_64__)
constexpr int kSaRestorer = 0x04000000;
#else
constexpr int kSaRestorer = 0;
#endif
// The kernel's sigset is 64 bits; glibc copies only those back to the caller.
constexpr size_t kKernelSigset = 8;

// The program's disposition, published without a lock the handler would need:
// writers (serialised by g_lock, signals blocked) fill the slot after the
// current one and bump the generation; readers copy and retry if it moved.
// Bit 0 of the state is SA_RESETHAND having fired: the handler is SIG_DFL,
// flags and mask unchanged (as the kernel leaves them).
constexpr unsigned kSlots = 4;
struct sigaction g_actions[kSlots];
std::atomic<uint32_t> g_state{0};
std::atomic<bool> g_installed{false};
std::atomic_flag g_lock = ATOMIC_FLAG_INIT;
void (*g_restorer)() = nullptr;  // glibc's, as the kernel reports it for our handler

using shim::sigaction_fn;

// The C library's sigaction. Under the shim ::sigaction is the shim's own
// interposer, which would only record the call.
sigaction_fn sys_sigaction() {
  if (shim::next_sigaction != nullptr) {
    if (sigaction_fn f = shim::next_sigaction()) return f;
  }
  return ::sigaction;
}

uint32_t program_action(struct sigaction* out) {
  for (;;) {
    uint32_t s = g_state.load(std::memory_order_acquire);
    memcpy(out, &g_actions[(s >> 1) % kSlots], sizeof *out);
    uint32_t again = g_state.load(std::memory_order_acquire);
    if ((again >> 1) != (s >> 1)) continue;
    if (again & 1) out->sa_handler = SIG_DFL;
    return again;
  }
}

// Our handler in the kernel takes the program's SA_RESTART and SA_ONSTACK:
// they act before any handler runs (syscall restart, which stack).
int install_ours(int program_flags);

class action_lock {
 public:
  action_lock() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved_);  // no handler of ours may spin on it
    while (g_lock.test_and_set(std::memory_order_acquire)) sched_yield();
  }
  ~action_lock() {
    g_lock.clear(std::memory_order_release);
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  action_lock(const action_lock&) = delete;
  action_lock& operator=(const action_lock&) = delete;

 private:
  sigset_t saved_;
};

void symbol(uintptr_t caller, char* buf, size_t len) {
  format_caller(reinterpret_cast<const void*>(caller), buf, len);
}

void say(const char* line) {
  if (write(2, line, strlen(line)) < 0) {
    // nothing more to do: stderr is gone
  }
}

// The default action (core dump). A fault re-executes and faults again under
// SIG_DFL, so the core shows the faulting instruction; a sent signal is sent
// again, unblocked.
void default_action(int sig, const siginfo_t* info) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sys_sigaction()(sig, &dfl, nullptr);
  if (info->si_code > 0) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
}

// Run the program's handler as the kernel would have: its sa_mask and the
// signal itself (unless SA_NODEFER) added to the mask it interrupted,
// SA_RESETHAND back to SIG_DFL first.
void deliver(const struct sigaction& prog, uint32_t state, int sig, siginfo_t* info, void* ctx,
             int saved_errno) {
  if (prog.sa_flags & SA_RESETHAND) {
    uint32_t armed = state & ~1u;
    g_state.compare_exchange_strong(armed, armed | 1, std::memory_order_acq_rel);
  }
  sigset_t mask, during;
  sigemptyset(&mask);
  memcpy(&mask, &static_cast<ucontext_t*>(ctx)->uc_sigmask, kKernelSigset);
  sigorset(&mask, &mask, &prog.sa_mask);
  if (prog.sa_flags & SA_NODEFER) {
    sigdelset(&mask, sig);
  } else {
    sigaddset(&mask, sig);
  }
  pthread_sigmask(SIG_SETMASK, &mask, &during);
  errno = saved_errno;  // the program's handler sees, and may change, the program's errno
  if (prog.sa_flags & SA_SIGINFO) {
    prog.sa_sigaction(sig, info, ctx);
  } else {
    prog.sa_handler(sig);
  }
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &during, nullptr);
  errno = e;
}

void on_segv(int sig, siginfo_t* info, void* ctx) {
  int saved = errno;
  struct sigaction prog;
  uint32_t state = program_action(&prog);
  bool fault = info->si_code > 0;  // sent by the kernel; SI_USER, SI_TKILL, SI_QUEUE are <= 0
  if (prog.sa_handler != SIG_DFL && prog.sa_handler != SIG_IGN) {
    deliver(prog, state, sig, info, ctx, saved);
    return;
  }
  // SIG_IGN: a sent signal is dropped; a fault is forced through, as
  // force_sig_fault() resets an ignored SIGSEGV to SIG_DFL.
  if (prog.sa_handler == SIG_IGN && !fault) {
    errno = saved;
    return;
  }
  Vmalloc* vm = instance_if_ready();
  if (fault && vm != nullptr && vm->contains(info->si_addr)) {
    char line[640];
    vm->describe_fault(reinterpret_cast<uintptr_t>(info->si_addr), line, sizeof line);
    say(line);
  }
  default_action(sig, info);
  errno = saved;
}

int install_ours(int program_flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | (program_flags & (SA_RESTART | SA_ONSTACK));
  sigemptyset(&sa.sa_mask);
  return sys_sigaction()(SIGSEGV, &sa, nullptr);
}

}  // namespace

void Vmalloc::remember_freed(vmap_node& node, const vm_struct* vm) {
  unsigned i = node.freed_next.fetch_add(1, std::memory_order_relaxed);
  vmap_node::freed_area& f = node.freed[i % vmap_node::kFreedHistory];
  f.start.store(vm->addr, std::memory_order_relaxed);
  f.end.store(vm->va->va_end, std::memory_order_relaxed);
  f.caller.store(reinterpret_cast<uintptr_t>(vm->caller), std::memory_order_relaxed);
  f.when.store(pal::coarse_ns(), std::memory_order_relaxed);
}

void Vmalloc::describe_fault(uintptr_t addr, char* buf, size_t len) const {
  char site[256];
  vmap_area area{};
  vm_struct copy{};
  bool busy = space_.try_find(addr, &area);
  bool live = false;
  // try_lock only: the faulting thread may hold the lock itself.
  if (busy && area.vm != nullptr && area.flags != VMAP_RAM) {
    copy = *static_cast<const vm_struct*>(area.vm);
    live = true;
  }
  if (live) {
    symbol(reinterpret_cast<uintptr_t>(copy.caller), site, sizeof site);
    if (addr >= copy.addr + copy.size) {
      snprintf(buf, len,
               "uvmalloc: SIGSEGV at %#lx: overflow into the guard page, %lu bytes past the end "
               "of the area %#lx-%#lx (%zu bytes asked for, %zu mapped) allocated at %s\n",
               static_cast<unsigned long>(addr),
               static_cast<unsigned long>(addr - (copy.addr + copy.offset + copy.requested)),
               static_cast<unsigned long>(copy.addr),
               static_cast<unsigned long>(copy.addr + copy.size), copy.requested, copy.size, site);
    } else {
      // Mapped, so the program changed the page's protection (mprotect).
      snprintf(buf, len,
               "uvmalloc: SIGSEGV at %#lx: %lu bytes into the live area %#lx-%#lx (%zu bytes asked "
               "for, %zu mapped) allocated at %s, on a page its protection forbids\n",
               static_cast<unsigned long>(addr), static_cast<unsigned long>(addr - copy.addr),
               static_cast<unsigned long>(copy.addr),
               static_cast<unsigned long>(copy.addr + copy.size), copy.requested, copy.size, site);
    }
    return;
  }
  if (busy) {
    snprintf(buf, len,
             "uvmalloc: SIGSEGV at %#lx: %lu bytes into the live area %#lx-%#lx (vmap or "
             "vm_map_ram), on a page its protection forbids\n",
             static_cast<unsigned long>(addr), static_cast<unsigned long>(addr - area.va_start),
             static_cast<unsigned long>(area.va_start), static_cast<unsigned long>(area.va_end));
    return;
  }
  // The most recent area freed at this address, over every node's history.
  const vmap_node::freed_area* hit = nullptr;
  uint64_t hit_when = 0;
  for (unsigned n = 0; n < nr_nodes_; ++n) {
    for (const vmap_node::freed_area& f : nodes_[n].freed) {
      uintptr_t s = f.start.load(std::memory_order_relaxed);
      uintptr_t e = f.end.load(std::memory_order_relaxed);
      uint64_t when = f.when.load(std::memory_order_relaxed);
      if (addr >= s && addr < e && (hit == nullptr || when > hit_when)) {
        hit = &f;
        hit_when = when;
      }
    }
  }
  if (hit != nullptr) {
    uintptr_t s = hit->start.load(std::memory_order_relaxed);
    uintptr_t e = hit->end.load(std::memory_order_relaxed);
    symbol(hit->caller.load(std::memory_order_relaxed), site, sizeof site);
    snprintf(buf, len,
             "uvmalloc: SIGSEGV at %#lx: use after free, %lu bytes into the freed area "
             "%#lx-%#lx allocated at %s\n",
             static_cast<unsigned long>(addr), static_cast<unsigned long>(addr - s),
             static_cast<unsigned long>(s), static_cast<unsigned long>(e), site);
    return;
  }
  snprintf(buf, len,
           "uvmalloc: SIGSEGV at %#lx: in the vmalloc space %#lx-%#lx but in no live area "
           "(wild pointer, or use after free of an area freed long ago)\n",
           static_cast<unsigned long>(addr), static_cast<unsigned long>(space_.start()),
           static_cast<unsigned long>(space_.end()));
}

void install_segv_handler() {
  action_lock lock;
  if (g_installed.load(std::memory_order_relaxed)) return;
  struct sigaction prev, ours;
  memset(&prev, 0, sizeof prev);  // glibc fills only the kernel's 64 signals of the mask
  if (sys_sigaction()(SIGSEGV, nullptr, &prev) != 0) return;
  if (install_ours(prev.sa_flags) != 0) return;
  if (sys_sigaction()(SIGSEGV, nullptr, &ours) == 0) g_restorer = ours.sa_restorer;
  g_actions[0] = prev;
  g_state.store(0, std::memory_order_release);
  g_installed.store(true, std::memory_order_release);
}

void segv_fork_child() {
  // The child's only thread holds nothing; a slot a parent thread was
  // filling is not published (the generation did not move).
  g_lock.clear(std::memory_order_release);
}

int segv_program_action(const struct sigaction* act, struct sigaction* old) {
  action_lock lock;
  if (!g_installed.load(std::memory_order_relaxed)) return sys_sigaction()(SIGSEGV, act, old);
  struct sigaction cur;
  program_action(&cur);
  struct sigaction next;
  if (act != nullptr) {
    // What the kernel would keep: known flags, no SIGKILL/SIGSTOP in the mask.
    memset(&next, 0, sizeof next);
    next.sa_sigaction = act->sa_sigaction;
    sigemptyset(&next.sa_mask);
    memcpy(&next.sa_mask, &act->sa_mask, kKernelSigset);
    sigdelset(&next.sa_mask, SIGKILL);
    sigdelset(&next.sa_mask, SIGSTOP);
    next.sa_flags = (act->sa_flags & (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK |
                                      SA_RESTART | SA_NODEFER | SA_RESETHAND)) |
                    kSaRestorer;
    next.sa_restorer = kSaRestorer != 0 ? g_restorer : nullptr;
    if (install_ours(next.sa_flags) != 0) return -1;
    uint32_t gen = (g_state.load(std::memory_order_relaxed) >> 1) + 1;
    g_actions[gen % kSlots] = next;
    g_state.store(gen << 1, std::memory_order_release);
  }
  if (old != nullptr) {  // as glibc fills it: the kernel's 64 signals of the mask only
    old->sa_sigaction = cur.sa_sigaction;
    memcpy(&old->sa_mask, &cur.sa_mask, kKernelSigset);
    old->sa_flags = cur.sa_flags;
    old->sa_restorer = cur.sa_restorer;
  }
  return 0;
}

}  // namespace uvm
