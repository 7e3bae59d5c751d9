// EndpointChooser over a real ServiceState and balancer, on simulated time:
// the retry avoids the endpoint that failed, a lane whose endpoints are all
// out falls back to base at once (or is refused with fallback: none), and an
// endpoint that is only suspect still serves when nothing else is left.
#include "proxy/chooser.h"

#include <gtest/gtest.h>

#include "health/clock.h"

namespace graymesh::proxy {
namespace {

constexpr health::AttemptResult kRefused{.outcome = health::Outcome::kConnectFail};
constexpr health::AttemptResult k500{.outcome = health::Outcome::kOk, .status = 500};

struct Fixture {
  health::ManualClock clock;
  std::shared_ptr<const Snapshot> snap;
  health::HealthTable table;
  std::unique_ptr<ServiceState> svc;
  WorkerStats stats;

  // Endpoints 9001.. with the given lanes ("" = base).
  Fixture(std::vector<std::string> lanes, bool health = true, uint32_t consecutive = 2) {
    auto cfg = std::make_shared<config::Config>();
    cfg->upstream.health = health;
    config::Service s;
    s.name = "payment";
    s.outlier = config::OutlierPolicy{};
    s.outlier->consecutive_errors = consecutive;
    s.outlier->max_ejection_percent = 100;
    for (size_t i = 0; i < lanes.size(); ++i) {
      config::Endpoint e;
      e.address = {"127.0.0.1", uint16_t(9001 + i)};
      e.lane = lanes[i];
      if (!e.lane.empty()) e.labels["lane"] = e.lane;
      s.endpoints.push_back(e);
    }
    cfg->services.push_back(s);
    snap = Snapshot::Compile(cfg, 1);
    auto sh = table.Service("payment");
    sh->SetPolicy(health::PolicyFor(snap->config(), "payment"));
    svc = std::make_unique<ServiceState>(snap, snap->services()[0], 1, sh, clock.NowMs(), true);
    svc->RefreshWeights(clock.NowMs());
  }
  // One attempt on `c` with result `r`.
  void Attempt(const Choice& c, const health::AttemptResult& r) {
    svc->OnStart(c);
    svc->Report(c, r, clock.NowMs(), stats);
  }
};

TEST(Chooser, TheRetryNeverTakesTheEndpointThatJustFailed) {
  Fixture f({"", "", ""}, true, /*consecutive=*/0);  // no ejection: suspect marks only
  for (int i = 0; i < 30; ++i) {
    EndpointChooser ch(*f.svc, "", false);
    Choice first = ch.Next(f.clock.NowMs());
    f.Attempt(first, kRefused);
    ch.Failed(first);
    Choice retry = ch.Next(f.clock.NowMs());
    ASSERT_GE(retry.host, 0);
    EXPECT_NE(retry.host, first.host);
    f.Attempt(retry, {.outcome = health::Outcome::kOk, .status = 200});
    f.clock.Advance(2000);  // suspect marks expire
    f.svc->health()->Evaluate(f.clock.NowMs());
    f.svc->RefreshWeights(f.clock.NowMs());
  }
}

TEST(Chooser, ADeadLaneEndpointSendsTheRetryToBaseAtOnce) {
  Fixture f({"", "gray"});
  EndpointChooser ch(*f.svc, "gray", true);
  Choice first = ch.Next(f.clock.NowMs());
  ASSERT_EQ(first.host, 1);
  f.Attempt(first, kRefused);
  ch.Failed(first);
  EXPECT_EQ(ch.Next(f.clock.NowMs()).host, 0);
  // And new gray requests go to base while it is suspect.
  EndpointChooser next(*f.svc, "gray", true);
  EXPECT_EQ(next.Next(f.clock.NowMs()).host, 0);
}

TEST(Chooser, WithHealthOffTheRetryPicksTheDeadLaneEndpointAgain) {
  Fixture f({"", "gray"}, /*health=*/false);
  EndpointChooser ch(*f.svc, "gray", true);
  Choice first = ch.Next(f.clock.NowMs());
  f.Attempt(first, kRefused);
  ch.Failed(first);
  EXPECT_EQ(ch.Next(f.clock.NowMs()).host, 1);
}

TEST(Chooser, AnEjectedLaneWithFallbackNoneIsRefusedWithTheReason) {
  Fixture f({"", "gray"});
  for (int i = 0; i < 2; ++i) {
    EndpointChooser ch(*f.svc, "gray", false);
    f.Attempt(ch.Next(f.clock.NowMs()), k500);
  }
  EndpointChooser ch(*f.svc, "gray", false);
  EXPECT_LT(ch.Next(f.clock.NowMs()).host, 0);
  EXPECT_EQ(ch.Refusal(f.clock.NowMs()),
            "every instance of service 'payment' in lane 'gray' is ejected or draining "
            "(fallback: none)");
}

TEST(Chooser, ASuspectEndpointStillServesWhenNothingElseIsLeft) {
  Fixture f({"", ""});
  EndpointChooser a(*f.svc, "", false), b(*f.svc, "", false);
  Choice ca = a.Next(f.clock.NowMs());
  f.Attempt(ca, kRefused);
  Choice cb = b.Next(f.clock.NowMs());
  EXPECT_NE(cb.host, ca.host);
  f.Attempt(cb, kRefused);
  // Both suspect (not ejected: one error each): a request still gets one.
  EndpointChooser c(*f.svc, "", false);
  EXPECT_GE(c.Next(f.clock.NowMs()).host, 0);
}

TEST(Chooser, ADrainingMarkTakesTheEndpointOutAtOnce) {
  Fixture f({"", ""});
  EndpointChooser a(*f.svc, "", false);
  Choice ca = a.Next(f.clock.NowMs());
  f.Attempt(ca, {.outcome = health::Outcome::kOk, .status = 200, .draining = true});
  for (int i = 0; i < 10; ++i) {
    EndpointChooser ch(*f.svc, "", false);
    Choice c = ch.Next(f.clock.NowMs());
    EXPECT_NE(c.host, ca.host);
    f.Attempt(c, {.outcome = health::Outcome::kOk, .status = 200});
  }
  EXPECT_EQ(f.svc->Status(ca.host, f.clock.NowMs()).state, health::State::kDraining);
  EXPECT_EQ(f.svc->Status(ca.host, f.clock.NowMs()).weight, 0u);
}

}  // namespace
}  // namespace graymesh::proxy
