#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lb/balancer.h"

namespace graymesh::lb {
namespace {

// Picks `n` times with every host idle; returns the count per host.
std::vector<int> IdleCounts(Balancer& b, int n, int exclude = -1) {
  std::vector<int> counts(b.size());
  for (int i = 0; i < n; ++i) {
    const int host = b.Pick(exclude);
    EXPECT_GE(host, 0);
    if (host < 0) break;
    ++counts[host];
  }
  return counts;
}

// Checks counts against weights: each share within 3% of the total picks
// relative to its expectation, and a chi-square far below anything a
// correct sampler would reach (the seed is fixed, so this never flakes).
void ExpectProportional(const std::vector<int>& counts, const std::vector<uint32_t>& w) {
  double total_w = 0;
  int n = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    total_w += w[i];
    n += counts[i];
  }
  double chi2 = 0;
  int df = -1;
  for (size_t i = 0; i < w.size(); ++i) {
    const double expected = n * w[i] / total_w;
    if (expected == 0) {
      EXPECT_EQ(counts[i], 0) << "host " << i;
      continue;
    }
    EXPECT_NEAR(counts[i], expected, 0.03 * expected) << "host " << i;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    ++df;
  }
  EXPECT_LT(chi2, 5.0 * std::max(df, 1) + 10) << "chi-square over " << df << " df";
}

TEST(LeastRequestTest, SingleHost) {
  auto lr = MakeLeastRequest(std::vector<uint32_t>{3}, 1);
  lr->OnStart(0);
  EXPECT_EQ(lr->Pick(), 0);
  EXPECT_EQ(lr->Pick(0), -1);
}

TEST(LeastRequestTest, NoLiveHostGivesMinusOne) {
  EXPECT_EQ(MakeLeastRequest(std::vector<uint32_t>{0, 0}, 1)->Pick(), -1);
  EXPECT_EQ(MakeLeastRequest({}, 1)->Pick(), -1);
  auto lr = MakeLeastRequest(std::vector<uint32_t>{0, 5, 0}, 1);
  EXPECT_EQ(lr->Pick(), 1);
  EXPECT_EQ(lr->Pick(1), -1);  // the only live host is excluded
  EXPECT_EQ(lr->Pick(0), 1);   // excluding a weight-0 host changes nothing
}

TEST(LeastRequestTest, PrefersTheIdleHost) {
  auto lr = MakeLeastRequest(std::vector<uint32_t>{1, 1}, 7);
  for (int i = 0; i < 10; ++i) lr->OnStart(0);
  // Candidates are distinct, so with two hosts both are always compared.
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(lr->Pick(), 1);

  // With more hosts the loaded one loses every comparison it is drawn into.
  const std::vector<uint32_t> w(10, 1);
  lr = MakeLeastRequest(w, 7);
  for (int i = 0; i < 10; ++i) lr->OnStart(0);
  const std::vector<int> counts = IdleCounts(*lr, 9000);
  EXPECT_EQ(counts[0], 0);
  for (int i = 1; i < 10; ++i) EXPECT_NEAR(counts[i], 1000, 150) << "host " << i;
}

TEST(LeastRequestTest, PrefersFewerActiveEvenWhenLight) {
  auto lr = MakeLeastRequest(std::vector<uint32_t>{9, 1}, 3);
  lr->OnStart(0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(lr->Pick(), 1);
  lr->OnFinish(0);
  const std::vector<int> counts = IdleCounts(*lr, 10000);
  EXPECT_NEAR(counts[0], 9000, 300);
}

TEST(LeastRequestTest, IdleDistributionFollowsWeights) {
  for (const std::vector<uint32_t>& w : std::vector<std::vector<uint32_t>>{
           {1, 9}, {1, 2, 3, 4}, {5, 0, 5, 10}, {100, 1, 1, 1, 1, 1}}) {
    auto lr = MakeLeastRequest(w, 42);
    ExpectProportional(IdleCounts(*lr, 400000), w);
  }
}

TEST(LeastRequestTest, ExcludeIsNeverPickedAndTheRestStayProportional) {
  const std::vector<uint32_t> w = {1, 2, 3, 4};
  auto lr = MakeLeastRequest(w, 9);
  const std::vector<int> counts = IdleCounts(*lr, 300000, 3);
  EXPECT_EQ(counts[3], 0);
  ExpectProportional(counts, {1, 2, 3, 0});

  // Excluding the heavy host must not spin, and the others still compete on load.
  auto skewed = MakeLeastRequest(std::vector<uint32_t>{1000000, 1, 1}, 9);
  skewed->OnStart(1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(skewed->Pick(0), 2);
}

TEST(LeastRequestTest, ActiveCountNeverGoesNegative) {
  auto lr = MakeLeastRequest(std::vector<uint32_t>{1, 1}, 5);
  lr->OnFinish(0);  // unmatched: must stay at 0, not wrap around
  lr->OnStart(1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(lr->Pick(), 0);
  lr->OnFinish(1);
  lr->OnFinish(1);
  lr->OnStart(0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(lr->Pick(), 1);
  lr->OnStart(-1);  // out of range: ignored
  lr->OnFinish(2);
}

TEST(LeastRequestTest, SetWeight) {
  const std::vector<uint32_t> w = {1, 1, 1};
  auto lr = MakeLeastRequest(w, 11);
  lr->SetWeight(1, 0);
  EXPECT_EQ(lr->Weight(1), 0u);
  EXPECT_EQ(IdleCounts(*lr, 1000)[1], 0);
  lr->SetWeight(1, 8);
  ExpectProportional(IdleCounts(*lr, 200000), {1, 8, 1});
  lr->SetWeight(0, 0);
  lr->SetWeight(2, 0);
  EXPECT_EQ(lr->Pick(), 1);
  lr->SetWeight(1, 0);
  EXPECT_EQ(lr->Pick(), -1);
  lr->SetWeight(5, 1);  // out of range: ignored
  EXPECT_EQ(lr->size(), 3);
}

}  // namespace
}  // namespace graymesh::lb
