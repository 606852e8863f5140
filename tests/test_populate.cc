// PopulatePolicy: sampling cadence, learning per size class, the dense and
// sparse verdicts; and pal::count_present, which the samples rely on.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

#include "pal.h"
#include "populate.h"

namespace uvm {
namespace {

constexpr size_t P = pal::kPageSize;
constexpr size_t MiB = size_t{1} << 20;

TEST(PopulatePolicy, SmallAreasAreAlwaysPrefaultedAndNeverSampled) {
  PopulatePolicy p;
  for (int i = 0; i < 100; ++i) {
    bool sample = true;
    EXPECT_TRUE(p.decide(PopulatePolicy::kMinBytes - P, &sample));
    EXPECT_FALSE(sample);
  }
}

TEST(PopulatePolicy, SamplesTheFirstAreaOfAClassThenOneInKSampleEvery) {
  PopulatePolicy p;
  unsigned samples = 0;
  for (unsigned i = 0; i < 4 * PopulatePolicy::kSampleEvery; ++i) {
    bool sample = false;
    bool prefault = p.decide(MiB, &sample);
    if (i == 0) {
      EXPECT_TRUE(sample);
    }
    EXPECT_NE(prefault, sample);  // a sampled area is never prefaulted
    samples += sample;
  }
  EXPECT_EQ(samples, 4u);
  // Another class keeps its own count.
  bool sample = false;
  p.decide(8 * MiB, &sample);
  EXPECT_TRUE(sample);
}

TEST(PopulatePolicy, LearnsPerSizeClass) {
  PopulatePolicy p;
  EXPECT_EQ(p.density(MiB), 100u);  // prefault until told otherwise
  EXPECT_FALSE(p.sparse(MiB));
  p.learn(MiB, 2, 256);  // the first sample replaces the guess
  EXPECT_EQ(p.density(MiB), 0u);
  EXPECT_TRUE(p.sparse(MiB));
  EXPECT_TRUE(p.sparse(MiB + 5 * P));  // same power-of-two class
  EXPECT_FALSE(p.sparse(4 * MiB));     // another class
  bool sample;
  for (unsigned i = 1; i < PopulatePolicy::kSampleEvery; ++i) {
    p.decide(MiB, &sample);
  }
  EXPECT_FALSE(p.decide(MiB + P, &sample));  // sparse: no prefault
  EXPECT_FALSE(sample);
  // Dense samples bring it back, with half the weight each.
  p.learn(MiB, 256, 256);
  EXPECT_EQ(p.density(MiB), 50u);
  EXPECT_FALSE(p.sparse(MiB));
  p.learn(MiB, 0, 0);  // nothing looked at: nothing learned
  EXPECT_EQ(p.density(MiB), 50u);
}

TEST(PopulatePolicy, SettledClassesAreSampledLessOften) {
  PopulatePolicy p;
  bool sample;
  p.decide(MiB, &sample);
  p.learn(MiB, 256, 256);
  p.learn(MiB, 256, 256);  // two samples, both dense
  unsigned samples = 0;
  for (unsigned i = 0; i < 8 * PopulatePolicy::kSampleEvery; ++i) {
    p.decide(MiB, &sample);
    samples += sample;
  }
  EXPECT_EQ(samples, 1u);
}

TEST(CountPresent, CountsTheFaultedPagesOfAMapping) {
  const size_t pages = 1024;
  auto* m = static_cast<char*>(
      mmap(nullptr, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(m, MAP_FAILED);
  size_t examined = 0;
  EXPECT_EQ(pal::count_present(m, pages * P, pages, &examined), 0);
  EXPECT_EQ(examined, pages);
  for (size_t i = 0; i < pages; i += 4) m[i * P] = 1;
  EXPECT_EQ(pal::count_present(m, pages * P, pages, &examined), static_cast<long>(pages / 4));
  // A bound looks at evenly spread chunks only.
  long seen = pal::count_present(m, pages * P, 256, &examined);
  EXPECT_EQ(examined, 256u);
  EXPECT_EQ(seen, 64);
  munmap(m, pages * P);
}

}  // namespace
}  // namespace uvm
