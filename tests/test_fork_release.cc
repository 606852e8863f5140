// The pool file a fork leaves behind gives its pages back once no other
// process maps it (fork_release.cc): only then, only pages no block of this
// process reads any more, and every block keeps its data on both sides.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "uvmalloc/uvmalloc.h"

namespace {

constexpr size_t MiB = size_t{1} << 20;

size_t memfd_bytes() {
  struct uvm_stats s;
  EXPECT_EQ(uvm_stats(&s), UVM_OK);
  return s.memfd;
}

// True when every byte of [p, p + len) is `v`.
bool all_of(const char* p, size_t len, char v) {
  for (size_t i = 0; i < len; ++i)
    if (p[i] != v) return false;
  return true;
}

// One byte from `fd`, 0 at EOF.
char read_byte(int fd) {
  char c = 0;
  return read(fd, &c, 1) == 1 ? c : 0;
}

void write_byte(int fd, char c) {
  ASSERT_EQ(write(fd, &c, 1), 1);
}

int wait_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class ForkRelease : public ::testing::Test {
 protected:
  void SetUp() override { uvm_trim(); }
};

// The parent rewrites half of a block while a child reads the old data;
// only after the child exits does trim give the old half back.
TEST_F(ForkRelease, RewrittenHalfGoesBackOnceTheChildExits) {
  const size_t len = 64 * MiB;
  char* a = static_cast<char*>(uvm_vmalloc(len));
  ASSERT_NE(a, nullptr);
  memset(a, 1, len);
  int go[2], done[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    read_byte(go[0]);  // the parent has rewritten and trimmed
    bool ok = all_of(a, len, 1);
    _exit(ok ? 0 : 1);
  }
  memset(a, 2, len / 2);
  size_t kept = memfd_bytes();
  uvm_trim();
  EXPECT_GE(memfd_bytes(), len) << "released while the child still reads the old file";
  write_byte(go[1], 1);
  EXPECT_EQ(wait_child(pid), 0) << "the child read the parent's writes";
  // Read before the trim too: a read fault may map a file page in a way
  // pagemap reports unlike a 4 KiB one (a huge page by one PMD).
  EXPECT_TRUE(all_of(a + len / 2, len / 2, 1));
  uvm_trim();
  EXPECT_LE(memfd_bytes() + len / 2 - MiB, kept);
  EXPECT_TRUE(all_of(a, len / 2, 2));
  EXPECT_TRUE(all_of(a + len / 2, len / 2, 1)) << "a page still read was punched";
  uvm_vfree(a);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
}

// A block freed after the fork is read by nobody once the child is gone,
// while an untouched one still reads every page of the file.
TEST_F(ForkRelease, FreedBlockGoesUntouchedOneStays) {
  const size_t len = 16 * MiB;
  char* keep = static_cast<char*>(uvm_vmalloc(len));
  char* gone = static_cast<char*>(uvm_vmalloc(len));
  ASSERT_NE(keep, nullptr);
  ASSERT_NE(gone, nullptr);
  memset(keep, 3, len);
  memset(gone, 4, len);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    read_byte(go[0]);
    _exit(all_of(keep, len, 3) && all_of(gone, len, 4) ? 0 : 1);
  }
  uvm_vfree(gone);
  uvm_trim();
  size_t before = memfd_bytes();
  EXPECT_GE(before, 2 * len) << "released while the child still reads the old file";
  write_byte(go[1], 1);
  EXPECT_EQ(wait_child(pid), 0);
  uvm_trim();
  EXPECT_GE(memfd_bytes(), len - MiB) << "the untouched block's pages went";
  EXPECT_LE(memfd_bytes() + len - MiB, before);
  EXPECT_TRUE(all_of(keep, len, 3));
  uvm_vfree(keep);
  close(go[0]);
  close(go[1]);
}

// A second child, made after the file was already an old one, holds it as
// well: the first child's exit does not let the parent punch what the
// second still reads.
TEST_F(ForkRelease, LaterChildHoldsTheOldFileToo) {
  const size_t len = 16 * MiB;
  char* b = static_cast<char*>(uvm_vmalloc(len));
  char* k = static_cast<char*>(uvm_vmalloc(MiB));  // keeps the parent on the old file
  ASSERT_NE(b, nullptr);
  ASSERT_NE(k, nullptr);
  memset(b, 7, len);
  memset(k, 7, MiB);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t first = fork();
  ASSERT_GE(first, 0);
  if (first == 0) {
    read_byte(go[0]);
    _exit(0);
  }
  int go2[2];
  ASSERT_EQ(pipe(go2), 0);
  pid_t second = fork();
  ASSERT_GE(second, 0);
  if (second == 0) {
    read_byte(go2[0]);
    _exit(all_of(b, len, 7) ? 0 : 1);
  }
  uvm_vfree(b);  // the parent reads b's pages no more
  write_byte(go[1], 1);
  EXPECT_EQ(wait_child(first), 0);
  uvm_trim();
  write_byte(go2[1], 1);
  EXPECT_EQ(wait_child(second), 0) << "the parent punched pages the second child reads";
  uvm_vfree(k);
  for (int fd : {go[0], go[1], go2[0], go2[1]}) close(fd);
}

// exec drops the child's lock as exit does.
TEST_F(ForkRelease, ExecDropsTheChildsHold) {
  const size_t len = 16 * MiB;
  char* a = static_cast<char*>(uvm_vmalloc(len));
  ASSERT_NE(a, nullptr);
  memset(a, 5, len);
  size_t base = memfd_bytes();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  memset(a, 6, len);
  int i = 0;
  for (; i < 500 && memfd_bytes() + len - MiB > base; ++i) {  // until the exec has happened
    uvm_trim();
    usleep(20000);
  }
  EXPECT_LE(memfd_bytes() + len - MiB, base) << "still held after " << i * 20 << " ms";
  EXPECT_TRUE(all_of(a, len, 6));
  kill(pid, SIGKILL);
  wait_child(pid);
  uvm_vfree(a);
}

// The other way round: a grandchild whose parent exited releases what it
// rewrote itself.
TEST_F(ForkRelease, ChildReleasesOnceTheParentIsGone) {
  int result[2];
  ASSERT_EQ(pipe(result), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const size_t len = 32 * MiB;
    char* a = static_cast<char*>(uvm_vmalloc(len));
    if (a == nullptr) _exit(2);
    memset(a, 7, len);
    int up[2], ready[2];
    if (pipe(up) != 0 || pipe(ready) != 0) _exit(3);
    pid_t g = fork();
    if (g < 0) _exit(4);
    if (g == 0) {
      close(up[1]);
      memset(a, 8, len / 2);
      size_t held = memfd_bytes();
      write_byte(ready[1], 1);
      read_byte(up[0]);  // EOF: the middle process exited
      char code = 0;
      uvm_trim();
      if (memfd_bytes() + len / 2 - MiB > held) code = 10;
      if (!all_of(a, len / 2, 8) || !all_of(a + len / 2, len / 2, 7)) code = 11;
      write_byte(result[1], static_cast<char>(code + 'A'));
      _exit(0);
    }
    read_byte(ready[0]);
    memset(a, 9, len);
    _exit(0);  // closes up[1]
  }
  EXPECT_EQ(wait_child(pid), 0);
  close(result[1]);
  EXPECT_EQ(read_byte(result[0]), 'A') << "10: nothing released, 11: data lost";
  close(result[0]);
}

// Without any trim: the purge worker's next rounds release, once a free
// has woken it.
TEST_F(ForkRelease, PurgeWorkerReleasesWithoutACall) {
  const size_t len = 16 * MiB;
  char* a = static_cast<char*>(uvm_vmalloc(len));
  ASSERT_NE(a, nullptr);
  memset(a, 1, len);
  size_t before = memfd_bytes();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    read_byte(go[0]);  // exits once the parent has rewritten the block
    _exit(a[len - 1] == 1 ? 0 : 1);
  }
  memset(a, 2, len);
  write_byte(go[1], 1);
  EXPECT_EQ(wait_child(pid), 0);
  close(go[0]);
  close(go[1]);
  uvm_vfree(uvm_vmalloc(4 * MiB));  // cached: the worker runs
  size_t now = before;
  for (int i = 0; i < 60 && now + len - MiB > before; ++i) {
    usleep(100000);
    now = memfd_bytes();
  }
  EXPECT_LE(now + len - MiB, before) << "still held after 6 s";
  EXPECT_TRUE(all_of(a, len, 2));
  uvm_vfree(a);
}

}  // namespace
