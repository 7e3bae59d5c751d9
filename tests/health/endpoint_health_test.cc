// Outlier ejection, drain and suspect marks on simulated time.
#include "health/endpoint_health.h"

#include <gtest/gtest.h>

#include "health/clock.h"

namespace graymesh::health {
namespace {

constexpr AttemptResult kOk{.outcome = Outcome::kOk, .status = 200, .latency_ms = 5};
constexpr AttemptResult k500{.outcome = Outcome::kOk, .status = 500, .latency_ms = 5};
constexpr AttemptResult kRefused{.outcome = Outcome::kConnectFail};

struct Fixture {
  ManualClock clock;
  ServiceHealth svc{"payment"};
  std::vector<std::shared_ptr<EndpointHealth>> eps;
  std::vector<std::string> log;

  explicit Fixture(int n, std::optional<config::OutlierPolicy> outlier = config::OutlierPolicy{},
                   std::optional<config::WarmupPolicy> warmup = std::nullopt) {
    svc.SetPolicy({.enabled = true, .outlier = outlier, .warmup = warmup});
    svc.SetListener([this](const ServiceHealth&, const EndpointHealth& ep, std::string_view what,
                           std::string_view) { log.push_back(ep.address() + " " + std::string(what)); });
    for (int i = 0; i < n; ++i) {
      eps.push_back(svc.Join("10.0.0." + std::to_string(i + 1) + ":80", 0, clock.NowMs(), true));
    }
    svc.SetMembers(eps);
  }
  bool Record(int i, const AttemptResult& r) { return svc.Record(*eps[i], r, clock.NowMs()); }
  int64_t now() const { return clock.NowMs(); }
};

TEST(OutlierEjection, ConsecutiveErrorsEjectAtTheConfiguredCount) {
  Fixture f(3);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(f.Record(0, k500)) << i;
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
  EXPECT_TRUE(f.Record(0, k500));  // the 5th
  EXPECT_TRUE(f.eps[0]->ejected(f.now()));
  EXPECT_EQ(f.svc.StateOf(*f.eps[0], f.now()), State::kEjected);
  EXPECT_EQ(f.svc.EffectiveWeight(*f.eps[0], 100, f.now(), true), 0u);
  EXPECT_EQ(f.log, std::vector<std::string>{"10.0.0.1:80 ejected"});
}

TEST(OutlierEjection, ASuccessResetsTheConsecutiveCount) {
  Fixture f(3);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) f.Record(0, k500);
    f.Record(0, kOk);
  }
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
}

TEST(OutlierEjection, NetworkOnlyStatusListIgnores5xx) {
  config::OutlierPolicy o;
  o.error_statuses = std::vector<uint16_t>{};
  Fixture f(3, o);
  for (int i = 0; i < 10; ++i) f.Record(0, k500);
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
  for (int i = 0; i < 5; ++i) f.Record(0, kRefused);
  EXPECT_TRUE(f.eps[0]->ejected(f.now()));
}

TEST(OutlierEjection, ErrorRateOverTheWindowWithMinimumRequests) {
  config::OutlierPolicy o;
  o.consecutive_errors = 0;  // the rate alone
  Fixture f(3, o);
  // 19 requests, all failing: under minRequests (20), nothing happens.
  for (int i = 0; i < 19; ++i) f.Record(0, i % 2 ? k500 : kOk);
  f.svc.Evaluate(f.now());
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
  // The 20th: 10 of 20 failed = 50%.
  f.Record(0, k500);
  EXPECT_TRUE(f.svc.Evaluate(f.now()));
  EXPECT_TRUE(f.eps[0]->ejected(f.now()));
}

TEST(OutlierEjection, TheWindowSlides) {
  config::OutlierPolicy o;
  o.consecutive_errors = 0;
  Fixture f(3, o);
  for (int i = 0; i < 15; ++i) f.Record(0, k500);
  f.clock.Advance(11'000);  // those 15 are out of the 10 s window
  for (int i = 0; i < 15; ++i) f.Record(0, kOk);
  for (int i = 0; i < 5; ++i) f.Record(0, k500);
  f.svc.Evaluate(f.now());
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));  // 5 of 20 = 25%
}

TEST(OutlierEjection, SlowCallsEjectWhenConfigured) {
  config::OutlierPolicy o;
  o.consecutive_errors = 0;
  o.error_rate_percent = 0;
  o.slow_call_threshold = config::Millis(200);
  o.slow_call_percent = 50;
  Fixture f(3, o);
  for (int i = 0; i < 20; ++i) {
    f.Record(0, {.outcome = Outcome::kOk, .status = 200, .latency_ms = i % 2 ? 300 : 10});
  }
  f.svc.Evaluate(f.now());
  EXPECT_TRUE(f.eps[0]->ejected(f.now()));
}

TEST(OutlierEjection, EjectionTimeGrowsWithEachEjectionUpToTheCap) {
  config::OutlierPolicy o;
  o.base_ejection = config::Millis(30'000);
  o.max_ejection = config::Millis(70'000);
  Fixture f(3, o);
  const int64_t expected[] = {30'000, 60'000, 70'000, 70'000};
  for (int64_t want : expected) {
    for (int i = 0; i < 5; ++i) f.Record(0, k500);
    ASSERT_TRUE(f.eps[0]->ejected(f.now()));
    f.clock.Advance(want - 1);
    f.svc.Evaluate(f.now());
    EXPECT_TRUE(f.eps[0]->ejected(f.now())) << want;
    f.clock.Advance(1);
    f.svc.Evaluate(f.now());
    EXPECT_FALSE(f.eps[0]->ejected(f.now())) << want;
  }
  EXPECT_EQ(f.eps[0]->ejections(), 4u);
}

TEST(OutlierEjection, ProbationEjectsAgainOnTheFirstFailure) {
  Fixture f(3);
  for (int i = 0; i < 5; ++i) f.Record(0, k500);
  f.clock.Advance(30'000);
  f.svc.Evaluate(f.now());
  ASSERT_FALSE(f.eps[0]->ejected(f.now()));
  EXPECT_TRUE(f.Record(0, k500));  // one failure, not five
  EXPECT_TRUE(f.eps[0]->ejected(f.now()));
  // A success on probation ends it: the count starts over.
  f.clock.Advance(60'000);
  f.svc.Evaluate(f.now());
  f.Record(0, kOk);
  f.Record(0, k500);
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
}

TEST(OutlierEjection, MaxEjectionPercentCapsAndKeepsAtLeastOne) {
  config::OutlierPolicy o;
  o.max_ejection_percent = 50;
  Fixture f(4, o);
  for (int e = 0; e < 4; ++e) {
    for (int i = 0; i < 5; ++i) f.Record(e, k500);
  }
  int ejected = 0;
  for (auto& ep : f.eps) ejected += ep->ejected(f.now());
  EXPECT_EQ(ejected, 2);  // half of 4
  // 2 endpoints, 20%: still one may go.
  o.max_ejection_percent = 20;
  Fixture two(2, o);
  for (int e = 0; e < 2; ++e) {
    for (int i = 0; i < 5; ++i) two.Record(e, k500);
  }
  EXPECT_TRUE(two.eps[0]->ejected(two.now()));
  EXPECT_FALSE(two.eps[1]->ejected(two.now()));
  // The only endpoint is never ejected.
  Fixture one(1, o);
  for (int i = 0; i < 50; ++i) one.Record(0, k500);
  EXPECT_FALSE(one.eps[0]->ejected(one.now()));
}

TEST(OutlierEjection, TurnedOffNothingIsEjected) {
  Fixture f(3);
  f.svc.SetPolicy({.enabled = false, .outlier = config::OutlierPolicy{}});
  for (int i = 0; i < 50; ++i) f.Record(0, kRefused);
  EXPECT_FALSE(f.eps[0]->ejected(f.now()));
  EXPECT_FALSE(f.eps[0]->suspect(f.now()));
  EXPECT_EQ(f.svc.EffectiveWeight(*f.eps[0], 100, f.now(), true), 100u);
}

TEST(Suspect, ANetworkFailureSetsTheEndpointAsideAtOnceForAShortWhile) {
  Fixture f(3, std::nullopt);  // no outlier policy: no ejection, but suspect
  EXPECT_TRUE(f.Record(0, kRefused));
  EXPECT_TRUE(f.eps[0]->suspect(f.now()));
  EXPECT_EQ(f.svc.EffectiveWeight(*f.eps[0], 100, f.now(), true), 0u);
  f.clock.Advance(1000);
  EXPECT_TRUE(f.svc.Evaluate(f.now()));
  EXPECT_FALSE(f.eps[0]->suspect(f.now()));
  EXPECT_EQ(f.svc.EffectiveWeight(*f.eps[0], 100, f.now(), true), 100u);
  // A 5xx is an answer: not suspect.
  EXPECT_FALSE(f.Record(1, k500));
  EXPECT_FALSE(f.eps[1]->suspect(f.now()));
}

TEST(Draining, TheMarkTakesTheEndpointOutAtOnceUntilItIsReadyAgain) {
  Fixture f(3, std::nullopt);
  EXPECT_TRUE(f.Record(0, {.outcome = Outcome::kOk, .status = 200, .draining = true}));
  EXPECT_EQ(f.svc.StateOf(*f.eps[0], f.now()), State::kDraining);
  EXPECT_EQ(f.svc.EffectiveWeight(*f.eps[0], 100, f.now(), true), 0u);
  // The registry reports the instance at that address ready again (restarted).
  f.svc.Join(f.eps[0]->address(), f.now() + 1, f.now(), false);
  EXPECT_EQ(f.svc.StateOf(*f.eps[0], f.now()), State::kHealthy);
}

TEST(HealthState, AnEndpointThatStaysKeepsItsStateAcrossSnapshots) {
  Fixture f(3);
  for (int i = 0; i < 5; ++i) f.Record(1, k500);
  // The next snapshot: the same address again, one new one, one gone.
  auto again = f.svc.Join("10.0.0.2:80", 0, f.now(), false);
  auto fresh = f.svc.Join("10.0.0.9:80", 0, f.now(), false);
  EXPECT_EQ(again.get(), f.eps[1].get());
  EXPECT_TRUE(again->ejected(f.now()));
  EXPECT_FALSE(fresh->ejected(f.now()));
}

}  // namespace
}  // namespace graymesh::health
