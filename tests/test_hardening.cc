// Fault reports and Electric Fence placement, through the public API in
// fresh processes (death tests): what a SIGSEGV in the vmalloc space says,
// that the signal still ends the process as a segfault, and that handlers
// the program installed first still get their signals.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>

#include "uvmalloc/uvmalloc.h"

namespace {

constexpr size_t P = 4096;

__attribute__((noinline)) void write_at(char* p) {
  *reinterpret_cast<volatile char*>(p) = 1;
}

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override { ::testing::FLAGS_gtest_death_test_style = "threadsafe"; }
};

TEST_F(Hardening, GuardPageOverflowIsReportedThenSegfaults) {
  EXPECT_EXIT(
      {
        auto* p = static_cast<char*>(uvm_vmalloc(300000));  // 74 pages: 3104 bytes of slack
        write_at(p + 74 * P + 10);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "overflow into the guard page, 3114 bytes past the end of the area 0x[0-9a-f]+-0x[0-9a-f]+ "
      "\\(300000 bytes asked for, 303104 mapped\\) allocated at ");
}

TEST_F(Hardening, UseAfterFreeIsReportedWhenUnmappedAtOnce) {
  EXPECT_EXIT(
      {
        uvm_configure("lazy:0");
        auto* p = static_cast<char*>(uvm_vmalloc(1 << 20));
        uvm_vfree(p);
        write_at(p + 100);
      },
      ::testing::KilledBySignal(SIGSEGV), "use after free, 100 bytes into the freed area");
}

TEST_F(Hardening, WildAccessInTheSpaceIsReported) {
  EXPECT_EXIT(
      {
        auto* p = static_cast<char*>(uvm_vmalloc(1 << 20));
        write_at(p + (size_t{1} << 30));  // far beyond any area
      },
      ::testing::KilledBySignal(SIGSEGV), "in the vmalloc space .* but in no live area");
}

TEST_F(Hardening, FaultsElsewhereAreNotOurs) {
  // No report, and the default action: a plain segfault.
  EXPECT_EXIT(
      {
        uvm_vfree(uvm_vmalloc(P));  // uvmalloc is up and its handler installed
        char* volatile wild = reinterpret_cast<char*>(16);
        write_at(wild);
      },
      ::testing::KilledBySignal(SIGSEGV), "^$");
}

void exit_42(int) {
  _exit(42);
}

TEST_F(Hardening, ChainsToTheProgramsEarlierHandler) {
  // A handler installed before uvmalloc starts still gets the signal, alone:
  // the report is only for faults about to take the default action (the
  // handler may resolve the fault).
  EXPECT_EXIT(
      {
        signal(SIGSEGV, exit_42);
        auto* p = static_cast<char*>(uvm_vmalloc(300000));
        write_at(p + 74 * P);
      },
      ::testing::ExitedWithCode(42), "^$");
  EXPECT_EXIT(
      {
        signal(SIGSEGV, exit_42);
        uvm_vfree(uvm_vmalloc(P));  // uvmalloc is up and its handler installed
        char* volatile wild = reinterpret_cast<char*>(16);
        write_at(wild);
      },
      ::testing::ExitedWithCode(42), "^$");
}

TEST_F(Hardening, SentSignalsTakeTheDefaultAction) {
  // raise() is no fault: nothing re-executes, so the handler re-raises it.
  EXPECT_EXIT(
      {
        uvm_vfree(uvm_vmalloc(P));  // uvmalloc is up and its handler installed
        raise(SIGSEGV);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSEGV), "^$");
}

TEST_F(Hardening, ProtectedPageOfALiveAreaIsReported) {
  EXPECT_EXIT(
      {
        auto* p = static_cast<char*>(uvm_vmalloc(16 * P));
        mprotect(p + 4 * P, P, PROT_READ);
        write_at(p + 4 * P + 8);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "16392 bytes into the live area .* on a page its protection forbids");
}

TEST_F(Hardening, SegvReportsCanBeTurnedOff) {
  EXPECT_EXIT(
      {
        uvm_configure("segv:0");
        auto* p = static_cast<char*>(uvm_vmalloc(300000));
        write_at(p + 74 * P);
      },
      ::testing::KilledBySignal(SIGSEGV), "^$");
}

TEST_F(Hardening, EfenceEndsBlocksAtTheGuardPage) {
  EXPECT_EXIT(
      {
        uvm_configure("efence:1");
        for (size_t size : {size_t{4096}, size_t{300000}, size_t{131072 + 48}}) {
          auto* p = static_cast<char*>(uvm_vmalloc(size));
          if (reinterpret_cast<uintptr_t>(p) % 16 != 0) _exit(1);          // malloc's alignment
          if ((reinterpret_cast<uintptr_t>(p) + size) % P != 0) _exit(2);  // ends at the guard
          memset(p, 1, size);
          if (uvm_vmalloc_size(p) != size) _exit(3);
          p = static_cast<char*>(uvm_vrealloc(p, size + 4096 + 32));
          if ((reinterpret_cast<uintptr_t>(p) + size + 4096 + 32) % P != 0) _exit(4);
          if (p[0] != 1 || p[size - 1] != 1) _exit(5);
          uvm_vfree(p);
        }
        // Alignment asked for is kept; the block ends as close as it allows.
        auto* a = static_cast<char*>(uvm_vmalloc_align(5000, 256));
        if (reinterpret_cast<uintptr_t>(a) % 256 != 0) _exit(6);
        if (P - (reinterpret_cast<uintptr_t>(a) + 5000) % P >= 256) _exit(7);
        uvm_vfree(a);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Hardening, EfenceCatchesAOneByteOverflow) {
  EXPECT_EXIT(
      {
        uvm_configure("efence:1");
        auto* p = static_cast<char*>(uvm_vmalloc(300000));  // a multiple of 16
        p[299999] = 1;                                      // the last byte is fine
        write_at(p + 300000);                               // one past faults
      },
      ::testing::KilledBySignal(SIGSEGV), "overflow into the guard page, 0 bytes past the end");
}

TEST_F(Hardening, EfenceFreesAndReportsByTheCallersPointer) {
  EXPECT_DEATH(
      {
        uvm_configure("efence:1");
        auto* p = static_cast<char*>(uvm_vmalloc(300000));
        uvm_vfree(p);
        uvm_vfree(p);
      },
      "double free or never allocated");
}

}  // namespace
