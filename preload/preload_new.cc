// The C++ allocation family: operator new and delete in every form (plain
// and [], nothrow, align_val_t, sized), routed as malloc and free are in
// preload.cc. A request below the threshold goes to the next definition of
// the same form: the small-object allocator's own when it exports one (as
// jemalloc, mimalloc and tcmalloc do, which is why a chain
// LD_PRELOAD=libuvmalloc_preload.so:libmimalloc.so.2 needs these: without
// them every new reached mimalloc), otherwise libstdc++'s, which calls
// malloc. A larger one goes to uvmalloc. A pointer in the vmalloc space is
// freed by uvmalloc, any other by the next definition of the delete form it
// came to.
//
// Large requests fail as libstdc++'s do: the new-handler is called until
// there is none (then std::bad_alloc) or it throws (its exception goes
// through), and the nothrow forms return null where the others throw.
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include "api_internal.h"
#include "shim.h"

#define UVM_EXPORT __attribute__((visibility("default")))

namespace {

using namespace uvm::shim;

using nt_t = const std::nothrow_t&;
using al_t = std::align_val_t;

using new_fn = void* (*)(size_t);
using new_nt_fn = void* (*)(size_t, nt_t) noexcept;
using new_al_fn = void* (*)(size_t, al_t);
using new_al_nt_fn = void* (*)(size_t, al_t, nt_t) noexcept;

// The next definitions of the new forms. Read only after small_limit() is
// open, which is published after they are written (resolve_new_family).
struct next_new {
  new_fn nw, na;
  new_nt_fn nw_nt, na_nt;
  new_al_fn nw_al, na_al;
  new_al_nt_fn nw_al_nt, na_al_nt;
};
next_new g_new;

// The next definitions of the delete forms. The fast path of delete does
// not wait for the next allocator to be known, so each starts as a stub that
// resolves them all (ready) and calls the real one. Before that is possible
// (ready false: dlsym is running) no block of the next allocator's can exist
// yet, so the stub has nothing to free.
template <class Fn>
struct stub;
template <class... A>
struct stub<void (*)(void*, A...) noexcept> {
  template <std::atomic<void (*)(void*, A...) noexcept>& slot>
  static void call(void* p, A... a) noexcept {
    if (ready()) slot.load(std::memory_order_acquire)(p, a...);
  }
};

using del_fn = void (*)(void*) noexcept;
using del_sz_fn = void (*)(void*, size_t) noexcept;
using del_nt_fn = void (*)(void*, nt_t) noexcept;
using del_al_fn = void (*)(void*, al_t) noexcept;
using del_sz_al_fn = void (*)(void*, size_t, al_t) noexcept;
using del_al_nt_fn = void (*)(void*, al_t, nt_t) noexcept;

std::atomic<del_fn> g_dl{stub<del_fn>::call<g_dl>};
std::atomic<del_fn> g_da{stub<del_fn>::call<g_da>};
std::atomic<del_sz_fn> g_dl_sz{stub<del_sz_fn>::call<g_dl_sz>};
std::atomic<del_sz_fn> g_da_sz{stub<del_sz_fn>::call<g_da_sz>};
std::atomic<del_nt_fn> g_dl_nt{stub<del_nt_fn>::call<g_dl_nt>};
std::atomic<del_nt_fn> g_da_nt{stub<del_nt_fn>::call<g_da_nt>};
std::atomic<del_al_fn> g_dl_al{stub<del_al_fn>::call<g_dl_al>};
std::atomic<del_al_fn> g_da_al{stub<del_al_fn>::call<g_da_al>};
std::atomic<del_sz_al_fn> g_dl_sz_al{stub<del_sz_al_fn>::call<g_dl_sz_al>};
std::atomic<del_sz_al_fn> g_da_sz_al{stub<del_sz_al_fn>::call<g_da_sz_al>};
std::atomic<del_al_nt_fn> g_dl_al_nt{stub<del_al_nt_fn>::call<g_dl_al_nt>};
std::atomic<del_al_nt_fn> g_da_al_nt{stub<del_al_nt_fn>::call<g_da_al_nt>};

template <class Fn>
void resolve(Fn& out, const char* name) {
  out = reinterpret_cast<Fn>(next_symbol(name));
  if (out != nullptr) return;
  // libstdc++ is the shim's own dependency, so it is always there to be
  // found after us.
  static const char msg[] = "uvmalloc: cannot find the next operator new/delete\n";
  if (write(2, msg, sizeof msg - 1) < 0) abort();
  abort();
}

template <class Fn>
void resolve(std::atomic<Fn>& slot, const char* name) {
  Fn f;
  resolve(f, name);
  slot.store(f, std::memory_order_release);
}

// libstdc++'s operator new on a large request: uvmalloc's block (or the next
// allocator's malloc when uvmalloc cannot), and while there is none the
// new-handler, until there is no handler.
void* new_large(size_t size, size_t align, const void* caller) {
  for (;;) {
    void* p = large_alloc(size, align, 0, caller);
    if (p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

// The slow path of every new form: bootstrap, a small request that came
// before the small path opened, a large one.
template <class Next>
[[gnu::noinline]] void* new_slow(size_t size, size_t align, const void* caller, Next next) {
  if (!ready()) {
    void* p = boot_alloc(size, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  if (!is_large(size)) return next();
  if (!is_pow2(align)) throw std::bad_alloc();  // libstdc++'s check
  return new_large(size, align, caller);
}

// The nothrow forms: null where the others throw, whatever threw
// (libstdc++ catches everything too).
template <class Next>
[[gnu::noinline]] void* new_slow_nothrow(size_t size, size_t align, const void* caller,
                                         Next next) noexcept {
  try {
    return new_slow(size, align, caller, next);
  } catch (...) {
    return nullptr;
  }
}

// The size libstdc++'s aligned new asks aligned_alloc for (C11 wants a
// multiple of the alignment), so that an aligned new is routed as it was
// through libstdc++ and malloc whatever the next allocator; SIZE_MAX when
// that wraps (the slow path fails it).
inline size_t aligned_request(size_t size, al_t al) {
  size_t mask = static_cast<size_t>(al) - 1;
  size_t rounded = (size + mask) & ~mask;
  return rounded < size ? SIZE_MAX : rounded;
}

// A delete whose pointer lies in the vmalloc space or the bootstrap arena.
[[gnu::noinline]] void delete_ours(void* p, const char* call) {
  if (ours(p)) uvm::free(p, call);
}

}  // namespace

namespace uvm::shim {

void resolve_new_family() {
  resolve(g_new.nw, "_Znwm");
  resolve(g_new.na, "_Znam");
  resolve(g_new.nw_nt, "_ZnwmRKSt9nothrow_t");
  resolve(g_new.na_nt, "_ZnamRKSt9nothrow_t");
  resolve(g_new.nw_al, "_ZnwmSt11align_val_t");
  resolve(g_new.na_al, "_ZnamSt11align_val_t");
  resolve(g_new.nw_al_nt, "_ZnwmSt11align_val_tRKSt9nothrow_t");
  resolve(g_new.na_al_nt, "_ZnamSt11align_val_tRKSt9nothrow_t");
  resolve(g_dl, "_ZdlPv");
  resolve(g_da, "_ZdaPv");
  resolve(g_dl_sz, "_ZdlPvm");
  resolve(g_da_sz, "_ZdaPvm");
  resolve(g_dl_nt, "_ZdlPvRKSt9nothrow_t");
  resolve(g_da_nt, "_ZdaPvRKSt9nothrow_t");
  resolve(g_dl_al, "_ZdlPvSt11align_val_t");
  resolve(g_da_al, "_ZdaPvSt11align_val_t");
  resolve(g_dl_sz_al, "_ZdlPvmSt11align_val_t");
  resolve(g_da_sz_al, "_ZdaPvmSt11align_val_t");
  resolve(g_dl_al_nt, "_ZdlPvSt11align_val_tRKSt9nothrow_t");
  resolve(g_da_al_nt, "_ZdaPvSt11align_val_tRKSt9nothrow_t");
}

}  // namespace uvm::shim

// The small path of each form: the threshold compare (new) or the address
// compares (delete), then a tail call to the next definition.

UVM_EXPORT void* operator new(size_t size) {
  if (__builtin_expect(size < small_limit(), 1)) return g_new.nw(size);
  return new_slow(size, 1, __builtin_return_address(0), [=] { return g_new.nw(size); });
}

UVM_EXPORT void* operator new[](size_t size) {
  if (__builtin_expect(size < small_limit(), 1)) return g_new.na(size);
  return new_slow(size, 1, __builtin_return_address(0), [=] { return g_new.na(size); });
}

UVM_EXPORT void* operator new(size_t size, nt_t t) noexcept {
  if (__builtin_expect(size < small_limit(), 1)) return g_new.nw_nt(size, t);
  return new_slow_nothrow(size, 1, __builtin_return_address(0),
                          [=] { return g_new.nw_nt(size, std::nothrow); });
}

UVM_EXPORT void* operator new[](size_t size, nt_t t) noexcept {
  if (__builtin_expect(size < small_limit(), 1)) return g_new.na_nt(size, t);
  return new_slow_nothrow(size, 1, __builtin_return_address(0),
                          [=] { return g_new.na_nt(size, std::nothrow); });
}

UVM_EXPORT void* operator new(size_t size, al_t al) {
  size_t request = aligned_request(size, al);
  if (__builtin_expect(request < small_limit(), 1)) return g_new.nw_al(size, al);
  return new_slow(request, static_cast<size_t>(al), __builtin_return_address(0),
                  [=] { return g_new.nw_al(size, al); });
}

UVM_EXPORT void* operator new[](size_t size, al_t al) {
  size_t request = aligned_request(size, al);
  if (__builtin_expect(request < small_limit(), 1)) return g_new.na_al(size, al);
  return new_slow(request, static_cast<size_t>(al), __builtin_return_address(0),
                  [=] { return g_new.na_al(size, al); });
}

UVM_EXPORT void* operator new(size_t size, al_t al, nt_t t) noexcept {
  size_t request = aligned_request(size, al);
  if (__builtin_expect(request < small_limit(), 1)) return g_new.nw_al_nt(size, al, t);
  return new_slow_nothrow(request, static_cast<size_t>(al), __builtin_return_address(0),
                          [=] { return g_new.nw_al_nt(size, al, std::nothrow); });
}

UVM_EXPORT void* operator new[](size_t size, al_t al, nt_t t) noexcept {
  size_t request = aligned_request(size, al);
  if (__builtin_expect(request < small_limit(), 1)) return g_new.na_al_nt(size, al, t);
  return new_slow_nothrow(request, static_cast<size_t>(al), __builtin_return_address(0),
                          [=] { return g_new.na_al_nt(size, al, std::nothrow); });
}

// Neither ours nor the arena's: the next allocator's (null included, which
// it ignores), or the stub while that is not known.
template <class... A>
[[gnu::always_inline]] inline void delete_routed(std::atomic<void (*)(void*, A...) noexcept>& next,
                                                 const char* call, void* p, A... a) noexcept {
  if (__builtin_expect(!in_space(p) && !in_boot(p), 1))
    return next.load(std::memory_order_acquire)(p, a...);
  delete_ours(p, call);
}

UVM_EXPORT void operator delete(void* p) noexcept {
  delete_routed(g_dl, "operator delete", p);
}

UVM_EXPORT void operator delete[](void* p) noexcept {
  delete_routed(g_da, "operator delete[]", p);
}

UVM_EXPORT void operator delete(void* p, size_t n) noexcept {
  delete_routed(g_dl_sz, "operator delete", p, n);
}

UVM_EXPORT void operator delete[](void* p, size_t n) noexcept {
  delete_routed(g_da_sz, "operator delete[]", p, n);
}

UVM_EXPORT void operator delete(void* p, nt_t t) noexcept {
  delete_routed<nt_t>(g_dl_nt, "operator delete", p, t);
}

UVM_EXPORT void operator delete[](void* p, nt_t t) noexcept {
  delete_routed<nt_t>(g_da_nt, "operator delete[]", p, t);
}

UVM_EXPORT void operator delete(void* p, al_t al) noexcept {
  delete_routed(g_dl_al, "operator delete", p, al);
}

UVM_EXPORT void operator delete[](void* p, al_t al) noexcept {
  delete_routed(g_da_al, "operator delete[]", p, al);
}

UVM_EXPORT void operator delete(void* p, size_t n, al_t al) noexcept {
  delete_routed(g_dl_sz_al, "operator delete", p, n, al);
}

UVM_EXPORT void operator delete[](void* p, size_t n, al_t al) noexcept {
  delete_routed(g_da_sz_al, "operator delete[]", p, n, al);
}

UVM_EXPORT void operator delete(void* p, al_t al, nt_t t) noexcept {
  delete_routed<al_t, nt_t>(g_dl_al_nt, "operator delete", p, al, t);
}

UVM_EXPORT void operator delete[](void* p, al_t al, nt_t t) noexcept {
  delete_routed<al_t, nt_t>(g_da_al_nt, "operator delete[]", p, al, t);
}
