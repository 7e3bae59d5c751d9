// The control plane's traffic store: windows over cumulative reports,
// restarts, lane splits, p99, and refusing malformed reports.
#include "control/traffic_store.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "control/traffic_report.h"
#include "control/traffic_table.h"

namespace graymesh::control {
namespace {

using nlohmann::json;
constexpr double kInf = std::numeric_limits<double>::infinity();

EdgeTotals Edge(std::string direction, std::string src, std::string dst, std::string req,
                std::string served, uint64_t requests, uint64_t errors = 0) {
  EdgeTotals e{.direction = direction, .source = src, .destination = dst, .lane_requested = req,
               .lane_served = served, .requests = requests, .errors = errors};
  // All requests took between 5 and 10 ms.
  e.buckets = {{0.005, 0}, {0.01, requests}, {kInf, requests}};
  e.latency_sum = requests * 0.0075;
  return e;
}

TrafficReport Report(std::string node, int64_t started, int64_t now, std::vector<EdgeTotals> edges) {
  return {.node = node, .service = "order", .started_ms = started, .now_ms = now,
          .edges = std::move(edges)};
}

const json* FindEdge(const json& t, const std::string& src, const std::string& dst) {
  for (const json& e : t["edges"]) {
    if (e["source"] == src && e["destination"] == dst) return &e;
  }
  return nullptr;
}

const json* FindService(const json& t, const std::string& name) {
  for (const json& s : t["services"]) {
    if (s["name"] == name) return &s;
  }
  return nullptr;
}

TEST(TrafficStore, RateIsTheDifferenceOverTheWindow) {
  TrafficStore store;
  // Started long before; 100 requests at t=0, 700 at t=60s: 10 rps.
  store.Add(Report("n1", -600'000, 0, {Edge("outbound", "order", "payment", "", "", 100)}), 0);
  store.Add(Report("n1", -600'000, 30'000, {Edge("outbound", "order", "payment", "", "", 400)}),
            30'000);
  store.Add(Report("n1", -600'000, 60'000, {Edge("outbound", "order", "payment", "", "", 700)}),
            60'000);
  json t = store.Query(60'000, 60'000);
  const json* e = FindEdge(t, "order", "payment");
  ASSERT_NE(e, nullptr) << t.dump();
  EXPECT_DOUBLE_EQ((*e)["rps"].get<double>(), 10.0);
  // A 30 s window starts at the middle report.
  t = store.Query(60'000, 30'000);
  EXPECT_DOUBLE_EQ((*FindEdge(t, "order", "payment"))["rps"].get<double>(), 10.0);
  EXPECT_EQ(t["windowSeconds"], 30.0);
}

TEST(TrafficStore, LaneSplitGrayShareAndFallbacks) {
  TrafficStore store;
  store.Add(Report("n1", -1000, 0, {}), 0);
  store.Add(Report("n1", -1000, 10'000,
                   {Edge("outbound", "order", "payment", "", "", 80),
                    Edge("outbound", "order", "payment", "gray", "gray", 15),
                    Edge("outbound", "order", "payment", "gray", "", 5, 5)}),
            10'000);
  json t = store.Query(10'000, 60'000);
  const json* e = FindEdge(t, "order", "payment");
  ASSERT_NE(e, nullptr) << t.dump();
  // Started 1 s before its first report, inside the window: counted from zero.
  EXPECT_NEAR((*e)["rps"].get<double>(), 100.0 / 11.0, 1e-9);
  EXPECT_NEAR((*e)["grayShare"].get<double>(), 0.15, 1e-9);
  EXPECT_NEAR((*e)["fallbacks"].get<double>(), 5.0 / 11.0, 1e-9);
  EXPECT_NEAR((*e)["errorRate"].get<double>(), 0.05, 1e-9);
  EXPECT_EQ((*e)["byLane"].size(), 3u);
  const json* s = FindService(t, "payment");
  ASSERT_NE(s, nullptr);
  EXPECT_NEAR((*s)["rps"].get<double>(), 100.0 / 11.0, 1e-9);
  // Every request took 5..10 ms: p99 interpolates inside that bucket.
  EXPECT_GT((*e)["p99Seconds"].get<double>(), 0.005);
  EXPECT_LE((*e)["p99Seconds"].get<double>(), 0.01);
}

TEST(TrafficStore, ARestartedProxyCountsFromZero) {
  TrafficStore store;
  store.Add(Report("n1", -600'000, 0, {Edge("gateway", "ingress", "order", "", "", 5000)}), 0);
  // Restarted at 50 s (new startedMs, lower counters): 100 requests since.
  store.Add(Report("n1", 50'000, 60'000, {Edge("gateway", "ingress", "order", "", "", 100)}),
            60'000);
  json t = store.Query(60'000, 60'000);
  const json* e = FindEdge(t, "ingress", "order");
  ASSERT_NE(e, nullptr) << t.dump();
  EXPECT_DOUBLE_EQ((*e)["rps"].get<double>(), 10.0) << "not negative, not 5000";
}

TEST(TrafficStore, ACounterThatFellCountsFromZeroToo) {
  TrafficStore store;
  store.Add(Report("n1", -600'000, 0, {Edge("outbound", "order", "payment", "", "", 500)}), 0);
  store.Add(Report("n1", -600'000, 10'000, {Edge("outbound", "order", "payment", "", "", 50)}),
            10'000);
  json t = store.Query(10'000, 10'000);
  EXPECT_DOUBLE_EQ((*FindEdge(t, "order", "payment"))["rps"].get<double>(), 5.0);
}

TEST(TrafficStore, NodesAreSummedAndOldReportsLeaveTheWindow) {
  TrafficStore store;
  for (const char* node : {"a", "b"}) {
    store.Add(Report(node, -600'000, 0, {Edge("outbound", "order", "payment", "", "", 0)}), 0);
    store.Add(Report(node, -600'000, 10'000, {Edge("outbound", "order", "payment", "", "", 50)}),
              10'000);
  }
  json t = store.Query(10'000, 10'000);
  EXPECT_DOUBLE_EQ((*FindEdge(t, "order", "payment"))["rps"].get<double>(), 10.0);
  // Nobody reported in the last minute: no traffic, no stale rates.
  t = store.Query(100'000, 60'000);
  EXPECT_TRUE(t["edges"].empty()) << t.dump();
}

TEST(TrafficStore, InboundCountsOnlyWhenNoCallerReported) {
  TrafficStore store;
  store.Add(Report("pay", -1000, 0, {}), 0);
  store.Add(Report("pay", -1000, 9'000,
                   {Edge("inbound", "order", "payment", "", "", 100),
                    Edge("inbound", "", "data", "", "", 30)}),
            9'000);
  store.Add(Report("ord", -1000, 0, {}), 0);
  store.Add(Report("ord", -1000, 9'000, {Edge("outbound", "order", "payment", "", "", 100)}),
            9'000);
  json t = store.Query(9'000, 60'000);
  EXPECT_NEAR((*FindService(t, "payment"))["rps"].get<double>(), 10.0, 1e-9) << "not 20";
  ASSERT_NE(FindService(t, "data"), nullptr) << t.dump();
  EXPECT_NEAR((*FindService(t, "data"))["rps"].get<double>(), 3.0, 1e-9);
  EXPECT_EQ(t["edges"].size(), 1u) << "edges come from callers only";
}

TEST(TrafficStore, EachInstanceCountsItsOwnInboundRequests) {
  TrafficStore store;
  // Two payment instances in one lane, one busier and failing some: their
  // own sidecars' inbound counts, not the lane's split evenly.
  auto inbound = [](uint64_t requests, uint64_t errors) {
    return Edge("inbound", "order", "payment", "", "", requests, errors);
  };
  for (const auto& [node, id] : {std::pair{"p1", "payment-1"}, std::pair{"p2", "payment-2"}}) {
    TrafficReport r = Report(node, -600'000, 0, {inbound(0, 0)});
    r.service = "payment";
    r.instance = id;
    store.Add(std::move(r), 0);
  }
  TrafficReport busy = Report("p1", -600'000, 10'000, {inbound(300, 30)});
  busy.service = "payment";
  busy.instance = "payment-1";
  store.Add(std::move(busy), 10'000);
  TrafficReport quiet = Report("p2", -600'000, 10'000, {inbound(100, 0)});
  quiet.service = "payment";
  quiet.instance = "payment-2";
  store.Add(std::move(quiet), 10'000);
  // A caller's outbound report names its own instance: not counted as one.
  TrafficReport caller = Report("o1", -600'000, 0, {});
  caller.instance = "order-1";
  store.Add(std::move(caller), 0);
  caller = Report("o1", -600'000, 10'000, {Edge("outbound", "order", "payment", "", "", 400, 30)});
  caller.instance = "order-1";
  store.Add(std::move(caller), 10'000);

  const json t = store.Query(10'000, 10'000);
  std::map<std::string, json> by_id;
  for (const json& i : t["instances"]) by_id[i["instance"]] = i;
  ASSERT_EQ(by_id.size(), 2u) << t.dump();
  EXPECT_EQ(by_id["payment-1"]["service"], "payment");
  EXPECT_DOUBLE_EQ(by_id["payment-1"]["rps"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(by_id["payment-1"]["errorRate"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(by_id["payment-2"]["rps"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(by_id["payment-2"]["errorRate"].get<double>(), 0.0);
  EXPECT_GT(by_id["payment-2"]["p99Seconds"].get<double>(), 0.005);
}

TEST(TrafficStore, EndpointsComeFromEachNodesLatestReport) {
  TrafficStore store;
  TrafficReport r = Report("n1", 0, 0, {});
  r.endpoints = {{.service = "payment", .address = "127.0.0.1:9001", .state = "ejected",
                  .weight = 0, .ejections = 1}};
  store.Add(r, 1000);
  json t = store.Query(2000, 60'000);
  ASSERT_EQ(t["endpoints"].size(), 1u) << t.dump();
  EXPECT_EQ(t["endpoints"][0]["reportedBy"], "n1");
  EXPECT_EQ(t["endpoints"][0]["state"], "ejected");
}

TEST(TrafficStore, AnEndpointTurningEjectedIsAnnouncedOnce) {
  TrafficStore store;
  std::vector<std::string> seen;
  store.SetOnEjected([&](const EndpointTotals& e, const std::string& node, int64_t at) {
    seen.push_back(e.address + " by " + node + " at " + std::to_string(at));
  });
  auto with = [](std::string state) {
    TrafficReport r = Report("n1", 0, 0, {});
    r.endpoints = {{.service = "payment", .address = "a:1", .state = state, .weight = 100}};
    return r;
  };
  store.Add(with("healthy"), 1000);
  store.Add(with("ejected"), 2000);
  store.Add(with("ejected"), 3000);  // still ejected: not again
  store.Add(with("healthy"), 4000);
  store.Add(with("ejected"), 5000);
  EXPECT_EQ(seen, (std::vector<std::string>{"a:1 by n1 at 2000", "a:1 by n1 at 5000"}));
}

TEST(TrafficStore, FailedBetweenCountsErrorsInTheInterval) {
  TrafficStore store;
  store.Add(Report("n1", -600'000, 0, {Edge("outbound", "order", "payment", "", "", 100, 2)}), 0);
  store.Add(Report("n1", -600'000, 30'000, {Edge("outbound", "order", "payment", "", "", 200, 9)}),
            30'000);
  store.Add(Report("n1", -600'000, 60'000, {Edge("outbound", "order", "payment", "", "", 300, 9)}),
            60'000);
  EXPECT_EQ(store.FailedBetween("payment", 0, 30'000), 7u);
  EXPECT_EQ(store.FailedBetween("payment", 30'000, 60'000), 0u);
  EXPECT_EQ(store.FailedBetween("order", 0, 60'000), 0u);
}

TEST(TrafficStore, NodesAreCapped) {
  TrafficStore store(std::chrono::minutes(65), 3);
  for (int i = 0; i < 10; ++i) store.Add(Report("n" + std::to_string(i), 0, i, {}), i);
  EXPECT_EQ(store.nodes(), 3u);
}

TEST(TrafficStore, OldReportsAreThinnedButWindowsStillWork) {
  TrafficStore store;
  // One report a second for ten minutes, 10 requests each.
  for (int64_t s = 0; s <= 600; ++s) {
    store.Add(Report("n1", -1'000'000, s * 1000,
                     {Edge("outbound", "order", "payment", "", "", uint64_t(s) * 10)}),
              s * 1000);
  }
  json t = store.Query(600'000, 300'000);
  EXPECT_NEAR((*FindEdge(t, "order", "payment"))["rps"].get<double>(), 10.0, 1e-9);
}

json Parse(const std::string& text) { return json::parse(text); }

// ---- p99 from the reported histograms ----

// A proxy's dense buckets (its 13 bounds and +Inf), cumulative, for
// `fast` requests of 3 ms and `slow` ones of 2 s.
constexpr double kProxyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25,  0.5,    1,     2.5,  5,     10};
EdgeTotals Timed(uint64_t fast, uint64_t slow, const double* bounds = kProxyBounds,
                 size_t n_bounds = std::size(kProxyBounds)) {
  EdgeTotals e{.direction = "outbound", .source = "order", .destination = "payment",
               .requests = fast + slow};
  for (size_t i = 0; i < n_bounds; ++i) {
    const double b = bounds[i];
    e.buckets.emplace_back(b, (b >= 0.003 ? fast : 0) + (b >= 2.0 ? slow : 0));
  }
  e.buckets.emplace_back(kInf, fast + slow);
  e.latency_sum = fast * 0.003 + slow * 2.0;
  return e;
}

double P99(const json& t) {
  const json* e = FindEdge(t, "order", "payment");
  return e == nullptr ? -1 : (*e)["p99Seconds"].get<double>();
}

TEST(TrafficStoreP99, KnownLatenciesGiveTheirQuantile) {
  TrafficStore store;
  // 9950 requests of 3 ms and 50 of 2 s in the window: the 99th percentile is a 3 ms one.
  store.Add(Report("n1", -600'000, 0, {Timed(1000, 5)}), 0);
  store.Add(Report("n1", -600'000, 60'000, {Timed(10'950, 55)}), 60'000);
  const double p99 = P99(store.Query(60'000, 60'000));
  EXPECT_GT(p99, 0.0025);
  EXPECT_LE(p99, 0.005);
}

TEST(TrafficStoreP99, ProxiesWithOtherBucketBoundsMergeByWhatTheirCountsMean) {
  TrafficStore store;
  // n1 reports the proxy's bounds; n2 (another version) only 20 ms, 10 s and
  // +Inf. All 20000 requests took 3 ms: n2's say "at most 20 ms", so the p99
  // is within 20 ms, not near 10 s (summing cumulative counts bound by bound
  // left n2's requests out of every bound n1 has and n2 lacks).
  constexpr double kCoarse[] = {0.02, 10};
  store.Add(Report("n1", -600'000, 0, {Timed(0, 0)}), 0);
  store.Add(Report("n2", -600'000, 0, {Timed(0, 0, kCoarse, 2)}), 0);
  store.Add(Report("n1", -600'000, 60'000, {Timed(10'000, 0)}), 60'000);
  store.Add(Report("n2", -600'000, 60'000, {Timed(10'000, 0, kCoarse, 2)}), 60'000);
  const double p99 = P99(store.Query(60'000, 60'000));
  EXPECT_GT(p99, 0.005);
  EXPECT_LE(p99, 0.02);
}

TEST(TrafficStoreP99, AboveTheLargestBoundIsTheLargestBound) {
  TrafficStore store;
  EdgeTotals e{.direction = "outbound", .source = "order", .destination = "payment",
               .requests = 100};
  e.buckets = {{0.005, 0}, {10, 0}, {kInf, 100}};  // every one took longer than 10 s
  store.Add(Report("n1", -1000, 0, {}), 0);
  store.Add(Report("n1", -1000, 10'000, {e}), 10'000);
  EXPECT_DOUBLE_EQ(P99(store.Query(10'000, 60'000)), 10.0);
}

TEST(TrafficReport, ParsesTheDocumentedShape) {
  TrafficReport r = ParseTrafficReport(Parse(R"({
    "node": "n1", "service": "order", "instance": "", "gateway": "",
    "startedMs": 1764639000000, "nowMs": 1764639005000,
    "edges": [{"direction": "outbound", "source": "order", "destination": "payment",
               "laneRequested": "gray", "laneServed": "", "requests": 120, "errors": 2,
               "latencyBuckets": [[0.005, 10], [0.01, 40], ["+Inf", 120]], "latencySum": 1.84}],
    "endpoints": [{"service": "payment", "address": "127.0.0.1:9001", "state": "healthy",
                   "weight": 100, "ejections": 0}]})"));
  ASSERT_EQ(r.edges.size(), 1u);
  EXPECT_EQ(r.edges[0].lane_requested, "gray");
  EXPECT_EQ(r.edges[0].buckets.size(), 3u);
  EXPECT_TRUE(std::isinf(r.edges[0].buckets[2].first));
  EXPECT_EQ(r.endpoints[0].weight, 100u);
}

TEST(TrafficReport, RefusesMalformedReportsNamingTheField) {
  auto reason = [](const std::string& text) -> std::string {
    try {
      ParseTrafficReport(Parse(text));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  const std::string base = R"("node": "n", "startedMs": 1, "nowMs": 2)";
  EXPECT_EQ(reason("[]"), "report: expected a JSON object");
  EXPECT_EQ(reason(R"({"startedMs": 1, "nowMs": 2})"), "node: missing");
  EXPECT_EQ(reason(R"({"node": "n", "nowMs": 2})"), "startedMs: expected an integer (Unix ms)");
  EXPECT_EQ(reason("{" + base + R"(, "edges": [{"direction": "sideways"}]})"),
            "edges[0].direction: must be inbound, outbound or gateway, got \"sideways\"");
  EXPECT_EQ(reason("{" + base + R"(, "edges": [{"direction": "inbound", "requests": -1}]})"),
            "edges[0].requests: expected a non-negative integer");
  EXPECT_EQ(reason("{" + base +
                   R"(, "edges": [{"direction": "inbound", "requests": 1, "errors": 2}]})"),
            "edges[0].errors: more errors than requests");
  EXPECT_EQ(reason("{" + base +
                   R"(, "edges": [{"direction": "inbound", "latencyBuckets": [[0.1, 5], [0.05, 6], ["+Inf", 6]]}]})"),
            "edges[0].latencyBuckets[1]: bounds must ascend and counts must not fall (they are "
            "cumulative)");
  EXPECT_EQ(reason("{" + base +
                   R"(, "edges": [{"direction": "inbound", "latencyBuckets": [[0.1, 5]]}]})"),
            "edges[0].latencyBuckets: the last bound must be \"+Inf\"");
  EXPECT_EQ(reason("{" + base + R"(, "endpoints": [{"service": "p", "address": "a", "state": "x"}]})"),
            "endpoints[0].state: must be healthy, ejected, warming or draining, got \"x\"");
  EXPECT_EQ(reason("{" + base + R"(, "node": ")" + std::string(300, 'n') + R"("})"),
            "node: longer than 253 characters");
}

// fuzz/corpus/traffic_report/{min_started_max_now,min_now}: times that made
// the store's differences overflow (signed overflow, which UBSan reports and
// the asan control plane dies of, on GET /v1/traffic after one POST).
TEST(TrafficReport, RefusesTimesThatAreNotUnixMillis) {
  auto reason = [](const std::string& started, const std::string& now) -> std::string {
    try {
      ParseTrafficReport(
          Parse(R"({"node": "n", "startedMs": )" + started + R"(, "nowMs": )" + now + "}"));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(reason("-9223372036854775808", "9223372036854775807"),
            "startedMs: must be Unix ms from 0 to 253402300799999, got -9223372036854775808");
  EXPECT_EQ(reason("0", "-9223372036854775808"),
            "nowMs: must be Unix ms from 0 to 253402300799999, got -9223372036854775808");
  EXPECT_EQ(reason("0", "18446744073709551615"),
            "nowMs: must be Unix ms from 0 to 253402300799999, got 18446744073709551615");
  EXPECT_EQ(reason("0", "253402300800000"),
            "nowMs: must be Unix ms from 0 to 253402300799999, got 253402300800000");
  EXPECT_EQ(reason("0", "253402300799999"), "accepted");
  // A proxy whose clock stepped back reports nowMs before startedMs: still taken.
  EXPECT_EQ(reason("1764639005000", "1764639000000"), "accepted");
}

// fuzz/corpus/traffic_report/negative_bound: a latency bound below zero was
// taken, and the p99 of GET /v1/traffic (and a canary's) came out negative.
TEST(TrafficReport, RefusesNegativeLatencyBounds) {
  try {
    ParseTrafficReport(Parse(R"({"node": "n", "startedMs": 1, "nowMs": 2, "edges": [
        {"direction": "inbound", "requests": 1, "latencyBuckets": [[-5, 1], ["+Inf", 1]]}]})"));
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "edges[0].latencyBuckets[0]: upper bound must be a non-negative number "
                 "(seconds) or \"+Inf\"");
  }
}

// fuzz/corpus/traffic_report/lane_counts_past_uint64: two nodes at the
// largest count sum past 2^64; converting that double to uint64_t is out of
// range (UBSan; on x86 it gave 2^63).
TEST(TrafficStoreLanes, CountsPastTheLargestIntegerStayAtIt) {
  TrafficStore store;
  for (const char* node : {"n1", "n2"}) {
    store.Add(Report(node, 1'000, 2'000,
                     {Edge("outbound", "order", "payment", "", "", UINT64_MAX, UINT64_MAX)}),
              2'000);
  }
  const TrafficStore::LaneTotals t = store.LaneBetween("payment", "", 0, 3'000);
  EXPECT_EQ(t.requests, UINT64_MAX);
  EXPECT_EQ(t.errors, UINT64_MAX);
}

TEST(TrafficTable, PrintsServicesEdgesAndLanes) {
  TrafficStore store;
  store.Add(Report("n1", -1000, 0, {}), 0);
  store.Add(Report("n1", -1000, 10'000,
                   {Edge("outbound", "order", "payment", "", "", 90),
                    Edge("outbound", "order", "payment", "gray", "gray", 11)}),
            10'000);
  const std::string out = FormatTraffic(store.Query(10'000, 60'000));
  EXPECT_NE(out.find("SERVICE"), std::string::npos) << out;
  EXPECT_NE(out.find("order"), std::string::npos) << out;
  EXPECT_NE(out.find("gray>gray 1.0"), std::string::npos) << out;
  EXPECT_NE(out.find("10.9%"), std::string::npos) << out;
}

}  // namespace
}  // namespace graymesh::control
