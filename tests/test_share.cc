// The magic ring buffer (uvm_ring_create / uvm::ring_buffer) and sharing an
// allocation with another process (uvm_vmalloc_user + uvm_export, the
// descriptor passed over a UNIX socket with SCM_RIGHTS to a forked child).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "test_util.h"
#include "uvmalloc/uvmalloc.h"
#include "uvmalloc/uvmalloc.hpp"

namespace {

using uvm::test::poke;
using uvm::test::Rng;

constexpr size_t P = 4096;
constexpr size_t MiB = size_t{1} << 20;

size_t round_up(size_t n) {
  return (n + P - 1) & ~(P - 1);
}

// The payload of record `seq`, byte `j`.
unsigned char payload_byte(uint32_t seq, size_t j) {
  return static_cast<unsigned char>((seq * 0x9e3779b1u) >> 24 ^ (j * 131 + (j >> 8) * 7));
}

// Every 64-bit word of [p, p + size) gets tag ^ its index (times a constant).
void fill(void* p, size_t size, uint64_t tag) {
  auto* w = static_cast<volatile uint64_t*>(p);
  for (size_t i = 0; i < size / 8; ++i) w[i] = tag ^ (i * 0x9e3779b97f4a7c15ull);
}
// Offset of the first word that does not match fill(p, size, tag), or size.
size_t verify(const void* p, size_t size, uint64_t tag) {
  auto* w = static_cast<const volatile uint64_t*>(p);
  for (size_t i = 0; i < size / 8; ++i)
    if (w[i] != (tag ^ (i * 0x9e3779b97f4a7c15ull))) return i * 8;
  return size;
}

// ---- The C ring ---------------------------------------------------------------

TEST(RingC, CreateWrapAndDestroy) {
  uvm_ring r{};
  EXPECT_EQ(uvm_ring_create(&r, 0), UVM_EINVAL);
  ASSERT_EQ(uvm_ring_create(&r, 3 * P + 1), UVM_OK);
  ASSERT_NE(r.base, nullptr);
  EXPECT_EQ(r.size, 4 * P);
  EXPECT_EQ(uvm_pages_count(r.pages), 4u);
  volatile unsigned char* v = r.base;
  for (size_t i = 0; i < r.size; ++i) v[i] = static_cast<unsigned char>(i * 7 + 1);
  for (size_t i = 0; i < r.size; ++i)
    ASSERT_EQ(v[r.size + i], static_cast<unsigned char>(i * 7 + 1)) << i;
  // One write across the end of the first copy lands at the start.
  unsigned char msg[100];
  for (size_t i = 0; i < sizeof msg; ++i) msg[i] = static_cast<unsigned char>(0xa0 + i);
  memcpy(r.base + r.size - 40, msg, sizeof msg);
  for (size_t i = 0; i < 60; ++i) EXPECT_EQ(v[i], msg[40 + i]) << i;
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(v[r.size - 40 + i], msg[i]) << i;
  // Writing the start shows at the end of the second copy.
  v[5] = 0x5c;
  EXPECT_EQ(v[r.size + 5], 0x5c);
  // Both copies are the same pages of the same handle.
  uvm_page_info a{}, b{};
  ASSERT_EQ(uvm_vmalloc_to_page(r.base + P + 3, &a), UVM_OK);
  ASSERT_EQ(uvm_vmalloc_to_page(r.base + r.size + P + 3, &b), UVM_OK);
  EXPECT_EQ(a.pages, r.pages);
  EXPECT_EQ(b.pages, r.pages);
  EXPECT_EQ(a.index, 1u);
  EXPECT_EQ(b.index, 1u);
  EXPECT_EQ(a.file_offset, b.file_offset);
  uvm_ring_destroy(&r);
  EXPECT_EQ(r.base, nullptr);
  EXPECT_EQ(r.pages, nullptr);
  uvm_ring_destroy(&r);  // a destroyed ring: nothing to do
}

TEST(RingCDeathTest, GuardPageAfterTheSecondCopy) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  uvm_ring r{};
  ASSERT_EQ(uvm_ring_create(&r, 2 * P), UVM_OK);
  r.base[2 * r.size - 1] = 1;
  EXPECT_EXIT(poke(r.base + 2 * r.size), ::testing::KilledBySignal(SIGSEGV), "");
  uvm_ring_destroy(&r);
}

// ---- uvm::ring_buffer ---------------------------------------------------------

// Record layout: u32 payload length, u32 sequence number, payload.
constexpr size_t kHeader = 8;

size_t put_record(uvm::ring_buffer& rb, uint32_t seq, uint32_t len) {
  std::span<std::byte> w = rb.write_window();
  if (w.size() < kHeader + len) return 0;
  auto* out = reinterpret_cast<unsigned char*>(w.data());
  memcpy(out, &len, 4);
  memcpy(out + 4, &seq, 4);
  for (size_t j = 0; j < len; ++j) out[kHeader + j] = payload_byte(seq, j);
  rb.commit(kHeader + len);
  return kHeader + len;
}

// Variable-size records through a small ring, one thread: every record is
// read back byte by byte from a single contiguous window, also when it
// crosses the end of the ring.
TEST(RingCpp, WrapAroundTrafficIsIntact) {
  uvm::ring_buffer rb(10000);
  ASSERT_EQ(rb.capacity(), 3 * P);
  EXPECT_EQ(rb.size(), 0u);
  Rng rng{3};
  uint32_t next_put = 0, next_get = 0;
  size_t moved = 0, crossing = 0, tail_pos = 0;
  while (moved < 24 * MiB) {
    // Fill with records until one does not fit.
    for (;;) {
      uint32_t len = static_cast<uint32_t>(rng.below(4000));
      if (rng.below(8) == 0) len = 0;
      if (put_record(rb, next_put, len) == 0) break;
      ++next_put;
    }
    // Drain a random number of them: either each record from one window
    // (contiguous even across the end), or in chunks from fresh windows, so
    // that bytes written through the second copy are read through the first.
    size_t n = 1 + rng.below(next_put - next_get);
    for (size_t k = 0; k < n; ++k) {
      std::span<const std::byte> r = rb.read_window();
      ASSERT_GE(r.size(), kHeader);
      auto* in = reinterpret_cast<const unsigned char*>(r.data());
      uint32_t len, seq;
      memcpy(&len, in, 4);
      memcpy(&seq, in + 4, 4);
      ASSERT_EQ(seq, next_get);
      ASSERT_GE(r.size(), kHeader + len);
      bool crosses = tail_pos % rb.capacity() + kHeader + len > rb.capacity();
      crossing += crosses;
      tail_pos += kHeader + len;
      moved += kHeader + len;
      ++next_get;
      if (rng.below(2) == 0) {
        for (size_t j = 0; j < len; ++j)
          ASSERT_EQ(in[kHeader + j], payload_byte(seq, j)) << "record " << seq << " byte " << j;
        rb.consume(kHeader + len);
        continue;
      }
      rb.consume(kHeader);
      for (size_t j = 0; j < len;) {
        size_t chunk = std::min<size_t>(len - j, 1 + rng.below(600));
        std::span<const std::byte> c = rb.read_window();
        ASSERT_GE(c.size(), chunk);
        auto* cin = reinterpret_cast<const unsigned char*>(c.data());
        for (size_t x = 0; x < chunk; ++x)
          ASSERT_EQ(cin[x], payload_byte(seq, j + x))
              << "record " << seq << " byte " << j + x << (crosses ? " (crosses the end)" : "");
        rb.consume(chunk);
        j += chunk;
      }
    }
  }
  EXPECT_GT(crossing, 100u);
  // The copying interface too.
  std::vector<unsigned char> in(5000), out(5000);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i ^ 0x5a);
  while (rb.size() > 0) {
    std::span<const std::byte> r = rb.read_window();
    rb.consume(r.size());
  }
  EXPECT_EQ(rb.write(in.data(), in.size()), in.size());
  EXPECT_EQ(rb.write(in.data(), in.size()), in.size());
  EXPECT_EQ(rb.write(in.data(), in.size()), rb.capacity() - 2 * in.size());  // what fits
  EXPECT_EQ(rb.size(), rb.capacity());
  EXPECT_EQ(rb.write(in.data(), 1), 0u);  // full
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(rb.read(out.data(), out.size()), out.size());
    EXPECT_EQ(in, out);
  }
  EXPECT_EQ(rb.read(out.data(), out.size()), rb.capacity() - 2 * in.size());
  EXPECT_EQ(memcmp(in.data(), out.data(), rb.capacity() - 2 * in.size()), 0);
  EXPECT_EQ(rb.size(), 0u);
}

// Checksum of a byte range (FNV-1a, 64 bit).
uint64_t fnv(const unsigned char* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// A producer and a consumer thread move 64 MiB of checksummed records.
TEST(RingCpp, ProducerAndConsumerThreads) {
  uvm::ring_buffer rb(64 * 1024);
  constexpr size_t kTotal = 64 * MiB;
  constexpr size_t kRecHeader = 16;  // u32 len, u32 seq, u64 checksum
  std::atomic<bool> failed{false};
  std::thread producer([&] {
    Rng rng{11};
    std::vector<unsigned char> buf(8192);
    size_t sent = 0;
    for (uint32_t seq = 0; sent < kTotal && !failed; ++seq) {
      uint32_t len = static_cast<uint32_t>(1 + rng.below(8000));
      for (size_t j = 0; j < len; j += 8) {
        uint64_t v = rng();
        memcpy(buf.data() + j, &v, std::min<size_t>(8, len - j));
      }
      uint64_t sum = fnv(buf.data(), len, seq);
      std::span<std::byte> w = rb.write_window();
      while (w.size() < kRecHeader + len && !failed) {
        std::this_thread::yield();
        w = rb.write_window();
      }
      if (failed) break;
      auto* out = reinterpret_cast<unsigned char*>(w.data());
      memcpy(out, &len, 4);
      memcpy(out + 4, &seq, 4);
      memcpy(out + 8, &sum, 8);
      memcpy(out + kRecHeader, buf.data(), len);
      rb.commit(kRecHeader + len);
      sent += len;
    }
    uint32_t end = 0xffffffffu;  // zero length, this sequence number: done
    std::span<std::byte> w = rb.write_window();
    while (w.size() < kRecHeader && !failed) {
      std::this_thread::yield();
      w = rb.write_window();
    }
    if (!failed) {
      memset(w.data(), 0, kRecHeader);
      memcpy(reinterpret_cast<unsigned char*>(w.data()) + 4, &end, 4);
      rb.commit(kRecHeader);
    }
  });
  size_t received = 0;
  uint32_t expect_seq = 0;
  for (;;) {
    std::span<const std::byte> r = rb.read_window();
    while (r.size() < kRecHeader) {
      std::this_thread::yield();
      r = rb.read_window();
    }
    auto* in = reinterpret_cast<const unsigned char*>(r.data());
    uint32_t len, seq;
    uint64_t sum;
    memcpy(&len, in, 4);
    memcpy(&seq, in + 4, 4);
    memcpy(&sum, in + 8, 8);
    if (len == 0 && seq == 0xffffffffu) {
      rb.consume(kRecHeader);
      break;
    }
    if (seq != expect_seq || len > 8000) {
      ADD_FAILURE() << "record " << expect_seq << ": header says seq " << seq << " len " << len;
      failed = true;
      break;
    }
    // The payload from a fresh window: past the end of the ring it is read
    // through the first copy, where the producer wrote through the second.
    rb.consume(kRecHeader);
    r = rb.read_window();
    while (r.size() < len) {
      std::this_thread::yield();
      r = rb.read_window();
    }
    in = reinterpret_cast<const unsigned char*>(r.data());
    if (fnv(in, len, seq) != sum) {
      ADD_FAILURE() << "record " << seq << ": checksum mismatch";
      failed = true;
      break;
    }
    rb.consume(len);
    received += len;
    ++expect_seq;
  }
  producer.join();
  EXPECT_FALSE(failed.load());
  EXPECT_GE(received, kTotal);
  EXPECT_EQ(rb.size(), 0u);
}

// ---- Sharing with another process ----------------------------------------------

int send_fd(int sock, int fd, size_t length) {
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  iovec iov = {&length, sizeof length};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int recv_fd(int sock, size_t* length) {
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  iovec iov = {length, sizeof *length};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  if (recvmsg(sock, &msg, 0) <= 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

constexpr uint64_t kParentTag = 0x1111000000000000ull;
constexpr uint64_t kChildTag = 0x2222000000000000ull;

// The child: knows only the descriptor. Returns its exit code (0: all good).
int child_main(int sock) {
  size_t length = 0;
  int fd = recv_fd(sock, &length);
  if (fd < 0) return 2;
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != length) return 3;
  // Sealed: it cannot grow (nor shrink) to reach anything else.
  if (ftruncate(fd, static_cast<off_t>(2 * length)) == 0 || errno != EPERM) return 4;
  if (ftruncate(fd, static_cast<off_t>(P)) == 0 || errno != EPERM) return 5;
  void* m = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return 6;
  if (verify(m, length / 2, kParentTag) != length / 2) return 7;
  fill(static_cast<char*>(m) + length / 2, length / 2, kChildTag);
  munmap(m, length);
  close(fd);
  char done = 1;
  if (write(sock, &done, 1) != 1) return 8;
  return 0;
}

TEST(Share, ForkedChildMapsTheExportAndWritesBack) {
  const size_t size = MiB + 123;
  auto* buf = static_cast<char*>(uvm_vmalloc_user(size));
  ASSERT_NE(buf, nullptr);
  const size_t length = round_up(size);
  EXPECT_EQ(uvm_vmalloc_size(buf), length);
  // A private allocation beside it, never reachable through the export.
  auto* secret = static_cast<char*>(uvm_vmalloc(64 * 1024));
  ASSERT_NE(secret, nullptr);
  memset(secret, 0xee, 64 * 1024);
  struct uvm_export e {};
  ASSERT_EQ(uvm_export(buf, &e), UVM_OK);
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.length, length);
  EXPECT_TRUE(fcntl(e.fd, F_GETFD) & FD_CLOEXEC);
  struct stat st {};
  ASSERT_EQ(fstat(e.fd, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), e.length);  // only this allocation
  int seals = fcntl(e.fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
            F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  errno = 0;
  EXPECT_EQ(ftruncate(e.fd, static_cast<off_t>(2 * e.length)), -1);
  EXPECT_EQ(errno, EPERM);
  fill(buf, length / 2, kParentTag);

  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(sv[0]);
    _exit(child_main(sv[1]));
  }
  close(sv[1]);
  ASSERT_EQ(send_fd(sv[0], e.fd, e.length), 0);
  close(e.fd);
  char done = 0;
  EXPECT_EQ(read(sv[0], &done, 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's check that failed (see child_main)";
  close(sv[0]);
  // The child's writes are here.
  EXPECT_EQ(verify(buf + length / 2, length / 2, kChildTag), length / 2);
  EXPECT_EQ(verify(buf, length / 2, kParentTag), length / 2);
  for (size_t i = 0; i < 64 * 1024; ++i) ASSERT_EQ(static_cast<unsigned char>(secret[i]), 0xee);
  uvm_vfree(secret);
  uvm_vfree(buf);
}

// Two shareable allocations are two files; their exports reach nothing but
// their own pages, and keep working after uvm_vfree.
TEST(Share, EachShareableAllocationIsAFileOfItsOwn) {
  auto* a = static_cast<char*>(uvm_vmalloc_user(3 * P));
  auto* b = static_cast<char*>(uvm_vmalloc_user(5 * P));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  fill(a, 3 * P, 1);
  fill(b, 5 * P, 2);
  struct uvm_export ea {
  }, eb{};
  ASSERT_EQ(uvm_export(a, &ea), UVM_OK);
  ASSERT_EQ(uvm_export(b, &eb), UVM_OK);
  struct stat sa {
  }, sb{};
  ASSERT_EQ(fstat(ea.fd, &sa), 0);
  ASSERT_EQ(fstat(eb.fd, &sb), 0);
  EXPECT_NE(sa.st_ino, sb.st_ino);
  EXPECT_EQ(static_cast<size_t>(sa.st_size), 3 * P);
  EXPECT_EQ(static_cast<size_t>(sb.st_size), 5 * P);
  void* mb = mmap(nullptr, eb.length, PROT_READ | PROT_WRITE, MAP_SHARED, eb.fd, 0);
  ASSERT_NE(mb, MAP_FAILED);
  EXPECT_EQ(verify(mb, 5 * P, 2), 5 * P);
  // Same pages: a write through either is seen through the other.
  static_cast<volatile char*>(mb)[P + 1] = 0x42;
  EXPECT_EQ(static_cast<volatile char*>(b)[P + 1], 0x42);
  b[3 * P] = 0x17;
  EXPECT_EQ(static_cast<volatile char*>(mb)[3 * P], 0x17);
  uvm_vfree(b);  // the export outlives the allocation
  EXPECT_EQ(static_cast<volatile char*>(mb)[3 * P], 0x17);
  munmap(mb, eb.length);
  close(ea.fd);
  close(eb.fd);
  uvm_vfree(a);
}

TEST(Share, ExportOfOtherAllocationsIsRefused) {
  void* p = uvm_vmalloc(2 * P);
  void* z = uvm_vzalloc(P);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(z, nullptr);
  struct uvm_export e {
    - 1, 0, 0
  };
  EXPECT_EQ(uvm_export(p, &e), UVM_EWRONGKIND);
  EXPECT_EQ(uvm_export(z, &e), UVM_EWRONGKIND);
  EXPECT_EQ(e.fd, -1);  // untouched
  auto* u = static_cast<char*>(uvm_vmalloc_user(2 * P));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(uvm_export(u + P, &e), UVM_EINTERIOR);
  int local = 0;
  EXPECT_EQ(uvm_export(&local, &e), UVM_EFOREIGN);
  uvm_vfree(u);
  EXPECT_NE(uvm_export(u, &e), UVM_OK);  // freed
  EXPECT_EQ(e.fd, -1);
  uvm_vfree(p);
  uvm_vfree(z);
}

// vrealloc of a shareable allocation keeps its contents and it stays
// shareable, with an export of the new length.
TEST(Share, VreallocKeepsContentsAndStaysExportable) {
  auto* u = static_cast<char*>(uvm_vmalloc_user(3 * P + 5));
  ASSERT_NE(u, nullptr);
  fill(u, 4 * P, 7);
  auto* q = static_cast<char*>(uvm_vrealloc(u, 10 * P));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(uvm_vmalloc_size(q), 10 * P);
  EXPECT_EQ(verify(q, 4 * P, 7), 4 * P);
  fill(q + 4 * P, 6 * P, 8);
  struct uvm_export e {};
  ASSERT_EQ(uvm_export(q, &e), UVM_OK);
  EXPECT_EQ(e.length, 10 * P);
  struct stat st {};
  ASSERT_EQ(fstat(e.fd, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), 10 * P);
  void* m = mmap(nullptr, e.length, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd,
                 static_cast<off_t>(e.offset));
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(verify(m, 4 * P, 7), 4 * P);
  EXPECT_EQ(verify(static_cast<char*>(m) + 4 * P, 6 * P, 8), 6 * P);
  static_cast<volatile char*>(m)[9 * P] = 0x3d;
  EXPECT_EQ(static_cast<volatile char*>(q)[9 * P], 0x3d);
  munmap(m, e.length);
  close(e.fd);
  // Shrinking too: the contents stay and it can still be exported.
  auto* r = static_cast<char*>(uvm_vrealloc(q, 2 * P));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(uvm_vmalloc_size(r), 2 * P);
  EXPECT_EQ(verify(r, 2 * P, 7), 2 * P);
  ASSERT_EQ(uvm_export(r, &e), UVM_OK);
  EXPECT_EQ(e.length, 2 * P);
  m = mmap(nullptr, e.length, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd,
           static_cast<off_t>(e.offset));
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(verify(m, 2 * P, 7), 2 * P);
  munmap(m, e.length);
  close(e.fd);
  uvm_vfree(r);
}

// Was a bug (realloc() shrank VM_USERMAP areas in place): shrink() -> drop_pages() hands the tail
// of the area's runs to the page pool, but a shareable area's runs are offsets in its own sealed
// memfd, not the pool's. The pool then counts those bytes as freed (in_use
// drops) and hands the same offsets of the pool memfd out again while other
// allocations still map them: two live allocations share pages. Also, the
// sealed file keeps its old size, so the export reaches past the allocation
// (fstat size > export length). Reproducer (fresh Vmalloc, refill 0, lazy 0):
// a = alloc(16 pages), memset 'A'; u = alloc_user(10 pages); realloc(u, 2
// pages); b = alloc(8 pages), memset 'B': 8 pages of a now read 'B'.
TEST(ShareBugTest, ShrinkingAShareableAllocationInPlace) {
  auto* u = static_cast<char*>(uvm_vmalloc_user(10 * P));
  ASSERT_NE(u, nullptr);
  fill(u, 10 * P, 9);
  struct uvm_stats before {};
  uvm_stats(&before);
  auto* r = static_cast<char*>(uvm_vrealloc(u, 2 * P));
  ASSERT_NE(r, nullptr);
  struct uvm_stats after {};
  uvm_stats(&after);
  EXPECT_EQ(after.in_use, before.in_use) << "no pool pages belong to a shareable allocation";
  struct uvm_export e {};
  ASSERT_EQ(uvm_export(r, &e), UVM_OK);
  struct stat st {};
  ASSERT_EQ(fstat(e.fd, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), e.length) << "the export reaches past the allocation";
  close(e.fd);
  uvm_vfree(r);
}

}  // namespace
