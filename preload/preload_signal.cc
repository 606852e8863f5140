// The signal calls a program makes on SIGSEGV, interposed so that uvmalloc's
// fault handler (lib/segv.cc) is neither displaced nor seen: once it is in,
// the program's disposition is recorded there and reported back to the
// program, and its handler is run from ours as the kernel would run it.
// Every other signal, and SIGSEGV before uvmalloc starts, goes straight to
// the C library. glibc's signal() & co. reach its sigaction without the PLT,
// so each is interposed too, with the flags glibc gives it.
//
// SIGBUS is left alone: uvmalloc never shrinks its memfds under a mapping,
// so nothing it does raises SIGBUS, and there is nothing of ours to explain.
#include <signal.h>

#include <atomic>
#include <cerrno>

#include "api_internal.h"
#include "shim.h"

#define UVM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using signal_fn = sighandler_t (*)(int, sighandler_t);

std::atomic<uvm::shim::sigaction_fn> g_sigaction{nullptr};
std::atomic<signal_fn> g_signal{nullptr};
std::atomic<signal_fn> g_sysv_signal{nullptr};
std::atomic<signal_fn> g_sigset{nullptr};

// Resolved at load, so the fault handler never calls dlsym.
__attribute__((constructor)) void resolve() {
  uvm::shim::next_sigaction();
}

// signal() & co. for SIGSEGV: the sigaction glibc would make of them.
sighandler_t set_handler(sighandler_t handler, int flags, bool mask_self) {
  if (handler == SIG_ERR) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction act, old;
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (mask_self) sigaddset(&act.sa_mask, SIGSEGV);
  act.sa_flags = flags;
  if (uvm::segv_program_action(&act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

}  // namespace

namespace uvm::shim {

sigaction_fn next_sigaction() {
  return uvm::shim::next_cached(g_sigaction, "sigaction");
}

}  // namespace uvm::shim

UVM_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (sig == SIGSEGV) return uvm::segv_program_action(act, old);
  uvm::shim::sigaction_fn f = uvm::shim::next_sigaction();
  if (f == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return f(sig, act, old);
}

UVM_EXPORT int __sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return sigaction(sig, act, old);
}

// glibc's BSD semantics: the signal blocked in its handler, syscalls
// restarted (siginterrupt() on SIGSEGV is not seen here).
UVM_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (sig == SIGSEGV) return set_handler(handler, SA_RESTART, true);
  return uvm::shim::next_cached(g_signal, "signal")(sig, handler);
}

UVM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) {
  return signal(sig, handler);
}

// System V semantics: one delivery, then SIG_DFL; the signal not blocked.
UVM_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) {
  if (sig == SIGSEGV) return set_handler(handler, SA_RESETHAND | SA_NODEFER, false);
  return uvm::shim::next_cached(g_sysv_signal, "__sysv_signal")(sig, handler);
}

UVM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
  return __sysv_signal(sig, handler);
}

// sigset(): SIG_HOLD blocks the signal; anything else installs it with no
// flags and unblocks it. SIG_HOLD is returned when it was blocked.
UVM_EXPORT sighandler_t sigset(int sig, sighandler_t disp) {
  if (sig != SIGSEGV) return uvm::shim::next_cached(g_sigset, "sigset")(sig, disp);
  sigset_t self, was;
  sigemptyset(&self);
  sigaddset(&self, SIGSEGV);
  if (disp == SIG_HOLD) {
    if (sigprocmask(SIG_BLOCK, &self, &was) != 0) return SIG_ERR;
    if (sigismember(&was, SIGSEGV)) return SIG_HOLD;
    struct sigaction old;
    if (uvm::segv_program_action(nullptr, &old) != 0) return SIG_ERR;
    return old.sa_handler;
  }
  sighandler_t old = set_handler(disp, 0, false);
  if (old == SIG_ERR || sigprocmask(SIG_UNBLOCK, &self, &was) != 0) return SIG_ERR;
  return sigismember(&was, SIGSEGV) ? SIG_HOLD : old;
}
