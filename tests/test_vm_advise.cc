// vm_advise: the program's madvise, mprotect and mlock on a block, as on
// private anonymous memory, through a Vmalloc instance (no shim): zeros
// after MADV_DONTNEED before and after a fork, ENOMEM for the parts of a
// range that are no block, protection and DONTDUMP across fork_prepare's
// remap, and blocks with such state never reused as they are.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "pal.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"
#include "vmalloc_fixture.h"

namespace uvm {
namespace {

using test::GiB;
using test::MiB;
using test::P;

bool all(const char* p, size_t n, char c) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != c) return false;
  return true;
}

// Whether a write to `p` faults (in a child: the fault costs nothing here).
bool writable(void* p) {
  pid_t pid = fork();
  if (pid == 0) {
    *static_cast<volatile char*>(p) = 1;
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// The VmFlags of the mapping containing `p` include `flag`.
bool vmflag(const void* p, const char* flag) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  bool in = false, found = false;
  while (f != nullptr && fgets(line, sizeof line, f) != nullptr) {
    unsigned long a, b;
    char c;
    if (sscanf(line, "%lx-%lx %c", &a, &b, &c) == 3) {
      in = reinterpret_cast<uintptr_t>(p) >= a && reinterpret_cast<uintptr_t>(p) < b;
    } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
      found = strstr(line, flag) != nullptr;
      break;
    }
  }
  if (f != nullptr) fclose(f);
  return found;
}

class VmAdviseTest : public ::testing::Test, protected test::VmallocOwner {
 protected:
  void SetUp() override {
    vm_config c;
    c.reserve = 8 * GiB;
    c.min_reserve = 4 * GiB;
    c.lazy_max = 64 * MiB;
    c.pool.uring = false;
    start(c);
  }
  void TearDown() override { check_at_end(); }

  static uintptr_t u(const void* p) { return reinterpret_cast<uintptr_t>(p); }
};

TEST_F(VmAdviseTest, DontneedZerosAndPunches) {
  char* p = alloc(MiB);
  memset(p, 'x', MiB);
  size_t before = vm->committed();
  EXPECT_EQ(vm->mm_advise(u(p) + 64 * P, 64 * P, MADV_DONTNEED), 0);
  // The memory went back (before the reads: a read fault of a shared
  // mapping allocates the page again).
  EXPECT_LE(vm->committed(), before - 64 * P);
  EXPECT_TRUE(all(p + 64 * P, 64 * P, 0));
  EXPECT_TRUE(all(p, 64 * P, 'x'));
  EXPECT_TRUE(all(p + 128 * P, MiB - 128 * P, 'x'));
  EXPECT_EQ(vm->mm_advise(u(p), P, MADV_FREE), 0);
  EXPECT_EQ(vm->mm_advise(u(p), P, MADV_REMOVE), -EINVAL);
  // Read-only pages are opened for the punch and closed again.
  memset(p, 'y', P);
  ASSERT_EQ(vm->mm_protect(u(p), P, PROT_READ), 0);
  EXPECT_EQ(vm->mm_advise(u(p), P, MADV_DONTNEED), 0);
  EXPECT_TRUE(all(p, P, 0));
  EXPECT_FALSE(writable(p));
  ASSERT_EQ(vm->free(p), UVM_OK);
}

TEST_F(VmAdviseTest, GapsAreEnomem) {
  char* p = alloc(16 * P);
  memset(p, 'x', 16 * P);
  // Into the guard page: the block's part is still done.
  EXPECT_EQ(vm->mm_advise(u(p) + 15 * P, 2 * P, MADV_DONTNEED), -ENOMEM);
  EXPECT_TRUE(all(p + 15 * P, P, 0));
  // mprotect stops at the gap, after the part before it.
  EXPECT_EQ(vm->mm_protect(u(p) + 14 * P, 3 * P, PROT_READ), -ENOMEM);
  EXPECT_FALSE(writable(p + 14 * P));
  EXPECT_EQ(vm->mm_lock(u(p) + 16 * P, P, 0, true), -ENOMEM);
  ASSERT_EQ(vm->free(p), UVM_OK);
  // A freed (lazy) block is no memory of the program's.
  EXPECT_EQ(vm->mm_advise(u(p), P, MADV_WILLNEED), -ENOMEM);
}

TEST_F(VmAdviseTest, AttributesSurviveForkRemapAndEndAtFree) {
  char* p = alloc(MiB);
  memset(p, 'x', MiB);
  ASSERT_EQ(vm->mm_protect(u(p), 4 * P, PROT_READ), 0);
  ASSERT_EQ(vm->mm_advise(u(p), MiB, MADV_DONTDUMP), 0);
  ASSERT_EQ(vm->mm_advise(u(p) + 8 * P, 8 * P, MADV_WIPEONFORK), 0);
  ASSERT_EQ(vm->mm_advise(u(p) + 16 * P, 8 * P, MADV_DONTFORK), 0);
  vm->fork_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    vm->fork_child();
    vm->mm_fork_child();
    bool ok = all(p + 8 * P, 8 * P, 0) && all(p + 24 * P, P, 'x') &&
              vm->mm_advise(u(p) + 16 * P, P, MADV_WILLNEED) == -ENOMEM;
    _exit(ok ? 0 : 1);
  }
  vm->fork_parent();
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_FALSE(writable(p));
  EXPECT_TRUE(writable(p + 4 * P));
  EXPECT_TRUE(vmflag(p, " dd"));
  EXPECT_TRUE(all(p + 8 * P, 16 * P, 'x'));
  // After the fork the pages are shared with the child's snapshot: zeros
  // without punching them.
  EXPECT_EQ(vm->mm_advise(u(p) + 32 * P, 4 * P, MADV_DONTNEED), 0);
  EXPECT_TRUE(all(p + 32 * P, 4 * P, 0));
  ASSERT_EQ(vm->free(p), UVM_OK);
  // Not kept lazily: a block of the same size is a fresh, writable one.
  char* q = alloc(MiB);
  EXPECT_TRUE(writable(q));
  ASSERT_EQ(vm->free(q), UVM_OK);
}

TEST_F(VmAdviseTest, ProtectedBlockIsNotReused) {
  char* p = alloc(MiB);
  ASSERT_EQ(vm->mm_protect(u(p), MiB, PROT_READ), 0);
  size_t reused = vm->stats().reused;
  ASSERT_EQ(vm->free(p), UVM_OK);
  char* q = alloc(MiB);
  EXPECT_EQ(vm->stats().reused, reused);
  EXPECT_TRUE(writable(q));
  memset(q, 1, MiB);
  ASSERT_EQ(vm->free(q), UVM_OK);
}

}  // namespace
}  // namespace uvm
