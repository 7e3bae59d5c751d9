#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "lb/balancer.h"

namespace graymesh::lb {
namespace {

std::vector<int> Picks(Balancer& b, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(b.Pick());
  return out;
}

std::vector<int> Counts(const std::vector<int>& picks, size_t from, size_t len, int hosts) {
  std::vector<int> counts(hosts);
  for (size_t i = from; i < from + len; ++i) ++counts.at(picks[i]);
  return counts;
}

TEST(RoundRobinTest, EqualWeightsGoInIndexOrder) {
  const std::vector<uint32_t> w = {7, 7, 7, 7};
  auto rr = MakeRoundRobin(w, 0);
  EXPECT_EQ(Picks(*rr, 9), (std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
}

TEST(RoundRobinTest, ExactShareOverManyPicks) {
  const std::vector<uint32_t> w = {1, 9};
  auto rr = MakeRoundRobin(w, 0);
  EXPECT_EQ(Counts(Picks(*rr, 1000), 0, 1000, 2), (std::vector<int>{100, 900}));
}

// The schedule is periodic, so every window of sum(w) picks, wherever it
// starts, holds each host exactly `weight` times.
TEST(RoundRobinTest, EveryWindowOfTotalWeightIsExact) {
  const std::vector<uint32_t> w = {3, 1, 5, 2};
  for (uint64_t seed : {0, 1, 2, 3, 17}) {
    auto rr = MakeRoundRobin(w, seed);
    const std::vector<int> picks = Picks(*rr, 11 * 6);
    for (size_t from = 0; from + 11 <= picks.size(); ++from) {
      ASSERT_EQ(Counts(picks, from, 11, 4), (std::vector<int>{3, 1, 5, 2}))
          << "seed " << seed << " window at " << from;
    }
  }
}

// Longest run of `host` in `picks`.
int LongestRun(const std::vector<int>& picks, int host) {
  int longest = 0;
  for (int i = 0, run = 0; i < static_cast<int>(picks.size()); ++i) {
    run = picks[i] == host ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

// Smooth like nginx's weighted round robin: the heavy host is spread out, not
// sent its whole share at once (a a a a a b c), and light hosts of one weight
// do not come due together.
TEST(RoundRobinTest, SpreadsTheHeavyHost) {
  const std::vector<uint32_t> w = {5, 1, 1};
  auto rr = MakeRoundRobin(w, 0);
  EXPECT_EQ(Picks(*rr, 7), (std::vector<int>{0, 1, 0, 0, 0, 2, 0}));
  // No run longer than needed: 5 picks around 2 others need a run of 3.
  EXPECT_EQ(LongestRun(Picks(*rr, 70), 0), 3);

  const std::vector<uint32_t> skewed = {100, 1, 1, 1};
  rr = MakeRoundRobin(skewed, 0);
  EXPECT_LE(LongestRun(Picks(*rr, 3 * 103), 0), 34);  // ceil(100 / 3)
}

// After any prefix of k picks every host is within one pick of its exact
// share k * w / sum(w), as with nginx. (Not a guarantee for arbitrary distinct
// weights, where two light hosts can come due together; see round_robin.cc.)
TEST(RoundRobinTest, EveryPrefixWithinOnePickOfTheShare) {
  const std::vector<std::vector<uint32_t>> cases = {{5, 1, 1},
                                                    {3, 2, 1},
                                                    {10, 1},
                                                    {4, 3, 2, 1},
                                                    {2, 3},
                                                    {7, 5, 3},
                                                    {100, 1, 1, 1},
                                                    {5, 1, 1, 2, 2},
                                                    {9, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                                                    {100, 100, 100, 5, 5}};
  for (const auto& w : cases) {
    auto rr = MakeRoundRobin(w, 0);
    int64_t total = 0;
    for (uint32_t x : w) total += x;
    std::vector<int64_t> counts(w.size());
    for (int64_t k = 1; k <= 3 * total; ++k) {
      ++counts[rr->Pick()];
      for (size_t i = 0; i < w.size(); ++i) {
        // |counts[i] - k * w[i] / total| < 1, in integers.
        ASSERT_LT(std::llabs(counts[i] * total - k * w[i]), total)
            << "case " << &w - cases.data() << " host " << i << " after " << k << " picks";
      }
    }
  }
}

TEST(RoundRobinTest, SeedRotatesTheStart) {
  const std::vector<uint32_t> equal = {1, 1, 1, 1, 1};
  for (uint64_t seed = 0; seed < 12; ++seed) {
    auto rr = MakeRoundRobin(equal, seed);
    EXPECT_EQ(rr->Pick(), static_cast<int>(seed % 5));
  }
  // Unequal weights: the same cycle, entered `seed % live hosts` picks in.
  const std::vector<uint32_t> w = {3, 0, 1, 2};
  auto base = MakeRoundRobin(w, 0);
  const std::vector<int> cycle = Picks(*base, 40);
  for (uint64_t seed = 1; seed < 7; ++seed) {
    auto rr = MakeRoundRobin(w, seed);
    const std::vector<int> picks = Picks(*rr, 30);
    const std::vector<int> expected(cycle.begin() + seed % 3, cycle.begin() + seed % 3 + 30);
    EXPECT_EQ(picks, expected) << "seed " << seed;
  }
}

TEST(RoundRobinTest, WeightZeroIsSkipped) {
  const std::vector<uint32_t> w = {2, 0, 1};
  auto rr = MakeRoundRobin(w, 5);
  EXPECT_EQ(Counts(Picks(*rr, 300), 0, 300, 3), (std::vector<int>{200, 0, 100}));
}

TEST(RoundRobinTest, NoLiveHostGivesMinusOne) {
  const std::vector<uint32_t> zero = {0, 0, 0};
  EXPECT_EQ(MakeRoundRobin(zero, 3)->Pick(), -1);
  EXPECT_EQ(MakeRoundRobin({}, 3)->Pick(), -1);
  auto rr = MakeRoundRobin(std::vector<uint32_t>{4}, 9);
  EXPECT_EQ(rr->Pick(), 0);
  EXPECT_EQ(rr->Pick(0), -1);
  rr->SetWeight(0, 0);
  EXPECT_EQ(rr->Pick(), -1);
  rr->SetWeight(0, 2);
  EXPECT_EQ(rr->Pick(), 0);
}

TEST(RoundRobinTest, SetWeightMidStream) {
  const std::vector<uint32_t> w = {1, 1};
  auto rr = MakeRoundRobin(w, 0);
  Picks(*rr, 5);
  rr->SetWeight(0, 3);
  EXPECT_EQ(rr->Weight(0), 3u);
  std::vector<int> picks = Picks(*rr, 400);
  for (size_t from = 0; from + 4 <= picks.size(); from += 4) {
    const std::vector<int> c = Counts(picks, from, 4, 2);
    ASSERT_LE(std::abs(c[0] - 3), 1) << "window at " << from;
  }
  EXPECT_LE(std::abs(Counts(picks, 0, 400, 2)[0] - 300), 1);

  rr->SetWeight(1, 0);
  EXPECT_EQ(Counts(Picks(*rr, 10), 0, 10, 2), (std::vector<int>{10, 0}));

  rr->SetWeight(1, 2);
  picks = Picks(*rr, 500);
  for (size_t from = 0; from + 5 <= picks.size(); ++from) {
    ASSERT_LE(std::abs(Counts(picks, from, 5, 2)[0] - 3), 1) << "window at " << from;
  }
  EXPECT_LE(std::abs(Counts(picks, 0, 500, 2)[0] - 300), 1);
}

TEST(RoundRobinTest, ExcludeSkipsOnlyThisPick) {
  const std::vector<uint32_t> w = {1, 1, 1};
  auto rr = MakeRoundRobin(w, 0);
  EXPECT_EQ(rr->Pick(), 0);
  EXPECT_EQ(rr->Pick(1), 2);  // 1 was due; the next best goes instead
  EXPECT_EQ(rr->Pick(), 1);   // and 1 keeps its place
  EXPECT_EQ(Picks(*rr, 6), (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

TEST(RoundRobinTest, ExcludeKeepsTheShares) {
  const std::vector<uint32_t> w = {5, 3, 2};
  auto rr = MakeRoundRobin(w, 4);
  std::vector<int> counts(3);
  int last = -1;
  for (int i = 0; i < 10000; ++i) {
    // Every third pick is a retry that avoids the host just used.
    const int host = rr->Pick(i % 3 == 0 ? last : -1);
    ASSERT_NE(host, -1);
    if (i % 3 == 0) {
      ASSERT_NE(host, last);
    }
    ++counts[host];
    last = host;
  }
  EXPECT_LE(std::abs(counts[0] - 5000), 2);
  EXPECT_LE(std::abs(counts[1] - 3000), 2);
  EXPECT_LE(std::abs(counts[2] - 2000), 2);
}

TEST(RoundRobinTest, OutOfRangeArgumentsAreIgnored) {
  const std::vector<uint32_t> w = {1, 1};
  auto rr = MakeRoundRobin(w, 0);
  rr->SetWeight(2, 5);
  rr->SetWeight(-1, 5);
  EXPECT_EQ(rr->Weight(2), 0u);
  EXPECT_EQ(rr->size(), 2);
  EXPECT_EQ(rr->Pick(7), 0);
  EXPECT_EQ(rr->Pick(-3), 1);
}

// Long enough to cross the internal rebase of deadlines (every 2^21
// half-periods: ~3.1M picks here); the cycle must not shift.
TEST(RoundRobinTest, LongRunStaysExact) {
  const std::vector<uint32_t> w = {1, 2};
  auto rr = MakeRoundRobin(w, 0);
  const std::vector<int> cycle = Picks(*rr, 3);
  for (int i = 0; i < 1500000; ++i) {
    for (int expected : cycle) ASSERT_EQ(rr->Pick(), expected) << "cycle " << i;
  }
  rr->SetWeight(0, 4);  // placement after a rebase uses the rebased clock
  EXPECT_EQ(Counts(Picks(*rr, 600), 0, 600, 2), (std::vector<int>{400, 200}));
}

}  // namespace
}  // namespace graymesh::lb
