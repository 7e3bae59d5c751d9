// Outlier ejection through a real gateway to real sample apps: a failing
// instance is ejected after the configured count, the cap holds, a lane
// whose instances all fail falls back to base, and an ejected instance comes
// back through warmup. Each protection is also shown off (upstream.health: false).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

struct Ep {
  uint16_t port;
  std::string lane;
};

std::string Services(const std::vector<Ep>& eps, const std::string& service_extra,
                     const std::string& extra = "") {
  std::string y = "routes:\n  - { pathPrefix: /, service: s }\n"
                  "lanes:\n  - { name: gray, tag: gray, fallback: base, entrance: { match: [ { "
                  "headers: { x-env: { exact: gray } } } ] } }\n"
                  "services:\n  - name: s\n" + service_extra + "    endpoints:\n";
  for (const Ep& e : eps) {
    y += "      - address: 127.0.0.1:" + std::to_string(e.port) + "\n";
    if (!e.lane.empty()) y += "        labels: { lane: " + e.lane + " }\n";
  }
  return y + extra;
}

std::string EndpointMetric(const std::string& name, uint16_t port) {
  // graymesh_endpoint_weight also carries the endpoint's lane.
  return "endpoint_" + name + "{service=\"s\",address=\"127.0.0.1:" + std::to_string(port) +
         (name == "weight" ? "\",lane=\"\"}" : "\"}");
}

int Count(uint16_t gw, const std::string& method, int n, int status,
          const HeaderList& headers = {}) {
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    Response r = HttpRequest(gw, method, "/x", method == "POST" ? "data" : "", headers);
    hits += r.status == status;
  }
  return hits;
}

// /metrics and /config show what the worker's ticker last published.
void WaitForTick() { std::this_thread::sleep_for(250ms); }

const std::string kOutlier = "    outlier: { consecutiveErrors: 3, maxEjectionPercent: 50 }\n";

TEST(Outlier, FailingInstanceIsEjectedWithinTheConfiguredCount) {
  SampleApp a = SampleApp::Start("s"), b = SampleApp::Start("s");
  SampleApp bad = SampleApp::Start("s", "", {"--fail-rate", "1"});
  Gateway gw = Gateway::Start(Services({{a.port, ""}, {b.port, ""}, {bad.port, ""}}, kOutlier));
  // Round robin: the bad instance gets every third request until its third
  // failure ejects it; nothing fails after that, GET or POST.
  EXPECT_EQ(Count(gw.port, "GET", 30, 500), 3);
  EXPECT_EQ(Count(gw.port, "GET", 60, 200), 60);
  EXPECT_EQ(Count(gw.port, "POST", 60, 200), 60);
  WaitForTick();
  EXPECT_EQ(gw.Metric(EndpointMetric("ejected", bad.port)), 1u);
  EXPECT_EQ(gw.Metric(EndpointMetric("weight", bad.port)), 0u);
  EXPECT_EQ(gw.Metric(EndpointMetric("ejections_total", bad.port)), 1u);
  EXPECT_EQ(gw.Metric(EndpointMetric("ejected", a.port)), 0u);
  EXPECT_EQ(gw.Metric("upstream_ejections"), 1u);
  auto cfg = nlohmann::json::parse(HttpGet(gw.admin, "/config").body);
  bool shown = false;
  for (const auto& e : cfg["endpointHealth"]) {
    if (e["address"] == "127.0.0.1:" + std::to_string(bad.port)) {
      shown = e["state"] == "ejected" && e["weight"] == 0 && e["ejections"] == 1;
    }
  }
  EXPECT_TRUE(shown) << cfg.dump(2);
  EXPECT_NE(gw.proc->Log().find("ejected: 3 consecutive errors"), std::string::npos);
}

TEST(Outlier, TurnedOffTheFailingInstanceKeepsFailing) {
  SampleApp a = SampleApp::Start("s"), b = SampleApp::Start("s");
  SampleApp bad = SampleApp::Start("s", "", {"--fail-rate", "1"});
  Gateway gw = Gateway::Start(Services({{a.port, ""}, {b.port, ""}, {bad.port, ""}}, kOutlier,
                                       "upstream: { health: false }\n"));
  EXPECT_EQ(Count(gw.port, "GET", 90, 500), 30);
  WaitForTick();
  EXPECT_EQ(gw.Metric(EndpointMetric("ejected", bad.port)), 0u);
}

TEST(Outlier, TheCapHoldsWhenHalfTheInstancesFail) {
  SampleApp a = SampleApp::Start("s"), b = SampleApp::Start("s");
  SampleApp bad1 = SampleApp::Start("s", "", {"--fail-rate", "1"});
  SampleApp bad2 = SampleApp::Start("s", "", {"--fail-rate", "1"});
  // maxEjectionPercent 25 of 4: one at a time.
  Gateway gw = Gateway::Start(
      Services({{a.port, ""}, {bad1.port, ""}, {b.port, ""}, {bad2.port, ""}},
               "    outlier: { consecutiveErrors: 3, maxEjectionPercent: 25 }\n"));
  Count(gw.port, "GET", 40, 500);
  WaitForTick();
  const uint64_t ejected = gw.Metric(EndpointMetric("ejected", bad1.port)) +
                           gw.Metric(EndpointMetric("ejected", bad2.port));
  EXPECT_EQ(ejected, 1u);
  // The one left in rotation still gets its share: a third of what follows.
  EXPECT_NEAR(Count(gw.port, "GET", 30, 500), 10, 1);
}

TEST(Outlier, AllFailingLaneFallsBackToBaseAtOnce) {
  SampleApp base = SampleApp::Start("s");
  SampleApp gray = SampleApp::Start("s", "gray", {"--fail-rate", "1"});
  Gateway gw = Gateway::Start(Services({{base.port, ""}, {gray.port, "gray"}}, kOutlier));
  // The gray instance answers 500 three times, is ejected, and the lane's
  // requests go to base from then on.
  EXPECT_EQ(Count(gw.port, "GET", 3, 500, {{"x-env", "gray"}}), 3);
  EXPECT_EQ(Count(gw.port, "GET", 20, 200, {{"x-env", "gray"}}), 20);
  EXPECT_EQ(Count(gw.port, "POST", 20, 200, {{"x-env", "gray"}}), 20);
}

TEST(Outlier, DeadLaneInstanceFallsBackToBaseOnTheFirstRetry) {
  SampleApp base = SampleApp::Start("s");
  const RefusingPort dead;  // a SIGKILLed gray instance: connect refused
  Gateway gw = Gateway::Start(Services({{base.port, ""}, {dead, "gray"}}, kOutlier));
  // The retry of the first request already goes to base; the endpoint is
  // suspect, then ejected: no gray request fails.
  EXPECT_EQ(Count(gw.port, "GET", 20, 200, {{"x-env", "gray"}}), 20);
  EXPECT_EQ(Count(gw.port, "POST", 20, 200, {{"x-env", "gray"}}), 20);
}

TEST(Outlier, DeadLaneInstanceWithHealthOffFailsEveryRequest) {
  SampleApp base = SampleApp::Start("s");
  const RefusingPort dead;
  Gateway gw = Gateway::Start(Services({{base.port, ""}, {dead, "gray"}}, kOutlier,
                                       "upstream: { health: false }\n"));
  // Today's behaviour: the retry picks the same dead gray host again.
  EXPECT_EQ(Count(gw.port, "GET", 10, 502, {{"x-env", "gray"}}), 10);
}

TEST(Outlier, LaneWithFallbackNoneAnswers503OnceItsInstancesAreEjected) {
  SampleApp base = SampleApp::Start("s");
  SampleApp gray = SampleApp::Start("s", "gray", {"--fail-rate", "1"});
  std::string y = Services({{base.port, ""}, {gray.port, "gray"}}, kOutlier);
  y.replace(y.find("fallback: base"), 14, "fallback: none");
  Gateway gw = Gateway::Start(y);
  EXPECT_EQ(Count(gw.port, "GET", 3, 500, {{"x-env", "gray"}}), 3);
  Response r = HttpGet(gw.port, "/x", {{"x-env", "gray"}});
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.Header("x-graymesh-reason").find("ejected or draining (fallback: none)"),
            std::string::npos)
      << r.Header("x-graymesh-reason");
  EXPECT_EQ(HttpGet(gw.port, "/x").status, 200);  // base is untouched
}

TEST(Outlier, AnEjectedInstanceComesBackThroughWarmup) {
  SampleApp a = SampleApp::Start("s"), b = SampleApp::Start("s");
  SampleApp bad = SampleApp::Start("s", "", {"--fail-rate", "1"});
  const uint16_t port = bad.port;
  Gateway gw = Gateway::Start(
      Services({{a.port, ""}, {b.port, ""}, {port, ""}},
               "    outlier: { consecutiveErrors: 3, baseEjection: 1s, maxEjectionPercent: 50 }\n"
               "    warmup: { window: 3s, minWeightPercent: 10 }\n"));
  Count(gw.port, "GET", 12, 500);
  WaitForTick();
  ASSERT_EQ(gw.Metric(EndpointMetric("ejected", port)), 1u);
  // The instance is fixed (restarted healthy on the same port).
  bad.proc->Kill();
  SampleApp fixed = SampleApp::Start("s", "", {}, port);
  std::this_thread::sleep_for(1300ms);  // past the ejection, with a tick to spare
  EXPECT_EQ(gw.Metric(EndpointMetric("ejected", port)), 0u);
  const uint64_t w = gw.Metric(EndpointMetric("weight", port));
  EXPECT_GE(w, 10u);
  EXPECT_LT(w, 50u);  // warming: well below its weight of 100
  EXPECT_EQ(Count(gw.port, "GET", 30, 200), 30);
  std::this_thread::sleep_for(3500ms);  // the 3 s window from its return, and a tick
  EXPECT_EQ(gw.Metric(EndpointMetric("weight", port)), 100u);
}

}  // namespace
}  // namespace graymesh::test
