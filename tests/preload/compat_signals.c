/* compat_signals CASE [direct]: SIGSEGV as a program sees it, to be the same
 * with and without the shim (compat.sh compares the output and the status).
 * A 4 MiB block is allocated first, so under the shim uvmalloc is up and its
 * fault handler installed. Each case runs in a child and the parent prints
 * how the child ended (so the parent exits normally and uvmalloc's stats
 * prove it served the block); "early_" cases set their handler before the
 * block, so before uvmalloc's; "direct" runs the case in the process itself,
 * whose own status compat.sh then compares. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload_test.h"

#define BLOCK ((size_t)4 << 20)
#define PAGE ((size_t)4096)

static char* g_block;
static char* g_page; /* a page inside the block, made PROT_NONE by some cases */
static volatile sig_atomic_t g_calls, g_depth, g_max_depth, g_code, g_signo, g_pid_ok, g_addr_ok;
static volatile sig_atomic_t g_mask_usr1, g_mask_segv;

static void record_mask(void) {
  sigset_t m;
  sigprocmask(SIG_BLOCK, NULL, &m);
  g_mask_usr1 = sigismember(&m, SIGUSR1);
  g_mask_segv = sigismember(&m, SIGSEGV);
}

static void h_info(int sig, siginfo_t* si, void* ctx) {
  (void)ctx;
  ++g_calls;
  g_signo = sig == si->si_signo ? sig : -1;
  g_code = si->si_code;
  g_pid_ok = si->si_code <= 0 && si->si_pid == getpid();
  record_mask();
}

static void h_plain(int sig) {
  ++g_calls;
  g_signo = sig;
  record_mask();
}

/* Raises again from inside itself: nested with SA_NODEFER, else pending
 * until it returns. */
static void h_nest(int sig) {
  ++g_calls;
  ++g_depth;
  if (g_depth > g_max_depth) g_max_depth = g_depth;
  if (g_calls < 3) raise(sig);
  --g_depth;
}

/* The program's own guard page: open it and let the access run again. */
static void h_fix(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)ctx;
  ++g_calls;
  g_code = si->si_code;
  g_addr_ok = (char*)si->si_addr >= g_page && (char*)si->si_addr < g_page + PAGE;
  mprotect(g_page, PAGE, PROT_READ | PROT_WRITE);
}

static const char* name_of(void* h) {
  if (h == (void*)SIG_DFL) return "SIG_DFL";
  if (h == (void*)SIG_IGN) return "SIG_IGN";
  if (h == (void*)h_info) return "h_info";
  if (h == (void*)h_plain) return "h_plain";
  if (h == (void*)h_nest) return "h_nest";
  if (h == (void*)h_fix) return "h_fix";
  return "someone else's";
}

static void print_action(const char* label, const struct sigaction* a) {
  printf("%s: %s flags %#x mask usr1 %d segv %d\n", label, name_of((void*)a->sa_handler),
         (unsigned)a->sa_flags, sigismember(&a->sa_mask, SIGUSR1),
         sigismember(&a->sa_mask, SIGSEGV));
}

static void query(const char* label) {
  struct sigaction q;
  memset(&q, 0, sizeof q);
  int rc = sigaction(SIGSEGV, NULL, &q);
  if (rc != 0) printf("%s: sigaction failed\n", label);
  print_action(label, &q);
}

static void set(void* handler, int flags, int mask_usr1) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  memset(&old, 0, sizeof old);
  if (flags & SA_SIGINFO) {
    sa.sa_sigaction = (void (*)(int, siginfo_t*, void*))handler;
  } else {
    sa.sa_handler = (void (*)(int))handler;
  }
  sigemptyset(&sa.sa_mask);
  if (mask_usr1) sigaddset(&sa.sa_mask, SIGUSR1);
  sa.sa_flags = flags;
  UVMT_REQUIRE(sigaction(SIGSEGV, &sa, &old) == 0);
  print_action("old", &old);
}

static void report(const char* label) {
  printf("%s: calls %d signo %d code %d pid_ok %d addr_ok %d depth %d mask usr1 %d segv %d\n",
         label, (int)g_calls, (int)g_signo, (int)g_code, (int)g_pid_ok, (int)g_addr_ok,
         (int)g_max_depth, (int)g_mask_usr1, (int)g_mask_segv);
}

static void protect_page(void) {
  g_page = (char*)(((uintptr_t)g_block + BLOCK / 2) & ~(PAGE - 1));
  UVMT_REQUIRE(mprotect(g_page, PAGE, PROT_NONE) == 0);
}

static void touch_page(void) {
  *(volatile char*)(g_page + 100) = 7;
  printf("touched: %d\n", g_page[100]);
}

/* The first address at or after `a` that no writable mapping covers. */
static uintptr_t unwritable_from(uintptr_t a) {
  for (int moved = 1; moved;) {
    moved = 0;
    FILE* f = fopen("/proc/self/maps", "r");
    UVMT_REQUIRE(f != NULL);
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
      unsigned long lo, hi;
      char perms[8];
      if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi &&
          perms[1] == 'w') {
        a = hi;
        moved = 1;
      }
    }
    fclose(f);
  }
  return a;
}

/* An overflow off the end of the block, to the first page that faults:
 * uvmalloc's guard page; with glibc whatever follows its mmap chunk and
 * the writable mappings next to it (written over here only in the address,
 * not in fact: the store goes straight to the first unwritable page). */
static void overflow(void) {
  uintptr_t end = (uintptr_t)g_block + malloc_usable_size(g_block);
  char* past = (char*)unwritable_from((end + PAGE - 1) & ~(PAGE - 1));
  printf("overflowing\n");
  *(volatile char*)past = 1;
  printf("survived the overflow\n");
}

static void* sleeper(void* arg) {
  (void)arg;
  sleep(2); /* the signal ends the process long before */
  return NULL;
}

static int run_case(const char* c) {
  if (strcmp(c, "raise_dfl") == 0) {
    query("before");
    raise(SIGSEGV);
  } else if (strcmp(c, "kill_dfl") == 0) {
    kill(getpid(), SIGSEGV);
  } else if (strcmp(c, "sigqueue_dfl") == 0) {
    union sigval v = {.sival_int = 5};
    sigqueue(getpid(), SIGSEGV, v);
  } else if (strcmp(c, "tgkill_dfl") == 0) {
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGSEGV);
  } else if (strcmp(c, "thread_kill_dfl") == 0) {
    pthread_t t;
    UVMT_REQUIRE(pthread_create(&t, NULL, sleeper, NULL) == 0);
    pthread_kill(t, SIGSEGV);
    pthread_join(t, NULL);
  } else if (strcmp(c, "raise_siginfo") == 0) {
    set((void*)h_info, SA_SIGINFO, 0);
    raise(SIGSEGV);
    report("raise");
    kill(getpid(), SIGSEGV);
    report("kill");
    union sigval v = {.sival_int = 5};
    sigqueue(getpid(), SIGSEGV, v);
    report("sigqueue");
    query("after");
  } else if (strcmp(c, "raise_plain") == 0) {
    set((void*)h_plain, 0, 0);
    raise(SIGSEGV);
    report("raise");
    query("after");
  } else if (strcmp(c, "signal_fn") == 0) {
    printf("signal: %s\n", name_of((void*)signal(SIGSEGV, h_plain)));
    query("after signal");
    printf("signal: %s\n", name_of((void*)signal(SIGSEGV, SIG_DFL)));
    printf("sysv_signal: %s\n", name_of((void*)sysv_signal(SIGSEGV, h_plain)));
    query("after sysv_signal");
    raise(SIGSEGV);
    report("raise");
    query("after delivery");
    raise(SIGSEGV); /* SIG_DFL again: killed */
  } else if (strcmp(c, "resethand") == 0) {
    set((void*)h_info, SA_SIGINFO | SA_RESETHAND, 0);
    raise(SIGSEGV);
    report("first");
    query("after first");
    raise(SIGSEGV); /* SIG_DFL again: killed */
  } else if (strcmp(c, "nodefer") == 0) {
    set((void*)h_nest, SA_NODEFER, 0);
    raise(SIGSEGV);
    report("nested");
  } else if (strcmp(c, "defer") == 0) {
    set((void*)h_nest, 0, 0);
    raise(SIGSEGV);
    report("queued");
  } else if (strcmp(c, "mask") == 0) {
    set((void*)h_info, SA_SIGINFO, 1);
    raise(SIGSEGV);
    report("in handler");
    record_mask();
    printf("after: mask usr1 %d segv %d\n", (int)g_mask_usr1, (int)g_mask_segv);
    query("after");
  } else if (strcmp(c, "query") == 0) {
    query("initial");
    set((void*)h_info, SA_SIGINFO | SA_ONSTACK, 1);
    query("set");
    set((void*)SIG_IGN, 0, 0);
    query("ignored");
    set((void*)SIG_DFL, SA_RESTART, 0);
    query("default");
  } else if (strcmp(c, "early_resethand") == 0) { /* set in main, before the block */
    query("inherited");
    raise(SIGSEGV);
    report("first");
    query("after first");
    raise(SIGSEGV); /* SIG_DFL again: killed */
  } else if (strcmp(c, "early_fix_own_page") == 0) {
    protect_page();
    touch_page();
    report("fixed");
  } else if (strcmp(c, "ign_raise") == 0) {
    set((void*)SIG_IGN, 0, 0);
    raise(SIGSEGV);
    kill(getpid(), SIGSEGV);
    raise(SIGSEGV);
    printf("still here\n");
  } else if (strcmp(c, "ign_fault") == 0) {
    set((void*)SIG_IGN, 0, 0);
    protect_page();
    touch_page(); /* a fault is not ignored: killed */
  } else if (strcmp(c, "fix_own_page") == 0) {
    set((void*)h_fix, SA_SIGINFO, 0);
    protect_page();
    touch_page();
    report("fixed");
  } else if (strcmp(c, "own_page_dfl") == 0) {
    protect_page();
    touch_page();
  } else if (strcmp(c, "overflow_dfl") == 0) {
    overflow();
  } else {
    fprintf(stderr, "unknown case %s\n", c);
    return 2;
  }
  printf("returned\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CASE [direct]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit core = {1, 1}; /* below one page: no core dump, even through a pipe */
  setrlimit(RLIMIT_CORE, &core);
  /* Handlers set before uvmalloc starts (and installs its own). */
  if (strcmp(argv[1], "early_resethand") == 0) set((void*)h_info, SA_SIGINFO | SA_RESETHAND, 1);
  if (strcmp(argv[1], "early_fix_own_page") == 0) set((void*)h_fix, SA_SIGINFO, 0);
  g_block = malloc(BLOCK);
  UVMT_REQUIRE(g_block != NULL);
  memset(g_block, 1, BLOCK);
  const char* pre = getenv("LD_PRELOAD");
  if (pre != NULL && strstr(pre, "libuvmalloc_preload") != NULL && !uvmt_in_uvm(g_block)) {
    fprintf(stderr, "the block is not uvmalloc's\n");
    return 3;
  }
  if (argc > 2 && strcmp(argv[2], "direct") == 0) return run_case(argv[1]);
  pid_t pid = fork();
  UVMT_REQUIRE(pid >= 0);
  if (pid == 0) _exit(run_case(argv[1]));
  int status;
  UVMT_REQUIRE(waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) {
    printf("child: killed by signal %d\n", WTERMSIG(status));
  } else {
    printf("child: exit %d\n", WEXITSTATUS(status));
  }
  free(g_block);
  return uvmt_failures;
}
