// The magic ring buffer: a producer thread writes variable-size records and
// a consumer thread reads them, each as one contiguous span even across the
// wrap.
#include <uvmalloc/uvmalloc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>

int main() {
  uvm::ring_buffer ring(64 * 1024);
  constexpr uint32_t kRecords = 200000;
  std::thread producer([&] {
    unsigned char rec[1024];
    for (uint32_t i = 0; i < kRecords; ++i) {
      uint32_t len = 4 + i % 1000;  // header + payload
      std::memcpy(rec, &i, 4);
      std::memset(rec + 4, static_cast<int>(i & 0xff), len - 4);
      while (ring.write_window().size() < len) std::this_thread::yield();
      ring.write(rec, len);
    }
  });
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < kRecords; ++i) {
    uint32_t len = 4 + i % 1000;
    while (ring.read_window().size() < len) std::this_thread::yield();
    const auto* p = reinterpret_cast<const unsigned char*>(ring.read_window().data());
    uint32_t seq;
    std::memcpy(&seq, p, 4);  // read in place: never split at the wrap
    if (seq != i || (len > 4 && p[len - 1] != (i & 0xff))) {
      std::fprintf(stderr, "ring_buffer: record %u corrupt\n", i);
      return 1;
    }
    ring.consume(len);
    bytes += len;
  }
  producer.join();
  std::printf("ring of %zu bytes carried %u records (%.1f MiB) between two threads\n",
              ring.capacity(), kRecords, static_cast<double>(bytes) / (1 << 20));
  return 0;
}
