#include "config.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace uvm {
namespace {

bool parse_size(const char* v, size_t len, size_t* out) {
  char buf[32];
  // Digits first: strtoull would also take blanks and signs (" -1").
  if (len == 0 || len >= sizeof buf || v[0] < '0' || v[0] > '9') return false;
  memcpy(buf, v, len);
  buf[len] = 0;
  char* end;
  errno = 0;
  unsigned long long n = strtoull(buf, &end, 10);
  if (errno != 0 || end == buf) return false;
  unsigned shift = 0;
  switch (*end) {
    case 0:
      break;
    case 'k':
    case 'K':
      shift = 10;
      ++end;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++end;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++end;
      break;
    case 't':
    case 'T':
      shift = 40;
      ++end;
      break;
    default:
      return false;
  }
  if ((*end == 'b' || *end == 'B') && shift != 0) ++end;
  if (*end != 0 || (shift != 0 && n > (~0ull >> shift))) return false;
  *out = static_cast<size_t>(n << shift);
  return true;
}

bool parse_bool(const char* v, size_t len, bool* out) {
  size_t n;
  if (len == 4 && strncmp(v, "true", 4) == 0)
    n = 1;
  else if (len == 5 && strncmp(v, "false", 5) == 0)
    n = 0;
  else if (!parse_size(v, len, &n) || n > 1)
    return false;
  *out = n == 1;
  return true;
}

}  // namespace

int parse_config(const char* conf, vm_config* cfg, void (*warn)(const char* msg)) {
  int bad = 0;
  char msg[160];
  while (conf != nullptr && *conf != 0) {
    const char* end = strchr(conf, ',');
    size_t len = end ? static_cast<size_t>(end - conf) : strlen(conf);
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a search, not a copy
    const char* colon = static_cast<const char*>(memchr(conf, ':', len));
    if (len == 0) {
      conf = end ? end + 1 : nullptr;
      continue;
    }
    size_t klen = colon ? static_cast<size_t>(colon - conf) : len;
    const char* v = colon ? colon + 1 : conf + len;
    size_t vlen = colon ? len - klen - 1 : 0;
    auto key = [&](const char* k) { return strlen(k) == klen && strncmp(conf, k, klen) == 0; };
    size_t n = 0;
    bool ok = true;
    if (key("reserve"))
      ok = parse_size(v, vlen, &cfg->reserve);
    else if (key("lazy"))
      ok = parse_size(v, vlen, &cfg->lazy_max);
    else if (key("threshold"))
      ok = parse_size(v, vlen, &cfg->threshold);
    else if (key("guard"))
      ok = parse_bool(v, vlen, &cfg->guard);
    else if (key("thp"))
      ok = parse_bool(v, vlen, &cfg->thp);
    else if (key("stats"))
      ok = parse_bool(v, vlen, &cfg->stats_at_exit);
    else if (key("footprint"))
      ok = parse_bool(v, vlen, &cfg->footprint_at_exit);
    else if (key("segv"))
      ok = parse_bool(v, vlen, &cfg->segv_report);
    else if (key("efence"))
      ok = parse_bool(v, vlen, &cfg->efence);
    else if (key("purge_thread"))
      ok = parse_bool(v, vlen, &cfg->purge_thread);
    else if (key("populate"))
      ok = parse_size(v, vlen, &cfg->populate);
    else if (key("pool_max"))
      ok = parse_size(v, vlen, &cfg->pool.pool_max);
    else if (key("refill"))
      ok = parse_size(v, vlen, &cfg->pool.refill);
    else if (key("uring"))
      ok = parse_bool(v, vlen, &cfg->pool.uring);
    else if (key("live_floor"))
      ok = parse_size(v, vlen, &cfg->pool.live_floor);
    else if (key("live_share")) {  // percent of the live bytes
      ok = parse_size(v, vlen, &n) && n <= 100;
      if (ok) cfg->pool.live_share = static_cast<unsigned>(n);
    } else if (key("decay_ms")) {
      ok = parse_size(v, vlen, &n);
      if (ok) cfg->pool.decay_ms = n;
    } else if (key("vma_max") || key("vma_headroom")) {
      ok = parse_size(v, vlen, &n) && n < (size_t{1} << 31);
      if (ok) (key("vma_max") ? cfg->vma_max : cfg->vma_headroom) = static_cast<long>(n);
    } else if (key("bad_free")) {
      ok = true;
      if (vlen == 5 && strncmp(v, "abort", 5) == 0)
        cfg->abort_on_bad_free = true;
      else if (vlen == 4 && strncmp(v, "warn", 4) == 0)
        cfg->abort_on_bad_free = false;
      else
        ok = false;
    } else {
      snprintf(msg, sizeof msg, "uvmalloc: unknown UVMALLOC_CONF key '%.*s' (ignored)",
               static_cast<int>(klen), conf);
      if (warn) warn(msg);
      ++bad;
      conf = end ? end + 1 : nullptr;
      continue;
    }
    if (!ok) {
      snprintf(msg, sizeof msg, "uvmalloc: bad value '%.*s' for UVMALLOC_CONF key '%.*s' (ignored)",
               static_cast<int>(vlen), v, static_cast<int>(klen), conf);
      if (warn) warn(msg);
      ++bad;
    }
    conf = end ? end + 1 : nullptr;
  }
  return bad;
}

void fit_reserve_to_limit(vm_config* cfg, size_t as_limit) {
  constexpr size_t kAlign = size_t{2} << 20;
  constexpr size_t kPage = 4096;
  size_t share = as_limit / 8;
  share = share >= kAlign ? share & ~(kAlign - 1) : share & ~(kPage - 1);
  if (share < cfg->reserve) cfg->reserve = share;
  // A reserve set below min_reserve is still honoured, not refused. Halving
  // a 2 MiB multiple three times keeps it a page multiple.
  bool halve = as_limit != SIZE_MAX && cfg->reserve % kAlign == 0;
  size_t floor = halve ? cfg->reserve / 8 : cfg->reserve;
  if (floor < cfg->min_reserve) cfg->min_reserve = floor;
}

}  // namespace uvm
