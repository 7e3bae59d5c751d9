// A new endpoint's share of the picks follows the warmup curve, on simulated
// time through the real balancer and service state: the point of warmup is
// what the balancer does with the weights, not the weights alone.
#include <gtest/gtest.h>

#include <memory>

#include "config/config.h"
#include "health/clock.h"
#include "health/endpoint_health.h"
#include "proxy/snapshot.h"
#include "proxy/upstream.h"

namespace graymesh::proxy {
namespace {

std::shared_ptr<const Snapshot> ThreeEndpoints(int64_t ready_since_new, int64_t ready_since_old,
                                               bool warmup) {
  auto cfg = std::make_shared<config::Config>();
  config::Service s;
  s.name = "payment";
  for (int i = 0; i < 3; ++i) {
    config::Endpoint e;
    e.address = {"127.0.0.1", uint16_t(9001 + i)};
    e.ready_since_ms = i == 2 ? ready_since_new : ready_since_old;
    s.endpoints.push_back(e);
  }
  if (warmup) s.warmup = config::WarmupPolicy{};  // 120 s, aggression 1, 10%
  cfg->services.push_back(s);
  return Snapshot::Compile(cfg, 1);
}

// The share of `n` base picks that land on host 2.
double ShareOfNew(ServiceState& svc, int n) {
  int hits = 0;
  for (int i = 0; i < n; ++i) hits += svc.Pick("", false, -1).host == 2;
  return double(hits) / n;
}

TEST(WarmupShare, ANewInstanceGetsItsShareAlongTheCurve) {
  health::ManualClock clock;
  const int64_t t0 = clock.NowMs();
  auto snap = ThreeEndpoints(t0, t0 - 3'600'000, true);
  health::HealthTable table;
  auto sh = table.Service("payment");
  sh->SetPolicy(health::PolicyFor(snap->config(), "payment"));
  ServiceState svc(snap, snap->services()[0], 1, sh, clock.NowMs(), false);
  // Envoy's formula: w_new = 100 * max(0.1, t / 120 s) against two at 100.
  auto expected = [](double f) { return 100 * f / (200 + 100 * f); };
  struct Point {
    int64_t t_ms;
    double factor;
  } points[] = {{30'000, 0.25}, {60'000, 0.50}, {120'000, 1.0}};
  for (const Point& p : points) {
    clock.Set(t0 + p.t_ms);
    svc.RefreshWeights(clock.NowMs());
    const double share = ShareOfNew(svc, 3000);
    EXPECT_NEAR(share * 100, expected(p.factor) * 100, 5.0) << "at " << p.t_ms << " ms";
  }
}

TEST(WarmupShare, NoRampWhenEveryInstanceIsNew) {
  health::ManualClock clock;
  const int64_t t0 = clock.NowMs();
  auto snap = ThreeEndpoints(t0, t0, true);  // all three just became ready
  health::HealthTable table;
  auto sh = table.Service("payment");
  sh->SetPolicy(health::PolicyFor(snap->config(), "payment"));
  ServiceState svc(snap, snap->services()[0], 1, sh, clock.NowMs(), false);
  clock.Advance(1000);
  svc.RefreshWeights(clock.NowMs());
  EXPECT_NEAR(ShareOfNew(svc, 3000), 1.0 / 3, 0.02);
}

TEST(WarmupShare, WithoutAWarmupPolicyANewInstanceGetsItsFullShareAtOnce) {
  health::ManualClock clock;
  const int64_t t0 = clock.NowMs();
  auto snap = ThreeEndpoints(t0, t0 - 3'600'000, false);
  health::HealthTable table;
  auto sh = table.Service("payment");
  sh->SetPolicy(health::PolicyFor(snap->config(), "payment"));
  ServiceState svc(snap, snap->services()[0], 1, sh, clock.NowMs(), false);
  svc.RefreshWeights(clock.NowMs());
  EXPECT_NEAR(ShareOfNew(svc, 3000), 1.0 / 3, 0.02);
}

}  // namespace
}  // namespace graymesh::proxy
