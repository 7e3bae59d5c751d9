// The whole routing decision of one request (docs/design.md, lane model): entrance rules
// (50 lanes) for the lane, then an endpoint of that lane among 1,000 endpoints
// in 10 lanes, with its balancer's start/finish bookkeeping. Issue target:
// < 200 ns a request.
#include <benchmark/benchmark.h>

#include "bench/lane_fixture.h"
#include "proxy/snapshot.h"
#include "proxy/upstream.h"

namespace graymesh::proxy {
namespace {

constexpr int kEndpoints = 1000;
constexpr int kLaneTags = 10;

std::shared_ptr<const Snapshot> MakeSnapshot() {
  auto cfg = std::make_shared<config::Config>();
  cfg->lanes = lane::bench::Lanes();
  config::Service svc{.name = "order", .lb = config::LbPolicy::kRoundRobin, .endpoints = {}};
  for (int i = 0; i < kEndpoints; ++i) {
    config::Endpoint e;
    e.address = {.host = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                 .port = 8080};
    // 10% base, the rest spread over tag-0 .. tag-9 (lanes of the rule set).
    if (i % 10 != 0) e.lane = "tag-" + std::to_string(i % kLaneTags);
    e.weight = 100;
    svc.endpoints.push_back(e);
  }
  cfg->services.push_back(std::move(svc));
  for (auto& l : cfg->lanes) l.service = "order";  // rules for calls to order
  return Snapshot::Compile(cfg, 1);
}

// A service state with its endpoint health, as a worker builds it; every
// attempt is reported as a 200 in 2 ms (what the health bookkeeping costs).
struct Routed {
  explicit Routed(bool health = true) {
    table.Service("order")->SetPolicy(
        {.enabled = health, .outlier = config::OutlierPolicy{}, .warmup = std::nullopt});
  }
  std::shared_ptr<const Snapshot> snap = MakeSnapshot();
  health::HealthTable table;
  WorkerStats stats;
  ServiceState svc{snap, snap->services()[0], 1, table.Service("order"), 0, true};
  void Finish(const Choice& c) {
    svc.Report(c, {.outcome = health::Outcome::kOk, .status = 200, .latency_ms = 2}, 0, stats);
  }
};

void Route(benchmark::State& state, const char* path, std::string_view want) {
  Routed r;
  auto& snap = r.snap;
  ServiceState& svc = r.svc;
  const lane::EntranceRules* rules = snap->ServiceRules(0);
  const lane::bench::Request rq(path);
  if (rules->Match(rq.view) != want) state.SkipWithError("wrong lane");
  for (auto _ : state) {
    std::string_view lane = rules->Match(rq.view);
    Choice c = svc.Pick(lane, snap->FallbackToBase(lane), -1);
    svc.OnStart(c);
    r.Finish(c);
    benchmark::DoNotOptimize(c);
  }
}

// Matches the 40th lane (tag-39 has no endpoints here: falls back to base).
void BM_RouteMatchFortieth(benchmark::State& state) { Route(state, "/svc39/orders", "tag-39"); }
// No rule matches: every one of the 50 is evaluated, then base is chosen.
void BM_RouteNoMatch(benchmark::State& state) { Route(state, "/catalog/items", ""); }
// A request already carrying its lane (header or baggage) skips the rules.
// state.range(0): endpoint health (with an outlier policy) on or off.
void BM_RouteCarriedLane(benchmark::State& state) {
  Routed r(state.range(0) != 0);
  auto& snap = r.snap;
  ServiceState& svc = r.svc;
  for (auto _ : state) {
    Choice c = svc.Pick("tag-7", snap->FallbackToBase("tag-7"), -1);
    svc.OnStart(c);
    r.Finish(c);
    benchmark::DoNotOptimize(c);
  }
}

BENCHMARK(BM_RouteMatchFortieth);
BENCHMARK(BM_RouteNoMatch);
BENCHMARK(BM_RouteCarriedLane)->Arg(0)->Arg(1);

}  // namespace
}  // namespace graymesh::proxy

BENCHMARK_MAIN();
