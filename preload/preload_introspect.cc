// glibc's malloc introspection and tuning calls, answered for both halves of
// the heap: the next allocator's figures plus uvmalloc's blocks, counted the
// way glibc counts its mmapped chunks (they are what uvmalloc replaces).
//
// Before the first large allocation there is no uvmalloc instance; nothing
// here creates one (uvm_stats and uvm_purge never do), so a program that
// only inspects gets the next allocator's answers unchanged.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <atomic>
#include <cinttypes>
#include <cstddef>

#include "shim.h"
#include "uvmalloc/uvmalloc.h"

#define UVM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using mallinfo2_fn = struct mallinfo2 (*)();
using mallinfo_fn = struct mallinfo (*)();
using trim_fn = int (*)(size_t);
using stats_fn = void (*)();
using info_fn = int (*)(int, FILE*);
using mallopt_fn = int (*)(int, int);

std::atomic<mallinfo2_fn> g_mallinfo2;
std::atomic<mallinfo_fn> g_mallinfo;
std::atomic<trim_fn> g_trim;
std::atomic<stats_fn> g_stats;
std::atomic<info_fn> g_info;
std::atomic<mallopt_fn> g_mallopt;

// uvmalloc's live blocks as glibc counts mmapped chunks: how many, and the
// bytes mapped for them (lazily freed areas are no longer the program's).
struct live_blocks {
  size_t count;
  size_t bytes;
};

live_blocks ours_live(struct uvm_stats* s) {
  uvm_stats(s);  // zeros when there is no instance yet
  return {s->areas, s->mapped - s->lazy};
}

// glibc's one figure for mmapped chunks, "<total type="mmap" count= size=>".
constexpr char kMmapTotal[] = "<total type=\"mmap\" count=\"";

}  // namespace

UVM_EXPORT struct mallinfo2 mallinfo2() noexcept {
  struct mallinfo2 mi {};
  if (auto next = uvm::shim::next_cached(g_mallinfo2, "mallinfo2")) mi = next();
  struct uvm_stats s;
  live_blocks ours = ours_live(&s);
  mi.hblks += ours.count;
  mi.hblkhd += ours.bytes;
  return mi;
}

// The old interface: int fields, which glibc fills by truncation as well.
UVM_EXPORT struct mallinfo mallinfo() noexcept {
  struct mallinfo mi {};
  if (auto next = uvm::shim::next_cached(g_mallinfo, "mallinfo")) mi = next();
  struct uvm_stats s;
  live_blocks ours = ours_live(&s);
  mi.hblks = static_cast<int>(static_cast<size_t>(mi.hblks) + ours.count);
  mi.hblkhd = static_cast<int>(static_cast<size_t>(mi.hblkhd) + ours.bytes);
  return mi;
}

// Also give back all uvmalloc holds beyond its live blocks: lazily freed
// areas and warm pool pages. 1 when either side released anything.
UVM_EXPORT int malloc_trim(size_t pad) noexcept {
  int rc = 0;
  if (auto next = uvm::shim::next_cached(g_trim, "malloc_trim")) rc = next(pad);
  size_t ours = uvm_trim();
  return rc != 0 || ours != 0 ? 1 : 0;
}

// glibc's report (stderr), then uvmalloc's blocks, which its totals leave out.
UVM_EXPORT void malloc_stats() noexcept {
  if (auto next = uvm::shim::next_cached(g_stats, "malloc_stats")) next();
  struct uvm_stats s;
  live_blocks ours = ours_live(&s);
  if (s.reserved == 0) return;
  fprintf(stderr,
          "uvmalloc (blocks of %zu bytes or more; not in the totals above):\n"
          "mmap regions     = %10zu\n"
          "in use bytes     = %10zu\n"
          "lazy bytes       = %10zu\n"
          "pooled bytes     = %10zu\n"
          "reserved bytes   = %10zu\n",
          uvm::shim::threshold(), ours.count, ours.bytes, s.lazy, s.pooled, s.reserved);
}

// The next allocator's XML with uvmalloc's blocks added to the mmap total,
// and one <uvmalloc/> element before </malloc> with the breakdown.
UVM_EXPORT int malloc_info(int options, FILE* fp) noexcept {
  auto next = uvm::shim::next_cached(g_info, "malloc_info");
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  struct uvm_stats s;
  live_blocks ours = ours_live(&s);
  if (s.reserved == 0 || options != 0 || fp == nullptr) return next(options, fp);
  char* doc = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&doc, &len);
  if (mem == nullptr) return next(options, fp);
  int rc = next(options, mem);
  if (fclose(mem) != 0 || doc == nullptr) {
    free(doc);
    return next(options, fp);
  }
  const char* rest = doc;
  const char* total = strstr(doc, kMmapTotal);
  uintmax_t count = 0, bytes = 0;
  int used = 0;
  if (total != nullptr &&
      sscanf(total + sizeof kMmapTotal - 1, "%" SCNuMAX "\" size=\"%" SCNuMAX "\"%n", &count,
             &bytes, &used) == 2 &&
      used > 0) {
    fwrite(doc, 1, static_cast<size_t>(total - doc), fp);
    fprintf(fp, "%s%" PRIuMAX "\" size=\"%" PRIuMAX "\"", kMmapTotal, count + ours.count,
            bytes + ours.bytes);
    rest = total + sizeof kMmapTotal - 1 + used;
  }
  const char* end = strstr(rest, "</malloc>");
  if (end == nullptr) end = doc + len;
  fwrite(rest, 1, static_cast<size_t>(end - rest), fp);
  if (end != doc + len)
    fprintf(fp,
            "<uvmalloc count=\"%zu\" size=\"%zu\" lazy=\"%zu\" pooled=\"%zu\" "
            "reserved=\"%zu\" threshold=\"%zu\"/>\n",
            ours.count, ours.bytes, s.lazy, s.pooled, s.reserved, uvm::shim::threshold());
  fwrite(end, 1, len - static_cast<size_t>(end - doc), fp);
  free(doc);
  return rc;
}

// M_MMAP_THRESHOLD moves the shim's routing threshold too, when the next
// allocator accepts the value: glibc before 2.35 refuses more than HEAP_MAX / 2
// (32 MiB on 64-bit) with 0; 2.36 takes any value, a negative one as a
// size_t (so nothing is mmapped). The answer is the next allocator's.
UVM_EXPORT int mallopt(int param, int value) noexcept {
  auto next = uvm::shim::next_cached(g_mallopt, "mallopt");
  int rc = next != nullptr ? next(param, value) : 0;
  if (param == M_MMAP_THRESHOLD && rc != 0) uvm::shim::set_threshold(static_cast<size_t>(value));
  return rc;
}
