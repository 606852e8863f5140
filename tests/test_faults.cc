// Injected failures of every system call the allocator depends on: each
// operation either succeeds or fails cleanly (null and UVM_ENOMEM), every
// live allocation keeps its content, the bookkeeping stays consistent, and
// work resumes once the fault is gone.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "pages.h"
#include "pal.h"
#include "pal_fault.h"
#include "uvmalloc/uvmalloc.h"
#include "vmalloc.h"
#include "vmalloc_fixture.h"

namespace uvm {
namespace {

using pal::fault;
using test::MiB;
using test::P;

struct Block {
  char* p;
  size_t size;
  char tag;
};

class FaultTest : public ::testing::TestWithParam<bool> {  // io_uring on/off
 protected:
  void SetUp() override {
    pal::clear_faults();
    cfg_.pool.uring = GetParam();
    cfg_.pool.refill = 0;  // deterministic warm/cold decisions
    vm_ = std::make_unique<Vmalloc>();
    ASSERT_EQ(vm_->init(cfg_), UVM_OK);
    // Live data that every fault must leave alone.
    for (int i = 0; i < 8; ++i) live_.push_back(alloc((i + 1) * 300 * 1024, 'a' + i));
  }
  void TearDown() override {
    pal::clear_faults();
    for (const Block& b : live_) {
      expect_intact(b);
      EXPECT_EQ(vm_->free(b.p), UVM_OK);
    }
    EXPECT_EQ(vm_->check(), "");
  }

  Block alloc(size_t size, char tag) {
    int st;
    auto* p = static_cast<char*>(vm_->alloc(size, 1, 0, nullptr, &st));
    EXPECT_NE(p, nullptr) << uvm_strerror(st);
    if (p != nullptr) memset(p, tag, size);
    return {p, size, tag};
  }
  static void expect_intact(const Block& b) {
    for (size_t i = 0; i < b.size; i += 997)
      ASSERT_EQ(b.p[i], b.tag) << "offset " << i << " of " << static_cast<void*>(b.p);
    ASSERT_EQ(b.p[b.size - 1], b.tag);
  }
  void expect_all_intact() {
    for (const Block& b : live_) expect_intact(b);
  }
  // An allocation now fails cleanly.
  void expect_alloc_fails(size_t size) {
    int st;
    EXPECT_EQ(vm_->alloc(size, 1, 0, nullptr, &st), nullptr);
    EXPECT_EQ(st, UVM_ENOMEM);
    EXPECT_EQ(vm_->check(), "");
  }
  // ... and works again once the fault is cleared.
  void expect_recovers() {
    pal::clear_faults();
    Block b = alloc(5 * MiB, 'z');
    expect_intact(b);
    EXPECT_EQ(vm_->free(b.p), UVM_OK);
    expect_all_intact();
  }

  vm_config cfg_;
  std::unique_ptr<Vmalloc> vm_;
  std::vector<Block> live_;
};

TEST_P(FaultTest, MmapFailsOnAlloc) {
  pal::inject_fault(fault::mmap_fixed, 1, ENOMEM, 2);  // the retry after purge fails too
  expect_alloc_fails(2 * MiB);
  EXPECT_GT(vm_->stats().vma_refusals, 0u);
  expect_recovers();
}

TEST_P(FaultTest, MmapFailsOnPurge) {
  // The area that cannot be unmapped is kept out of circulation, not reused.
  Block b = alloc(3 * MiB, 'q');
  ASSERT_EQ(vm_->free(b.p), UVM_OK);
  pal::inject_fault(fault::mmap_fixed, 1, ENOMEM);
  vm_->purge();
  EXPECT_EQ(vm_->check(), "");
  expect_recovers();
  for (int i = 0; i < 4; ++i) {  // never handed out again, so never overlapping
    Block n = alloc(3 * MiB, 'r');
    EXPECT_NE(n.p, b.p);
    EXPECT_EQ(vm_->free(n.p), UVM_OK);
  }
}

TEST_P(FaultTest, MmapFailsOnReallocGrowth) {
  Block& b = live_[0];
  // In place (area after it is free?) or moved: either way a failed mmap
  // must leave the block as it was.
  for (size_t nth = 1; nth <= 3; ++nth) {
    pal::inject_fault(fault::mmap_fixed, static_cast<unsigned>(nth), ENOMEM, 1);
    int st;
    void* q = vm_->realloc(b.p, b.size + 9 * MiB, nullptr, &st);
    pal::clear_faults();
    if (q != nullptr) {  // the failing call was not on its path: shrink back
      b.p = static_cast<char*>(vm_->realloc(q, b.size, nullptr, &st));
      ASSERT_NE(b.p, nullptr);
    } else {
      EXPECT_EQ(st, UVM_ENOMEM);
    }
    expect_intact(b);
    EXPECT_EQ(vm_->check(), "");
  }
}

TEST_P(FaultTest, GrowthOnMemfdFaultsNothingIn) {
  // memfd's mount has no size limit, so growth maps its pages without
  // populating them: a populate that would fail is never made.
  Block& b = live_[7];
  pal::inject_fault(fault::populate, 1, ENOMEM, 100);
  int st;
  void* q = vm_->realloc(b.p, 64 * MiB, nullptr, &st);
  pal::clear_faults();
  ASSERT_NE(q, nullptr) << uvm_strerror(st);
  b.p = static_cast<char*>(q);
  expect_intact(b);
  b.p = static_cast<char*>(vm_->realloc(q, b.size, nullptr, &st));
  ASSERT_NE(b.p, nullptr);
  EXPECT_EQ(vm_->check(), "");
}

TEST_P(FaultTest, FtruncateFailsWhenTheFileMustGrow) {
  // Fill past the first 1 GiB of the file so the next cold run must grow it.
  pal::inject_fault(fault::set_size, 1, EFBIG, 1000);
  int failures = 0;
  std::vector<void*> more;
  for (int i = 0; i < 80; ++i) {
    int st;
    void* p = vm_->alloc(16 * MiB, 1, 0, nullptr, &st);
    if (p == nullptr) {
      EXPECT_EQ(st, UVM_ENOMEM);
      ++failures;
      break;
    }
    more.push_back(p);
  }
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(vm_->check(), "");
  for (void* p : more) EXPECT_EQ(vm_->free(p), UVM_OK);
  expect_recovers();
}

TEST_P(FaultTest, PunchFailsOnRelease) {
  // Pages that cannot be punched stay warm: never handed out as zero holes.
  Block b = alloc(8 * MiB, 'p');
  ASSERT_EQ(vm_->free(b.p), UVM_OK);
  vm_->purge();
  pal::inject_fault(fault::punch, 1, EIO, 1000);
  if (GetParam()) pal::inject_fault(fault::uring_cqe, 1, EIO, 1000);
  vm_->purge_all();
  pal::clear_faults();
  EXPECT_EQ(vm_->check(), "");
  int st;
  auto* z = static_cast<char*>(vm_->alloc(8 * MiB, 1, VM_ZERO, nullptr, &st));
  ASSERT_NE(z, nullptr);
  for (size_t i = 0; i < 8 * MiB; i += P) ASSERT_EQ(z[i], 0) << i;
  EXPECT_EQ(vm_->free(z), UVM_OK);
  expect_recovers();
}

TEST_P(FaultTest, MetadataSlabsRefused) {
  // The allocator's own records come from fresh slabs now and then: when
  // none can be mapped, allocation fails cleanly.
  pal::inject_fault(fault::anon, 1, ENOMEM, 1u << 30);
  std::vector<void*> more;
  int st = UVM_OK;
  for (int i = 0; i < 5000 && st == UVM_OK; ++i) {
    void* p = vm_->alloc(P, 1, 0, nullptr, &st);
    if (p != nullptr) more.push_back(p);
  }
  EXPECT_EQ(st, UVM_ENOMEM);
  EXPECT_EQ(vm_->check(), "");
  pal::clear_faults();
  for (void* p : more) EXPECT_EQ(vm_->free(p), UVM_OK);
  expect_recovers();
}

TEST_P(FaultTest, SharedAllocationWithoutMemfd) {
  pal::inject_fault(fault::memfd, 1, EMFILE);
  int st;
  EXPECT_EQ(vm_->alloc_user(MiB, nullptr, &st), nullptr);
  EXPECT_EQ(st, UVM_ENOMEM);
  expect_recovers();
}

TEST_P(FaultTest, CompletionErrorsAreRetriedSynchronously) {
  if (!vm_->pool().async) GTEST_SKIP() << "io_uring is off";
  Block b = alloc(8 * MiB, 'c');
  ASSERT_EQ(vm_->free(b.p), UVM_OK);
  pal::inject_fault(fault::uring_cqe, 1, EIO, 1000);
  vm_->purge_all();  // punches through io_uring; failed completions are redone
  pal::clear_faults();
  EXPECT_EQ(vm_->check(), "");
  EXPECT_EQ(vm_->pool().pooled, 0u);
  expect_recovers();
}

INSTANTIATE_TEST_SUITE_P(Uring, FaultTest, ::testing::Bool());

TEST(FaultInit, MemfdRefusedFallsBackToDevShm) {
  pal::inject_fault(fault::memfd, 1, ENOSYS);
  Vmalloc vm;
  ASSERT_EQ(vm.init(vm_config{}), UVM_OK);
  pal::clear_faults();
  int st;
  auto* p = static_cast<char*>(vm.alloc(4 * MiB, 1, 0, nullptr, &st));
  ASSERT_NE(p, nullptr);
  memset(p, 7, 4 * MiB);
  EXPECT_EQ(p[4 * MiB - 1], 7);
  EXPECT_EQ(vm.free(p), UVM_OK);
}

TEST(FaultInit, GrowthOnASizeLimitedFileFaultsItsPagesIn) {
  // The /dev/shm fallback has a size limit: a hole touched past it raises
  // SIGBUS, so growth populates its pages. A lack of space (injected here)
  // first releases the caches and retries, then fails the realloc with the
  // block as it was.
  pal::inject_fault(fault::memfd, 1, ENOSYS);
  Vmalloc vm;
  ASSERT_EQ(vm.init(vm_config{}), UVM_OK);
  pal::clear_faults();
  int st;
  auto* p = static_cast<char*>(vm.alloc(MiB, 1, 0, nullptr, &st));
  ASSERT_NE(p, nullptr);
  memset(p, 'g', MiB);
  // Short once: the cache is released and the second try succeeds.
  auto* cached = static_cast<char*>(vm.alloc(8 * MiB, 1, 0, nullptr, &st));
  ASSERT_NE(cached, nullptr);
  memset(cached, 'c', 8 * MiB);
  ASSERT_EQ(vm.free(cached), UVM_OK);
  pal::inject_fault(fault::populate, 1, ENOSPC, 1);
  auto* grown = static_cast<char*>(vm.realloc(p, 2 * MiB, nullptr, &st));
  pal::clear_faults();
  ASSERT_NE(grown, nullptr) << uvm_strerror(st);
  p = grown;
  EXPECT_EQ(vm.pool().pooled, 0u);
  EXPECT_EQ(vm.stats().lazy, 0u);
  // Short for good: the realloc fails.
  pal::inject_fault(fault::populate, 1, ENOMEM, 100);
  EXPECT_EQ(vm.realloc(p, 64 * MiB, nullptr, &st), nullptr);
  EXPECT_EQ(st, UVM_ENOMEM);
  pal::clear_faults();
  for (size_t i = 0; i < MiB; i += 4093) ASSERT_EQ(p[i], 'g');
  EXPECT_EQ(vm.check(), "");
  auto* q = static_cast<char*>(vm.realloc(p, 64 * MiB, nullptr, &st));
  ASSERT_NE(q, nullptr) << uvm_strerror(st);
  EXPECT_EQ(q[MiB - 1], 'g');
  EXPECT_EQ(vm.free(q), UVM_OK);
}

TEST(FaultInit, NoMemfdAndNoDevShmFailsInit) {
  pal::inject_fault(fault::memfd, 1, ENOSYS);
  pal::inject_fault(fault::shm, 1, EACCES);
  Vmalloc vm;
  EXPECT_EQ(vm.init(vm_config{}), UVM_ENOMEM);
  pal::clear_faults();
}

TEST(FaultInit, IoUringRefusedMeansSynchronous) {
  pal::inject_fault(fault::uring_init, 1, EPERM);
  Vmalloc vm;
  ASSERT_EQ(vm.init(vm_config{}), UVM_OK);
  pal::clear_faults();
  EXPECT_FALSE(vm.pool().async);
  int st;
  void* p = vm.alloc(MiB, 1, 0, nullptr, &st);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(vm.free(p), UVM_OK);
  vm.purge_all();
  EXPECT_EQ(vm.check(), "");
}

}  // namespace
}  // namespace uvm
