// parse_config tests: every UVMALLOC_CONF key, size suffixes, booleans, and
// how bad values, unknown keys and empty items are reported and skipped.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.h"

namespace uvm {
namespace {

constexpr size_t KiB = size_t{1} << 10;
constexpr size_t MiB = size_t{1} << 20;
constexpr size_t GiB = size_t{1} << 30;
constexpr size_t TiB = size_t{1} << 40;

std::vector<std::string> g_warnings;

void collect(const char* msg) {
  g_warnings.emplace_back(msg);
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { g_warnings.clear(); }

  // Parse into a default config; returns the number of bad items.
  int parse(const char* conf) {
    cfg = vm_config{};
    return parse_config(conf, &cfg, collect);
  }

  // The size `value` parses to for the "reserve" key; nothing when refused.
  std::optional<size_t> size_of(const std::string& value) {
    std::string conf = "reserve:" + value;
    if (parse(conf.c_str()) != 0) {
      EXPECT_EQ(cfg.reserve, vm_config{}.reserve) << "a refused value must not be applied";
      return std::nullopt;
    }
    return cfg.reserve;
  }

  vm_config cfg;
};

TEST_F(ConfigTest, DefaultsAreUntouchedByAnEmptyString) {
  vm_config def;
  EXPECT_EQ(parse(""), 0);
  EXPECT_EQ(parse(nullptr), 0);
  EXPECT_EQ(parse(",,,"), 0);
  EXPECT_TRUE(g_warnings.empty());
  EXPECT_EQ(cfg.reserve, def.reserve);
  EXPECT_EQ(cfg.lazy_max, def.lazy_max);
  EXPECT_EQ(cfg.guard, def.guard);
  EXPECT_EQ(cfg.pool.pool_max, def.pool.pool_max);
  EXPECT_EQ(cfg.pool.uring, def.pool.uring);
}

TEST_F(ConfigTest, EveryKeyIsApplied) {
  ASSERT_EQ(parse("reserve:32G,lazy:16M,guard:0,thp:false,stats:1,pool_max:128M,refill:8M,"
                  "uring:0,decay_ms:250,vma_max:1000,vma_headroom:77,bad_free:warn"),
            0);
  EXPECT_TRUE(g_warnings.empty());
  EXPECT_EQ(cfg.reserve, 32 * GiB);
  EXPECT_EQ(cfg.lazy_max, 16 * MiB);
  EXPECT_FALSE(cfg.guard);
  EXPECT_FALSE(cfg.thp);
  EXPECT_TRUE(cfg.stats_at_exit);
  EXPECT_EQ(cfg.pool.pool_max, 128 * MiB);
  EXPECT_EQ(cfg.pool.refill, 8 * MiB);
  EXPECT_FALSE(cfg.pool.uring);
  EXPECT_EQ(cfg.pool.decay_ms, 250u);
  EXPECT_EQ(cfg.vma_max, 1000);
  EXPECT_EQ(cfg.vma_headroom, 77);
  EXPECT_FALSE(cfg.abort_on_bad_free);
  // And the other way round.
  ASSERT_EQ(parse("guard:1,thp:true,stats:0,uring:true,bad_free:abort,lazy:0"), 0);
  EXPECT_TRUE(cfg.guard);
  EXPECT_TRUE(cfg.thp);
  EXPECT_FALSE(cfg.stats_at_exit);
  EXPECT_TRUE(cfg.pool.uring);
  EXPECT_TRUE(cfg.abort_on_bad_free);
  EXPECT_EQ(cfg.lazy_max, 0u);
}

TEST_F(ConfigTest, EachKeyAlone) {
  vm_config def;
  struct Case {
    const char* conf;
    bool (*changed)(const vm_config&);
  };
  const Case cases[] = {
      {"reserve:1T", [](const vm_config& c) { return c.reserve == TiB; }},
      {"lazy:3M", [](const vm_config& c) { return c.lazy_max == 3 * MiB; }},
      {"guard:false", [](const vm_config& c) { return !c.guard; }},
      {"thp:0", [](const vm_config& c) { return !c.thp; }},
      {"stats:true", [](const vm_config& c) { return c.stats_at_exit; }},
      {"pool_max:5K", [](const vm_config& c) { return c.pool.pool_max == 5 * KiB; }},
      {"refill:0", [](const vm_config& c) { return c.pool.refill == 0; }},
      {"uring:true", [](const vm_config& c) { return c.pool.uring; }},
      {"decay_ms:7", [](const vm_config& c) { return c.pool.decay_ms == 7; }},
      {"live_share:50", [](const vm_config& c) { return c.pool.live_share == 50; }},
      {"live_floor:1G", [](const vm_config& c) { return c.pool.live_floor == GiB; }},
      {"vma_max:20", [](const vm_config& c) { return c.vma_max == 20; }},
      {"vma_headroom:0", [](const vm_config& c) { return c.vma_headroom == 0; }},
      {"bad_free:warn", [](const vm_config& c) { return !c.abort_on_bad_free; }},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse(c.conf), 0) << c.conf;
    EXPECT_TRUE(c.changed(cfg)) << c.conf;
    EXPECT_FALSE(c.changed(def)) << c.conf << " (the default must differ for this test)";
  }
  EXPECT_TRUE(g_warnings.empty());
}

TEST_F(ConfigTest, SizeSuffixes) {
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("4096"), 4096u);
  EXPECT_EQ(size_of("1k"), KiB);
  EXPECT_EQ(size_of("1K"), KiB);
  EXPECT_EQ(size_of("1KB"), KiB);
  EXPECT_EQ(size_of("1kb"), KiB);
  EXPECT_EQ(size_of("2m"), 2 * MiB);
  EXPECT_EQ(size_of("2M"), 2 * MiB);
  EXPECT_EQ(size_of("2MB"), 2 * MiB);
  EXPECT_EQ(size_of("3g"), 3 * GiB);
  EXPECT_EQ(size_of("3G"), 3 * GiB);
  EXPECT_EQ(size_of("3Gb"), 3 * GiB);
  EXPECT_EQ(size_of("4t"), 4 * TiB);
  EXPECT_EQ(size_of("4T"), 4 * TiB);
  EXPECT_EQ(size_of("4TB"), 4 * TiB);
  EXPECT_EQ(size_of("16777215T"), size_t{16777215} << 40);  // the largest that fits
  EXPECT_EQ(size_of("18446744073709551615"), SIZE_MAX);
}

TEST_F(ConfigTest, BadSizesAreRefused) {
  for (const char* v :
       {"", "abc", "-1", "-1K", "1X", "1KK", "1KBB", "1B", "1.5G", "G", "0x10", "1 G",
        "18446744073709551616", "16777216T", "17179869184G", "123456789012345678901234567890123"}) {
    EXPECT_EQ(size_of(v), std::nullopt) << "'" << v << "'";
  }
}

// strtoull() skips leading blanks and takes a sign, so " -1" slipped past the
// check for a leading '-' and parsed as 2^64 - 1.
TEST_F(ConfigTest, LeadingBlanksAndSignsAreRefused) {
  for (const char* v : {" -1", " -4096", " 1G", "+1G", "\t5"}) {
    EXPECT_EQ(size_of(v), std::nullopt) << "'" << v << "'";
  }
}

TEST_F(ConfigTest, Booleans) {
  struct Case {
    const char* value;
    int bad;
    bool result;
  };
  const Case cases[] = {
      {"1", 0, true},   {"0", 0, false}, {"true", 0, true}, {"false", 0, false}, {"2", 1, true},
      {"yes", 1, true}, {"no", 1, true}, {"TRUE", 1, true}, {"truex", 1, true},  {"fals", 1, true},
      {"", 1, true},    {"-1", 1, true}, {"1K", 1, true},   {"10", 1, true},
  };
  for (const Case& c : cases) {
    std::string conf = std::string("guard:") + c.value;
    g_warnings.clear();
    EXPECT_EQ(parse(conf.c_str()), c.bad) << conf;
    EXPECT_EQ(cfg.guard, c.result) << conf;  // a bad value leaves the default (true)
    EXPECT_EQ(g_warnings.size(), static_cast<size_t>(c.bad)) << conf;
  }
  // Same parser for every boolean key.
  EXPECT_EQ(parse("thp:maybe,stats:2,uring:on"), 3);
  EXPECT_TRUE(cfg.thp);
  EXPECT_FALSE(cfg.stats_at_exit);
  EXPECT_FALSE(cfg.pool.uring);  // a bad value leaves the default (off)
}

TEST_F(ConfigTest, BadValuesAreReportedWithTheKeyAndSkipped) {
  EXPECT_EQ(parse("reserve:lots,lazy:16M,pool_max:1Q"), 2);
  ASSERT_EQ(g_warnings.size(), 2u);
  EXPECT_NE(g_warnings[0].find("'reserve'"), std::string::npos) << g_warnings[0];
  EXPECT_NE(g_warnings[0].find("'lots'"), std::string::npos) << g_warnings[0];
  EXPECT_NE(g_warnings[1].find("'pool_max'"), std::string::npos) << g_warnings[1];
  EXPECT_NE(g_warnings[1].find("'1Q'"), std::string::npos) << g_warnings[1];
  vm_config def;
  EXPECT_EQ(cfg.reserve, def.reserve);
  EXPECT_EQ(cfg.pool.pool_max, def.pool.pool_max);
  EXPECT_EQ(cfg.lazy_max, 16 * MiB);  // the good item in between still applies
}

TEST_F(ConfigTest, IntegerRangesAreChecked) {
  EXPECT_EQ(parse("vma_max:2147483647"), 0);
  EXPECT_EQ(cfg.vma_max, 2147483647L);
  EXPECT_EQ(parse("vma_max:2147483648"), 1);
  EXPECT_EQ(cfg.vma_max, vm_config{}.vma_max);
  EXPECT_EQ(parse("vma_headroom:2G"), 1);
  EXPECT_EQ(cfg.vma_headroom, vm_config{}.vma_headroom);
  EXPECT_EQ(parse("vma_headroom:-5"), 1);
  EXPECT_EQ(parse("decay_ms:1K"), 0);  // sizes everywhere: 1024 ms
  EXPECT_EQ(cfg.pool.decay_ms, 1024u);
  EXPECT_EQ(parse("decay_ms:soon"), 1);
  EXPECT_EQ(cfg.pool.decay_ms, vm_config{}.pool.decay_ms);
  // A share of the live bytes, in percent: 100 at most.
  EXPECT_EQ(parse("live_share:100"), 0);
  EXPECT_EQ(cfg.pool.live_share, 100u);
  EXPECT_EQ(parse("live_share:101"), 1);
  EXPECT_EQ(cfg.pool.live_share, vm_config{}.pool.live_share);
}

// The caches are sized by what live is below its recent peak, at most the
// live bytes, at least 64 MiB, with lazy and pool_max as upper bounds.
TEST_F(ConfigTest, CachesDefaultToTheDipBelowThePeakWithA64MiBFloor) {
  vm_config def;
  EXPECT_EQ(def.pool.live_share, 100u);
  EXPECT_EQ(def.pool.live_floor, 64 * MiB);
  EXPECT_EQ(live_cap(def.pool.pool_max, 3 * MiB, 300 * MiB, def.pool), 64 * MiB);
  EXPECT_EQ(live_cap(def.lazy_max, 100 * MiB, 300 * MiB, def.pool), 100 * MiB);
  EXPECT_EQ(live_cap(def.lazy_max, 100 * MiB, 190 * MiB, def.pool), 90 * MiB);
  EXPECT_EQ(live_cap(def.lazy_max, 10 * GiB, 10 * GiB, def.pool), 64 * MiB);
  EXPECT_EQ(live_cap(def.lazy_max, 10 * GiB, 20 * GiB, def.pool), def.lazy_max);
  EXPECT_EQ(live_cap(def.pool.pool_max, 10 * GiB, 20 * GiB, def.pool), def.pool.pool_max);
}

TEST_F(ConfigTest, BadFreeTakesOnlyAbortOrWarn) {
  EXPECT_EQ(parse("bad_free:warn"), 0);
  EXPECT_FALSE(cfg.abort_on_bad_free);
  for (const char* v : {"bad_free:", "bad_free:Warn", "bad_free:abrt", "bad_free:warning",
                        "bad_free:1", "bad_free"}) {
    g_warnings.clear();
    EXPECT_EQ(parse(v), 1) << v;
    EXPECT_TRUE(cfg.abort_on_bad_free) << v;
    ASSERT_EQ(g_warnings.size(), 1u) << v;
    EXPECT_NE(g_warnings[0].find("'bad_free'"), std::string::npos) << g_warnings[0];
  }
}

TEST_F(ConfigTest, UnknownKeysAreReportedByName) {
  EXPECT_EQ(parse("bogus:1,reserve:2G,reserv:1G,reserved:1G,RESERVE:1G,frobnicate"), 5);
  EXPECT_EQ(cfg.reserve, 2 * GiB);
  ASSERT_EQ(g_warnings.size(), 5u);
  const char* names[] = {"'bogus'", "'reserv'", "'reserved'", "'RESERVE'", "'frobnicate'"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_NE(g_warnings[i].find(names[i]), std::string::npos) << g_warnings[i];
    EXPECT_NE(g_warnings[i].find("unknown"), std::string::npos) << g_warnings[i];
  }
}

TEST_F(ConfigTest, MissingValueIsABadValue) {
  EXPECT_EQ(parse("reserve"), 1);
  ASSERT_EQ(g_warnings.size(), 1u);
  EXPECT_NE(g_warnings[0].find("'reserve'"), std::string::npos) << g_warnings[0];
  EXPECT_EQ(parse("lazy:"), 1);
  EXPECT_EQ(cfg.lazy_max, vm_config{}.lazy_max);
}

TEST_F(ConfigTest, EmptyItemsAreSkipped) {
  EXPECT_EQ(parse(",reserve:1G,,,lazy:2M,"), 0);
  EXPECT_TRUE(g_warnings.empty());
  EXPECT_EQ(cfg.reserve, GiB);
  EXPECT_EQ(cfg.lazy_max, 2 * MiB);
}

TEST_F(ConfigTest, LaterItemsWin) {
  EXPECT_EQ(parse("reserve:1G,reserve:2G,guard:0,guard:1"), 0);
  EXPECT_EQ(cfg.reserve, 2 * GiB);
  EXPECT_TRUE(cfg.guard);
}

TEST_F(ConfigTest, NullWarnCallbackStillCounts) {
  vm_config c;
  EXPECT_EQ(parse_config("nope:1,reserve:x,lazy:1M", &c, nullptr), 2);
  EXPECT_EQ(c.lazy_max, MiB);
}

TEST_F(ConfigTest, ParsingAppliesOnTopOfTheGivenConfig) {
  vm_config c;
  c.reserve = 5 * GiB;
  c.min_reserve = 3 * GiB;
  EXPECT_EQ(parse_config("lazy:0", &c, collect), 0);
  EXPECT_EQ(c.reserve, 5 * GiB);
  EXPECT_EQ(c.min_reserve, 3 * GiB);
  EXPECT_EQ(c.lazy_max, 0u);
}

// Under RLIMIT_AS the reservation is an eighth of the limit (2 MiB aligned),
// so the next allocator keeps the rest; without one it is left alone.
TEST(FitReserve, UnlimitedLeavesTheSettings) {
  vm_config c;
  fit_reserve_to_limit(&c, SIZE_MAX);
  EXPECT_EQ(c.reserve, vm_config{}.reserve);
  EXPECT_EQ(c.min_reserve, vm_config{}.min_reserve);
}

TEST(FitReserve, AnEighthOfTheLimitTwoMiBAligned) {
  vm_config c;
  fit_reserve_to_limit(&c, 2000000 * KiB);  // ulimit -v 2000000
  EXPECT_EQ(c.reserve, 2000000 * KiB / 8 / (2 * MiB) * (2 * MiB));
  EXPECT_EQ(c.reserve % (2 * MiB), 0u);
  EXPECT_EQ(c.min_reserve, c.reserve / 8);  // halving stays page aligned
  EXPECT_EQ(c.min_reserve % 4096, 0u);
}

TEST(FitReserve, NeverMoreThanTheSetting) {
  vm_config c;
  c.reserve = 64 * MiB;
  fit_reserve_to_limit(&c, 64 * GiB);
  EXPECT_EQ(c.reserve, 64 * MiB);
  EXPECT_EQ(c.min_reserve, 8 * MiB);
}

TEST(FitReserve, ASmallReserveSettingIsNotRefused) {
  vm_config c;
  c.reserve = 256 * MiB;  // below min_reserve (1 GiB)
  fit_reserve_to_limit(&c, SIZE_MAX);
  EXPECT_EQ(c.reserve, 256 * MiB);
  EXPECT_LE(c.min_reserve, c.reserve);
}

TEST(FitReserve, TinyLimitsStayPageMultiples) {
  vm_config c;
  fit_reserve_to_limit(&c, 10 * MiB);
  EXPECT_EQ(c.reserve, 10 * MiB / 8 / 4096 * 4096);
  EXPECT_EQ(c.min_reserve, c.reserve);  // no halving: it could leave pages
}

}  // namespace
}  // namespace uvm
