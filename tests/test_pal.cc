// pal on its own: the size arithmetic, descriptors that must still be the
// file they were (own_fd, same_file, close_owned), the fork tokens
// (file_hold / file_held_elsewhere), punching, and the pagemap reading
// behind the fork release (for_each_file_backed).
#include "pal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

namespace uvm::pal {
namespace {

constexpr size_t P = kPageSize;
constexpr size_t MiB = size_t{1} << 20;

TEST(Pal, PageAlignAndPowersOfTwo) {
  EXPECT_EQ(page_align(0), 0u);
  EXPECT_EQ(page_align(1), P);
  EXPECT_EQ(page_align(P), P);
  EXPECT_EQ(page_align(P + 1), 2 * P);
  EXPECT_LT(page_align(SIZE_MAX - 1), SIZE_MAX - 1);  // wraps: callers compare
  EXPECT_FALSE(is_pow2(0));
  EXPECT_TRUE(is_pow2(1));
  EXPECT_TRUE(is_pow2(P));
  EXPECT_FALSE(is_pow2(3 * P));
  EXPECT_TRUE(is_pow2(size_t{1} << 63));
}

TEST(Pal, OwnedDescriptorsAreHighCloexecAndChecked) {
  int fd = page_file_create("pal-test");
  ASSERT_GE(fd, 0);
  file_id id;
  fd = own_fd(fd, &id);
  EXPECT_GE(fd, 3);
  EXPECT_TRUE(fd_owned(fd));
  EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(same_file(fd, id));
  // The number taken over by another file: no longer "the same file", and
  // close_owned leaves the other file open.
  int other = page_file_create("pal-other");
  ASSERT_GE(other, 0);
  ASSERT_EQ(dup2(other, fd), fd);
  EXPECT_FALSE(same_file(fd, id));
  close_owned(fd, id);
  EXPECT_FALSE(fd_owned(fd));
  EXPECT_GE(fcntl(fd, F_GETFD), 0) << "close_owned closed a file that was not ours";
  close(fd);
  close(other);
}

TEST(Pal, PunchGivesPagesBack) {
  int fd = page_file_create("pal-punch");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(file_set_size(fd, 4 * MiB), 0);
  void* m = mmap(nullptr, 4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  memset(m, 1, 4 * MiB);
  EXPECT_GE(file_allocated(fd), 4 * MiB);
  ASSERT_EQ(file_punch(fd, MiB, 2 * MiB), 0);
  EXPECT_LE(file_allocated(fd), 2 * MiB);
  EXPECT_EQ(static_cast<char*>(m)[MiB], 0);  // a hole reads zeros
  EXPECT_EQ(static_cast<char*>(m)[0], 1);
  munmap(m, 4 * MiB);
  close(fd);
}

// The fork tokens: a lock is seen by the other side only, until that side
// exits.
TEST(Pal, TokensSeeEachOtherAcrossAFork) {
  int fd = page_file_create("pal-token");
  ASSERT_GE(fd, 0);
  file_id id;
  fd = own_fd(fd, &id);
  file_token mine, theirs;
  ASSERT_EQ(file_hold(fd, id, false, &mine), 0);
  EXPECT_FALSE(file_held_elsewhere(mine)) << "its own lock counted";
  ASSERT_EQ(file_hold(fd, id, true, &theirs), 0);
  EXPECT_TRUE(file_held_elsewhere(mine));
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    file_unhold(&mine);  // the parent's: a descriptor only here
    file_token_adopt(&theirs);
    char c;
    _exit(read(go[0], &c, 1) == 1 && file_held_elsewhere(theirs) ? 0 : 1);
  }
  file_unhold(&theirs);  // ours to unmap and close: the child's copy holds
  EXPECT_TRUE(file_held_elsewhere(mine)) << "the child's lock went with the parent's copy";
  ASSERT_EQ(write(go[1], "x", 1), 1);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the child did not see the parent's lock";
  EXPECT_FALSE(file_held_elsewhere(mine)) << "the child's lock outlived it";
  file_unhold(&mine);
  close_owned(fd, id);
  close(go[0]);
  close(go[1]);
}

TEST(Pal, TokenForAnotherFileIsRefused) {
  int a = page_file_create("pal-a");
  int b = page_file_create("pal-b");
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  file_id ida, idb;
  a = own_fd(a, &ida);
  b = own_fd(b, &idb);
  file_token t;
  EXPECT_EQ(file_hold(a, idb, false, &t), -ESTALE);
  EXPECT_EQ(t.fd, -1);
  close_owned(a, ida);
  close_owned(b, idb);
}

// Pages a private mapping has copied are reported apart from the ones it
// still reads from the file (unread ones included).
TEST(Pal, FileBackedPiecesOfAPrivateMapping) {
  int fd = page_file_create("pal-pagemap");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(file_set_size(fd, 64 * P), 0);
  auto* m = static_cast<char*>(mmap(nullptr, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(m, MAP_FAILED);
  volatile char sink = m[0];  // read: still the file's
  (void)sink;
  memset(m + 8 * P, 1, 4 * P);  // written: copies
  m[40 * P] = 1;
  std::vector<std::pair<size_t, size_t>> pieces;
  auto add = [](void* ctx, size_t from, size_t to) {
    static_cast<std::vector<std::pair<size_t, size_t>>*>(ctx)->push_back({from, to});
  };
  ASSERT_EQ(for_each_file_backed(reinterpret_cast<uintptr_t>(m), 64 * P, add, &pieces), 0);
  std::vector<std::pair<size_t, size_t>> want = {{0, 8 * P}, {12 * P, 40 * P}, {41 * P, 64 * P}};
  EXPECT_EQ(pieces, want);
  munmap(m, 64 * P);
  close(fd);
}

}  // namespace
}  // namespace uvm::pal
