// Public C API tests on the process-wide instance. CTest runs this binary
// twice: with the defaults (synchronous), and with UVMALLOC_CONF=uring:1,lazy:0
// (io_uring and immediate unmap); the expectations that differ
// read the mode from UVMALLOC_CONF.
#include <dirent.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "test_util.h"
#include "uvmalloc/uvmalloc.h"

namespace {

using uvm::test::all_zero;
using uvm::test::poke;

constexpr size_t P = 4096;
constexpr size_t MiB = size_t{1} << 20;
constexpr size_t GiB = size_t{1} << 30;

// The settings the instance runs with: defaults plus UVMALLOC_CONF.
const uvm::vm_config& env_config() {
  static const uvm::vm_config cfg = [] {
    uvm::vm_config c;
    if (const char* env = getenv("UVMALLOC_CONF")) uvm::parse_config(env, &c, nullptr);
    return c;
  }();
  return cfg;
}
bool lazy_mode() {
  return env_config().lazy_max > 0;
}
bool uring_works() {
  io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

size_t round_up(size_t n) {
  return (n + P - 1) & ~(P - 1);
}

struct uvm_stats stats() {
  struct uvm_stats s;
  EXPECT_EQ(uvm_stats(&s), UVM_OK);
  return s;
}

std::string vmalloc_info() {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return {};
  uvm_vmalloc_info(f);
  fclose(f);
  std::string out(buf, len);
  free(buf);
  return out;
}

// Restores bad_free:abort however the test ends.
struct WarnOnBadFree {
  WarnOnBadFree() { EXPECT_EQ(uvm_configure("bad_free:warn"), UVM_OK); }
  ~WarnOnBadFree() { EXPECT_EQ(uvm_configure("bad_free:abort"), UVM_OK); }
};

TEST(ApiTest, VmallocGivesPageAlignedWritableMemory) {
  errno = 0;
  auto* p = static_cast<char*>(uvm_vmalloc(10000));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % P, 0u);
  memset(p, 0x42, 3 * P);  // the whole rounded size is usable
  EXPECT_EQ(p[3 * P - 1], 0x42);
  EXPECT_TRUE(uvm_is_vmalloc_addr(p));
  EXPECT_EQ(uvm_vmalloc_size(p), 3 * P);
  uvm_vfree(p);
}

TEST(ApiTest, VzallocIsZeroEvenWhenRecycled) {
  for (int round = 0; round < 6; ++round) {
    size_t size = round % 2 ? 3 * P + 1 : 5 * P;
    auto* p = static_cast<unsigned char*>(uvm_vzalloc(size));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(all_zero(p, round_up(size))) << "round " << round;
    memset(p, 0xff, round_up(size));
    uvm_vfree(p);
    if (round == 3) uvm_purge();
  }
}

TEST(ApiTest, VcallocZeroesAndChecksOverflow) {
  errno = 0;
  EXPECT_EQ(uvm_vcalloc(SIZE_MAX / 2 + 1, 2), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(uvm_vcalloc(SIZE_MAX, SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(uvm_vcalloc(0, 16), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(uvm_vcalloc(16, 0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  for (int round = 0; round < 3; ++round) {
    auto* p = static_cast<unsigned char*>(uvm_vcalloc(100, 41));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(uvm_vmalloc_size(p), 2 * P);
    EXPECT_TRUE(all_zero(p, 2 * P));
    memset(p, 0xee, 2 * P);
    uvm_vfree(p);
  }
}

TEST(ApiTest, ZeroSizeIsEinval) {
  errno = 0;
  EXPECT_EQ(uvm_vmalloc(0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(uvm_vzalloc(0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(uvm_vmalloc_align(0, P), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(ApiTest, BadAlignmentIsEinval) {
  for (size_t align : {size_t{0}, size_t{3}, size_t{6}, P + 1, 3 * P, SIZE_MAX}) {
    errno = 0;
    EXPECT_EQ(uvm_vmalloc_align(P, align), nullptr) << align;
    EXPECT_EQ(errno, EINVAL) << align;
  }
}

TEST(ApiTest, HugeSizesAreEnomem) {
  for (size_t size : {SIZE_MAX, SIZE_MAX - P, size_t{1} << 62, size_t{1} << 47}) {
    errno = 0;
    EXPECT_EQ(uvm_vmalloc(size), nullptr) << size;
    EXPECT_EQ(errno, ENOMEM) << size;
  }
  errno = 0;
  EXPECT_EQ(uvm_vmalloc_align(P, size_t{1} << 62), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(ApiTest, AlignmentUpTo1GiBAndBeyond) {
  std::vector<void*> live;
  for (size_t align : {size_t{1}, size_t{16}, P, 16 * P, 2 * MiB, 64 * MiB, GiB, 4 * GiB}) {
    void* p = uvm_vmalloc_align(3 * P + 5, align);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % std::max(align, P), 0u) << align;
    static_cast<char*>(p)[4 * P - 1] = 1;
    live.push_back(p);
  }
  for (void* p : live) uvm_vfree(p);
}

TEST(ApiTest, VfreeNullIsFine) {
  uvm_vfree(nullptr);
  EXPECT_EQ(uvm_vfree_status(nullptr), UVM_OK);
}

TEST(ApiTest, IsVmallocAddr) {
  auto* p = static_cast<char*>(uvm_vmalloc(2 * P));
  ASSERT_NE(p, nullptr);
  int local = 0;
  void* heap = malloc(64);
  EXPECT_TRUE(uvm_is_vmalloc_addr(p));
  EXPECT_TRUE(uvm_is_vmalloc_addr(p + 2 * P - 1));
  EXPECT_TRUE(uvm_is_vmalloc_addr(p + 2 * P));  // the guard page is in the space
  EXPECT_FALSE(uvm_is_vmalloc_addr(&local));
  EXPECT_FALSE(uvm_is_vmalloc_addr(heap));
  EXPECT_FALSE(uvm_is_vmalloc_addr(nullptr));
  EXPECT_FALSE(uvm_is_vmalloc_addr(reinterpret_cast<void*>(&uvm_vmalloc)));
  free(heap);
  uvm_vfree(p);
  EXPECT_TRUE(uvm_is_vmalloc_addr(p));  // live or not
}

TEST(ApiTest, FindVmArea) {
  auto* p = static_cast<char*>(uvm_vmalloc(5 * P + 123));
  auto* q = static_cast<char*>(uvm_vmalloc(P));  // another call site
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  uvm_area a{};
  ASSERT_EQ(uvm_find_vm_area(p, &a), UVM_OK);
  EXPECT_EQ(a.addr, p);
  EXPECT_EQ(a.size, 6 * P);
  EXPECT_EQ(a.requested, 5 * P + 123);
  EXPECT_EQ(a.pages, 6u);
  EXPECT_NE(a.caller, nullptr);
  uvm_area b{};
  ASSERT_EQ(uvm_find_vm_area(q, &b), UVM_OK);
  EXPECT_NE(b.caller, nullptr);
  EXPECT_NE(a.caller, b.caller);
  uvm_area c{};
  EXPECT_EQ(uvm_find_vm_area(p + 3 * P + 7, &c), UVM_EINTERIOR);
  EXPECT_EQ(c.addr, p);
  EXPECT_EQ(c.size, 6 * P);
  EXPECT_EQ(c.caller, a.caller);
  EXPECT_EQ(uvm_find_vm_area(p, nullptr), UVM_OK);
  int local = 0;
  EXPECT_EQ(uvm_find_vm_area(&local, &c), UVM_EFOREIGN);
  uvm_vfree(p);
  EXPECT_EQ(uvm_find_vm_area(p, &c), UVM_ENOTALLOC);
  EXPECT_EQ(uvm_find_vm_area(p + P, &c), UVM_ENOTALLOC);
  uvm_vfree(q);
}

TEST(ApiTest, VmallocSize) {
  auto* p = static_cast<char*>(uvm_vmalloc(2 * MiB + 1));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(uvm_vmalloc_size(p), 2 * MiB + P);
  EXPECT_EQ(uvm_vmalloc_size(p + 1), 0u);
  EXPECT_EQ(uvm_vmalloc_size(nullptr), 0u);
  int local = 0;
  EXPECT_EQ(uvm_vmalloc_size(&local), 0u);
  uvm_vfree(p);
  EXPECT_EQ(uvm_vmalloc_size(p), 0u);
}

// /proc/vmallocinfo's format: "0x%016lx-0x%016lx %10zu <caller> pages=N
// vmalloc", the size with the guard page; lazily freed areas as
// "unpurged vm_area".
TEST(ApiTest, VmallocInfoFormat) {
  std::map<uintptr_t, size_t> mine;  // addr -> usable size
  std::vector<void*> live;
  uvm_purge();  // no lazy area left to serve these with its larger size
  for (size_t pages : {1, 2, 7, 64}) {
    void* p = uvm_vmalloc(pages * P - 3);
    ASSERT_NE(p, nullptr);
    mine[reinterpret_cast<uintptr_t>(p)] = pages * P;
    live.push_back(p);
  }
  const std::regex area(R"(0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) (\S+) pages=(\d+) vmalloc)");
  const std::regex unpurged(R"(0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) unpurged vm_area)");
  std::string out = vmalloc_info();
  std::istringstream lines(out);
  std::string line;
  size_t found = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, area)) {
      uintptr_t start = std::stoull(m[1], nullptr, 16), end = std::stoull(m[2], nullptr, 16);
      // "%10zu": the size right-aligned in ten columns after the range.
      ASSERT_GT(line.size(), 49u) << line;
      EXPECT_EQ(line[38], ' ') << line;
      EXPECT_EQ(line[48], ' ') << line;
      EXPECT_NE(line[47], ' ') << line;
      EXPECT_EQ(std::stoull(m[3]), end - start) << line;
      auto it = mine.find(start);
      if (it == mine.end()) continue;
      ++found;
      EXPECT_EQ(end - start, it->second + P) << line;  // size includes the guard page
      EXPECT_EQ(std::stoull(m[5]), it->second / P) << line;
      EXPECT_NE(m[4].str(), "(nil)") << line;
    } else if (std::regex_match(line, m, unpurged)) {
      EXPECT_TRUE(lazy_mode()) << line;
    } else {
      ADD_FAILURE() << "unexpected line: '" << line << "'";
    }
  }
  EXPECT_EQ(found, mine.size()) << out;
  for (void* p : live) uvm_vfree(p);
  if (lazy_mode()) {
    std::string after = vmalloc_info();
    for (auto [addr, size] : mine) {
      char prefix[128];
      snprintf(prefix, sizeof prefix, "0x%016lx-0x%016lx %10zu unpurged vm_area",
               static_cast<unsigned long>(addr), static_cast<unsigned long>(addr + size + P),
               size + P);
      EXPECT_NE(after.find(prefix), std::string::npos) << prefix << "\n" << after;
    }
  }
}

// The footprint counts memfd pages whether or not they are mapped: what the
// pool and the lazy areas keep of freed blocks is in memfd (and in no RSS
// figure) until purged.
TEST(ApiTest, FootprintCountsMemfdPagesMappedOrNot) {
  uvm_purge();
  constexpr size_t kBytes = 32 * MiB;
  auto* p = static_cast<char*>(uvm_vmalloc(kBytes));
  ASSERT_NE(p, nullptr);
  memset(p, 1, kBytes);
  struct uvm_stats live = stats();
  EXPECT_GE(live.memfd, kBytes);
  EXPECT_EQ(live.footprint, live.rss_anon + live.rss_file + live.memfd);
  uvm_vfree(p);
  struct uvm_stats freed = stats();
  EXPECT_GE(freed.memfd, freed.lazy + freed.pooled);
  EXPECT_EQ(freed.footprint, freed.rss_anon + freed.rss_file + freed.memfd);
  uvm_purge();
  struct uvm_stats purged = stats();
  EXPECT_EQ(purged.lazy + purged.pooled, 0u);
  EXPECT_LT(purged.memfd, kBytes / 4) << "pages kept after a purge";
}

// What is cached goes back on time with no further call: the purge thread
// (decay_ms, 1 s by default) gives back the lazy areas and the warm pages,
// then exits.
TEST(ApiTest, IdleReleaseNeedsNoCall) {
  constexpr int kBlocks = 32;
  std::vector<char*> v;
  for (int i = 0; i < kBlocks; ++i) {
    v.push_back(static_cast<char*>(uvm_vmalloc(MiB + static_cast<size_t>(i) * 4096)));
    ASSERT_NE(v.back(), nullptr);
    memset(v.back(), i, MiB);
  }
  for (char* p : v) uvm_vfree(p);
  struct uvm_stats freed = stats();
  EXPECT_GE(freed.lazy + freed.pooled, 8 * MiB) << "nothing was cached to begin with";
  // No allocator call but uvm_stats, which releases nothing, for up to 5 s.
  struct uvm_stats idle = freed;
  for (int i = 0; i < 50 && idle.lazy + idle.pooled != 0; ++i) {
    usleep(100 * 1000);
    idle = stats();
  }
  EXPECT_EQ(idle.lazy, 0u);
  EXPECT_EQ(idle.pooled, 0u);
}

// Threads of uvmalloc's in this process (/proc/self/task/*/comm): the purge
// thread, and io_uring's workers where uring is off. (ThreadSanitizer has a
// thread of its own, so a plain count would not do.)
static int uvm_threads(bool uring) {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char comm[64] = {};
    std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
    if (FILE* f = fopen(path.c_str(), "r")) {
      if (fgets(comm, sizeof comm, f) == nullptr) comm[0] = 0;
      fclose(f);
    }
    if (strncmp(comm, "uvm-purge", 9) == 0 || (!uring && strncmp(comm, "iou-wrk", 7) == 0)) ++n;
  }
  closedir(d);
  return n;
}

// A fork child stays single-threaded, as fork left it, and still gives
// cached memory back on time, on its own calls.
TEST(ApiTest, ForkChildGetsNoPurgeThread) {
  const uint64_t decay_ms = env_config().pool.decay_ms;
  const bool uring = env_config().pool.uring;
  uvm_vfree(uvm_vmalloc(MiB));  // uvmalloc is up before the fork
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> v;
    for (int i = 0; i < 32; ++i) {
      v.push_back(static_cast<char*>(uvm_vmalloc(MiB + static_cast<size_t>(i) * 4096)));
      if (v.back() == nullptr) _exit(10);
      memset(v.back(), i, MiB);
    }
    for (char* p : v) uvm_vfree(p);
    struct uvm_stats freed = stats();
    if (freed.lazy + freed.pooled < 16 * MiB) _exit(11);  // nothing cached
    if (uvm_threads(uring) != 0) _exit(12);
    usleep(static_cast<useconds_t>(decay_ms * 1500 + 200000));
    uvm_vfree(uvm_vmalloc(MiB));  // a call; what it frees is young and stays
    struct uvm_stats later = stats();
    if (uvm_threads(uring) != 0) _exit(13);
    if (later.lazy + later.pooled > 8 * MiB) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  // 12/13: a thread in the child; 14: nothing went back on time.
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ApiTest, StatsMoveAsExpected) {
  uvm_purge();
  struct uvm_stats s0 = stats();
  EXPECT_EQ(s0.lazy, 0u);
  EXPECT_EQ(s0.pooled, 0u);
  EXPECT_GT(s0.reserved, 0u);
  EXPECT_GT(s0.vma_limit, 0u);
  EXPECT_LE(s0.committed, s0.in_use);
  if (env_config().pool.uring)
    EXPECT_EQ(s0.async, uring_works() ? 1 : 0);
  else
    EXPECT_EQ(s0.async, 0);

  const size_t size = 3 * MiB + 5 * P;  // a size no other test uses
  auto* p = static_cast<char*>(uvm_vmalloc(size));
  ASSERT_NE(p, nullptr);
  memset(p, 1, size);
  struct uvm_stats s1 = stats();
  EXPECT_EQ(s1.allocs, s0.allocs + 1);
  EXPECT_EQ(s1.areas, s0.areas + 1);
  EXPECT_EQ(s1.mapped, s0.mapped + size);
  EXPECT_EQ(s1.in_use, s0.in_use + size);
  EXPECT_GE(s1.committed, s0.committed + size);
  EXPECT_EQ(s1.warm_hits + s1.cold_allocs, s0.warm_hits + s0.cold_allocs + 1);
  EXPECT_GT(s1.vmas, s0.vmas);
  EXPECT_EQ(s1.reserved, s0.reserved);

  uvm_vfree(p);
  struct uvm_stats s2 = stats();
  EXPECT_EQ(s2.frees, s1.frees + 1);
  EXPECT_EQ(s2.areas, s0.areas);
  if (lazy_mode()) {
    EXPECT_EQ(s2.lazy, size);
    EXPECT_EQ(s2.mapped, s1.mapped);
  } else {
    EXPECT_EQ(s2.lazy, 0u);
    EXPECT_EQ(s2.mapped, s0.mapped);
    EXPECT_LT(s2.vmas, s1.vmas);
  }

  size_t given = uvm_trim();
  struct uvm_stats s3 = stats();
  EXPECT_GE(given, size);     // what was freed: pooled and lazy pages
  EXPECT_EQ(uvm_trim(), 0u);  // nothing left beyond the live blocks
  EXPECT_EQ(s3.lazy, 0u);
  EXPECT_EQ(s3.pooled, 0u);
  EXPECT_EQ(s3.mapped, s0.mapped);
  EXPECT_EQ(s3.in_use, s0.in_use);
  EXPECT_GE(s3.released, s2.released + size);
  EXPECT_LE(s3.committed, s3.in_use);
  if (lazy_mode()) {
    EXPECT_EQ(s3.purges, s2.purges + 1);
    EXPECT_EQ(s3.purged_areas, s2.purged_areas + 1);
  }
}

TEST(ApiTest, SameSizeReuseFollowsTheLazySetting) {
  const size_t size = 2 * MiB + 3 * P;
  void* p = uvm_vmalloc(size);
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
  struct uvm_stats s0 = stats();
  void* q = uvm_vmalloc(size);
  ASSERT_NE(q, nullptr);
  struct uvm_stats s1 = stats();
  if (lazy_mode()) {
    EXPECT_EQ(q, p);
    EXPECT_EQ(s1.reused, s0.reused + 1);
    EXPECT_EQ(s1.syscalls_saved, s0.syscalls_saved + 2);
  } else {
    EXPECT_EQ(s1.reused, s0.reused);
  }
  uvm_vfree(q);
}

TEST(ApiTest, ConfigureReportsBadSettings) {
  ::testing::internal::CaptureStderr();
  int unknown = uvm_configure("no_such_key:1");
  int bad = uvm_configure("pool_max:lots");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(unknown, UVM_EINVAL);
  EXPECT_EQ(bad, UVM_EINVAL);
  EXPECT_NE(err.find("no_such_key"), std::string::npos) << err;
  EXPECT_NE(err.find("pool_max"), std::string::npos) << err;
  EXPECT_EQ(uvm_configure("pool_max:256M"), UVM_OK);
  EXPECT_EQ(uvm_configure(""), UVM_OK);
  // The instance keeps working.
  void* p = uvm_vmalloc(P);
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
}

TEST(ApiTest, VfreeStatusClassifiesWithoutAborting) {
  auto* p = static_cast<char*>(uvm_vmalloc(3 * P));
  ASSERT_NE(p, nullptr);
  int local = 0;
  EXPECT_EQ(uvm_vfree_status(p + 1), UVM_EINTERIOR);
  EXPECT_EQ(uvm_vfree_status(&local), UVM_EFOREIGN);
  EXPECT_EQ(uvm_vmalloc_size(p), 3 * P);  // untouched
  EXPECT_EQ(uvm_vfree_status(p), UVM_OK);
  EXPECT_EQ(uvm_vfree_status(p), UVM_ENOTALLOC);
}

TEST(ApiTest, StrerrorAndVersion) {
  EXPECT_STREQ(uvm_strerror(UVM_ENOTALLOC), "double free or never allocated");
  EXPECT_STREQ(uvm_strerror(UVM_EINTERIOR), "pointer into the middle of an allocation");
  EXPECT_STREQ(uvm_strerror(UVM_OK), "success");
  EXPECT_NE(uvm_strerror(12345), nullptr);
  std::string v = std::to_string(UVMALLOC_VERSION_MAJOR) + "." +
                  std::to_string(UVMALLOC_VERSION_MINOR) + "." +
                  std::to_string(UVMALLOC_VERSION_PATCH);
  EXPECT_EQ(uvm_version(), v);
}

TEST(ApiTest, BadFreeWarnOnlyWarns) {
  auto* p = static_cast<char*>(uvm_vmalloc(3 * P));
  auto* q = static_cast<char*>(uvm_vmalloc(P));
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  memset(p, 0x3c, 3 * P);
  uvm_vfree(q);
  int local = 0;
  std::string err;
  {
    WarnOnBadFree warn;
    ::testing::internal::CaptureStderr();
    uvm_vfree(p + 100);
    uvm_vfree(q);
    uvm_vfree(&local);
    err = ::testing::internal::GetCapturedStderr();
  }
  EXPECT_NE(err.find("pointer into the middle of an allocation"), std::string::npos) << err;
  EXPECT_NE(err.find("double free or never allocated"), std::string::npos) << err;
  EXPECT_NE(err.find("pointer outside the vmalloc space"), std::string::npos) << err;
  // Nothing was freed.
  EXPECT_EQ(uvm_vmalloc_size(p), 3 * P);
  for (size_t i = 0; i < 3 * P; ++i) ASSERT_EQ(p[i], 0x3c) << i;
  uvm_vfree(p);
}

TEST(ApiDeathTest, InteriorFreeAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  auto* p = static_cast<char*>(uvm_vmalloc(3 * P));
  ASSERT_NE(p, nullptr);
  EXPECT_DEATH(uvm_vfree(p + 100), "pointer into the middle of an allocation");
  EXPECT_DEATH(uvm_vfree(p + P),
               "uvm_vfree.*: pointer into the middle of an allocation: 4096 "
               "bytes into the area");
  uvm_vfree(p);
}

TEST(ApiDeathTest, DoubleFreeAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  void* p = uvm_vmalloc(P);
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
  EXPECT_DEATH(uvm_vfree(p), "double free or never allocated");
}

TEST(ApiDeathTest, ForeignFreeAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  void* p = uvm_vmalloc(P);  // make sure the instance exists
  ASSERT_NE(p, nullptr);
  static int object;
  EXPECT_DEATH(uvm_vfree(&object), "pointer outside the vmalloc space");
  uvm_vfree(p);
}

TEST(ApiDeathTest, WritingPastTheEndHitsTheGuardPage) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  auto* p = static_cast<char*>(uvm_vmalloc(2 * P + 1));
  ASSERT_NE(p, nullptr);
  p[3 * P - 1] = 1;
  EXPECT_EXIT(poke(p + 3 * P), ::testing::KilledBySignal(SIGSEGV), "");
  uvm_vfree(p);
}

TEST(ApiDeathTest, UseAfterFreeFaultsOnceUnmapped) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  auto* p = static_cast<char*>(uvm_vmalloc(P));
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
  if (lazy_mode()) uvm_purge();  // without lazy it is unmapped at once
  EXPECT_EXIT(poke(p), ::testing::KilledBySignal(SIGSEGV), "");
}

// Lowering pool_max and then purging must finish. Run in a child with an
// alarm so a hang fails the test; the exit code says what went wrong.
int purge_after_lowering_pool_max() {
  alarm(10);
  if (uvm_configure("lazy:0,pool_max:256M") != UVM_OK) return 10;
  auto* p = static_cast<char*>(uvm_vmalloc(8 * MiB));
  if (p == nullptr) return 11;
  memset(p, 1, 8 * MiB);
  uvm_vfree(p);  // the pages go warm
  if (uvm_configure("pool_max:1M") != UVM_OK) return 12;
  uvm_purge();
  struct uvm_stats s;
  uvm_stats(&s);
  if (s.pooled != 0) return 13;
  if (s.committed > s.in_use) return 14;
  return 0;
}

TEST(ApiDeathTest, PurgeAfterLoweringPoolMaxFinishes) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  void* p = uvm_vmalloc(P);
  ASSERT_NE(p, nullptr);
  uvm_vfree(p);
  EXPECT_EXIT(_exit(purge_after_lowering_pool_max()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
