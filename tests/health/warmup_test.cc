// Slow start on simulated time: Envoy's curve, and when it does not apply.
#include "health/warmup.h"

#include <gtest/gtest.h>

#include <cmath>

#include "health/clock.h"
#include "health/endpoint_health.h"

namespace graymesh::health {
namespace {

TEST(Warmup, FollowsEnvoysFormula) {
  config::WarmupPolicy p;  // 120 s, aggression 1, 10%
  const int64_t t0 = 1'000'000;
  EXPECT_DOUBLE_EQ(WarmupFactor(p, t0, t0), 0.10);           // min weight
  EXPECT_DOUBLE_EQ(WarmupFactor(p, t0, t0 + 6'000), 0.10);   // 5% of the window: still the floor
  EXPECT_DOUBLE_EQ(WarmupFactor(p, t0, t0 + 30'000), 0.25);
  EXPECT_DOUBLE_EQ(WarmupFactor(p, t0, t0 + 60'000), 0.50);
  EXPECT_DOUBLE_EQ(WarmupFactor(p, t0, t0 + 120'000), 1.0);
  p.aggression = 2.0;  // (t/window)^(1/2): faster at first
  EXPECT_NEAR(WarmupFactor(p, t0, t0 + 30'000), std::sqrt(0.25), 1e-12);
  EXPECT_DOUBLE_EQ(WarmupFactor(p, 0, t0), 1.0);  // no start known: full weight
  EXPECT_EQ(WarmWeight(100, 0.25), 25u);
  EXPECT_EQ(WarmWeight(3, 0.10), 1u);  // never 0 while warming
}

TEST(Warmup, RegistryReadySinceStartsTheRampAndAStaticEndpointItsFirstSuccess) {
  ManualClock clock;
  ServiceHealth svc("payment");
  svc.SetPolicy({.enabled = true, .outlier = std::nullopt, .warmup = config::WarmupPolicy{}});
  auto old = svc.Join("10.0.0.1:80", clock.NowMs() - 600'000, clock.NowMs(), false);
  auto fresh = svc.Join("10.0.0.2:80", clock.NowMs(), clock.NowMs(), false);
  auto added = svc.Join("10.0.0.3:80", 0, clock.NowMs(), false);  // static, added by a reload
  svc.SetMembers({old, fresh, added});
  EXPECT_EQ(svc.StateOf(*old, clock.NowMs()), State::kHealthy);
  EXPECT_EQ(svc.StateOf(*fresh, clock.NowMs()), State::kWarming);
  EXPECT_EQ(svc.EffectiveWeight(*fresh, 100, clock.NowMs(), true), 10u);
  clock.Advance(60'000);
  EXPECT_EQ(svc.EffectiveWeight(*fresh, 100, clock.NowMs(), true), 50u);
  // The static one sits at the floor until it first succeeds, then ramps.
  EXPECT_EQ(svc.EffectiveWeight(*added, 100, clock.NowMs(), true), 10u);
  svc.Record(*added, {.outcome = Outcome::kOk, .status = 200}, clock.NowMs());
  clock.Advance(30'000);
  EXPECT_EQ(svc.EffectiveWeight(*added, 100, clock.NowMs(), true), 25u);
  // No ramp asked (every endpoint of the subset is new): full weight.
  EXPECT_EQ(svc.EffectiveWeight(*added, 100, clock.NowMs(), false), 100u);
}

TEST(Warmup, StaticEndpointsAtStartDoNotWarm) {
  ManualClock clock;
  ServiceHealth svc("payment");
  svc.SetPolicy({.enabled = true, .outlier = std::nullopt, .warmup = config::WarmupPolicy{}});
  auto ep = svc.Join("10.0.0.1:80", 0, clock.NowMs(), /*at_start=*/true);
  EXPECT_EQ(svc.StateOf(*ep, clock.NowMs()), State::kHealthy);
}

TEST(Warmup, AnEjectedEndpointReturnsThroughWarmup) {
  ManualClock clock;
  ServiceHealth svc("payment");
  svc.SetPolicy({.enabled = true, .outlier = config::OutlierPolicy{},
                 .warmup = config::WarmupPolicy{}});
  std::vector<std::shared_ptr<EndpointHealth>> eps;
  for (int i = 0; i < 3; ++i) {
    eps.push_back(svc.Join("10.0.0." + std::to_string(i) + ":80", 0, clock.NowMs(), true));
  }
  svc.SetMembers(eps);
  for (int i = 0; i < 5; ++i) {
    svc.Record(*eps[0], {.outcome = Outcome::kConnectFail}, clock.NowMs());
  }
  ASSERT_TRUE(eps[0]->ejected(clock.NowMs()));
  clock.Advance(30'000);
  svc.Evaluate(clock.NowMs());
  EXPECT_EQ(svc.StateOf(*eps[0], clock.NowMs()), State::kWarming);
  EXPECT_EQ(svc.EffectiveWeight(*eps[0], 100, clock.NowMs(), true), 10u);
  clock.Advance(120'000);
  EXPECT_EQ(svc.StateOf(*eps[0], clock.NowMs()), State::kHealthy);
}

}  // namespace
}  // namespace graymesh::health
