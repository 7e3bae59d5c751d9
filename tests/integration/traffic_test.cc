// The traffic view end to end, real processes only: sidecars on the control
// plane push their counters (--report-interval), GET /v1/traffic and
// `graymesh top` show the gray split per edge, /metrics carries the lane
// labels, and the access log writes one JSON line per request.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

const char* kGrayForHeader = R"(kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    service: payment
    match:
      - headers: { x-env: { exact: gray } }
)";

const HeaderList kGray = {{"x-env", "gray"}};

// A series' value from a proxy's /metrics; -1 when absent.
double ProxyMetric(uint16_t admin, const std::string& series) {
  Response r = HttpGet(admin, "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string OrderToPayment(const std::string& lane_requested, const std::string& lane_served) {
  return "graymesh_requests_total{direction=\"outbound\",source=\"order\",destination=\"payment\","
         "lane_requested=\"" + lane_requested + "\",lane_served=\"" + lane_served +
         "\",code_class=\"2xx\"}";
}

const nlohmann::json* Edge(const nlohmann::json& t, const std::string& src, const std::string& dst) {
  for (const nlohmann::json& e : t["edges"]) {
    if (e["source"] == src && e["destination"] == dst) return &e;
  }
  return nullptr;
}

class Traffic : public ::testing::Test {
 protected:
  // Reports every 200 ms instead of 5 s (the flag's env variable reaches
  // every sidecar these tests start).
  static void SetUpTestSuite() { ::setenv("GRAYMESH_REPORT_INTERVAL", "200ms", 1); }
};

TEST_F(Traffic, SidecarsReportAndTheViewShowsTheGraySplit) {
  ControlPlane cp = ControlPlane::Start();
  Instance payment("payment", "", "", cp);
  Instance gray("payment", "gray", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(gray.WaitReady(10s)) << gray.sidecar->Log();
  ASSERT_TRUE(payment.WaitReady(10s)) << payment.sidecar->Log();
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control", cp.url()})
                .code,
            0);
  // Every worker of the sidecar has the rule (each gets the snapshot as a
  // posted task; one request served gray says so of one worker only): ten
  // fresh connections in a row are served gray.
  ASSERT_TRUE(Eventually(
      [&] {
        for (int i = 0; i < 10; ++i) {
          if (HttpGet(order.inbound, "/pay", kGray).body.find("\"gray\"") == std::string::npos) {
            return false;
          }
        }
        return true;
      },
      5s));

  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(HttpGet(order.inbound, "/pay", i % 4 == 0 ? kGray : HeaderList{}).status, 200);
  }
  // The sidecar's own counters, exactly.
  const double gray_n = ProxyMetric(order.admin, OrderToPayment("gray", "gray"));
  const double base_n = ProxyMetric(order.admin, OrderToPayment("", ""));
  EXPECT_GE(gray_n, 15);
  EXPECT_GE(base_n, 45);
  EXPECT_EQ(ProxyMetric(order.admin, OrderToPayment("gray", "")), -1) << "no fallback happened";
  EXPECT_EQ(ProxyMetric(order.admin, "graymesh_active_requests"), 0) << "all answered";
  EXPECT_EQ(ProxyMetric(order.admin, "graymesh_draining"), 0);
  EXPECT_EQ(ProxyMetric(order.admin, "graymesh_retries_total"), 0);
  EXPECT_EQ(ProxyMetric(order.admin, "graymesh_endpoint_weight{service=\"payment\",address=\"" +
                                         Addr(gray.inbound) + "\",lane=\"gray\"}"),
            100);

  // The control plane's view: one report later, the same split.
  nlohmann::json t;
  const double share = gray_n / (gray_n + base_n);
  bool matched = Eventually(
      [&] {
        t = Json(cp.Get("/v1/traffic?window=60s"));
        const nlohmann::json* e = Edge(t, "order", "payment");
        return e != nullptr && std::abs((*e)["grayShare"].get<double>() - share) < 0.005;
      },
      5s);
  ASSERT_TRUE(matched) << "expected gray share " << share << ", got:\n" << t.dump(2);
  const nlohmann::json& e = *Edge(t, "order", "payment");
  EXPECT_GT(e["rps"].get<double>(), 0);
  EXPECT_EQ(e["errorRate"].get<double>(), 0);
  EXPECT_EQ(e["fallbacks"].get<double>(), 0);
  EXPECT_GT(e["p99Seconds"].get<double>(), 0);
  bool gray_pair = false;
  for (const nlohmann::json& l : e["byLane"]) {
    gray_pair = gray_pair || (l["laneRequested"] == "gray" && l["laneServed"] == "gray");
  }
  EXPECT_TRUE(gray_pair) << e.dump();
  // Services: payment counted once (from order's side, not again from its own inbound).
  bool payment_seen = false;
  for (const nlohmann::json& s : t["services"]) {
    if (s["name"] != "payment") continue;
    payment_seen = true;
    EXPECT_NEAR(s["rps"].get<double>(), e["rps"].get<double>(), 1e-9);
  }
  EXPECT_TRUE(payment_seen) << t.dump(2);
  // Endpoints as order's sidecar sees them (healthy at their weight until
  // endpoint health reports its own).
  int payment_endpoints = 0;
  for (const nlohmann::json& ep : t["endpoints"]) {
    if (ep["service"] == "payment" && ep["reportedBy"].get<std::string>().find("order@") !=
                                          std::string::npos) {
      ++payment_endpoints;
      EXPECT_EQ(ep["state"], "healthy");
    }
  }
  EXPECT_EQ(payment_endpoints, 2) << t.dump(2);

  // The terminal table.
  CliResult top = RunCli({"top", "--control", cp.url()});
  ASSERT_EQ(top.code, 0) << top.err;
  EXPECT_NE(top.out.find("gray>gray"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("FALLBACK/S"), std::string::npos) << top.out;
  CliResult top_json = RunCli({"top", "-o", "json", "--window", "30s", "--control", cp.url()});
  ASSERT_EQ(top_json.code, 0) << top_json.err;
  EXPECT_EQ(nlohmann::json::parse(top_json.out)["windowSeconds"], 30.0);

  // The control plane's own metrics.
  EXPECT_GE(cp.Metric("graymesh_control_traffic_reporters"), 3);
  EXPECT_GE(cp.Metric("graymesh_control_pushes_total"), 1) << "the rule was pushed to watchers";
  EXPECT_GE(cp.Metric("graymesh_control_push_latency_seconds_count"), 1);
}

// Each instance's rps and errors are its own (its sidecar's inbound side),
// not its lane's split evenly: a base payment instance, and a gray one that
// fails every request.
TEST_F(Traffic, EachInstanceShowsItsOwnRequestsAndErrors) {
  ControlPlane cp = ControlPlane::Start();
  Instance base("payment", "", "", cp);
  Instance failing("payment", "gray", "", cp, {"--fail-rate", "1"});
  Instance order("order", "", "payment", cp);
  for (Instance* i : {&base, &failing, &order}) ASSERT_TRUE(i->WaitReady(10s)) << i->sidecar->Log();
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control", cp.url()})
                .code,
            0);
  ASSERT_TRUE(Eventually([&] { return HttpGet(order.inbound, "/pay", kGray).status >= 500; }, 5s));
  for (int i = 0; i < 40; ++i) HttpGet(order.inbound, "/pay", i % 4 == 0 ? kGray : HeaderList{});

  auto id_of = [&](const Instance& i) {
    const nlohmann::json all = Json(cp.Get("/v1/instances"));
    for (const nlohmann::json& x : all["instances"]) {
      if (x["address"] == Addr(i.inbound)) return x["id"].get<std::string>();
    }
    return std::string();
  };
  const std::string base_id = id_of(base), failing_id = id_of(failing);
  ASSERT_FALSE(base_id.empty());
  ASSERT_FALSE(failing_id.empty());
  // The same requests counted at each instance's own sidecar.
  const double base_n = ProxyMetric(base.admin, "graymesh_requests_total{direction=\"inbound\","
                                                "source=\"order\",destination=\"payment\","
                                                "lane_requested=\"\",lane_served=\"\","
                                                "code_class=\"2xx\"}");
  ASSERT_GE(base_n, 30);
  nlohmann::json t, mine_base, mine_failing;
  const bool seen = Eventually(
      [&] {
        t = Json(cp.Get("/v1/traffic?window=60s"));
        mine_base = mine_failing = nullptr;
        for (const nlohmann::json& i : t["instances"]) {
          if (i["instance"] == base_id) mine_base = i;
          if (i["instance"] == failing_id) mine_failing = i;
        }
        if (!mine_base.is_object() || !mine_failing.is_object()) return false;
        // Three base requests for every gray one, once both sidecars'
        // reports have them all (the rates come from slightly different
        // report spans, so only roughly).
        const double ratio = mine_base["rps"].get<double>() / mine_failing["rps"].get<double>();
        return ratio > 2.0 && ratio < 4.5;
      },
      5s);
  ASSERT_TRUE(seen) << t.dump(2);
  EXPECT_EQ(mine_base["service"], "payment");
  EXPECT_EQ(mine_base["errorRate"].get<double>(), 0) << mine_base;
  EXPECT_EQ(mine_failing["errorRate"].get<double>(), 1) << mine_failing;
  // order's instance is called by the test, from outside the mesh: its own
  // inbound side counts those, and they all failed (payment's gray answers 500).
  bool order_seen = false;
  for (const nlohmann::json& i : t["instances"]) {
    if (i["service"] != "order") continue;
    order_seen = true;
    EXPECT_GT(i["rps"].get<double>(), 0) << i;
  }
  EXPECT_TRUE(order_seen) << t.dump(2);
}

TEST_F(Traffic, BadReportsAndWindowsAreRefusedWithTheReason) {
  ControlPlane cp = ControlPlane::Start();
  Response r = cp.Send("POST", "/v1/reports", R"({"node": "n", "startedMs": 1})",
                       {{"content-type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("traffic report refused: nowMs: expected an integer"), std::string::npos)
      << r.body;
  r = cp.Send("POST", "/v1/reports", "{not json", {{"content-type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("traffic report refused"), std::string::npos) << r.body;
  EXPECT_EQ(cp.Metric("graymesh_control_reports_refused_total"), 2);

  r = cp.Get("/v1/traffic?window=2h");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("window: must be 1s..1h"), std::string::npos) << r.body;
  r = cp.Get("/v1/traffic?window=soon");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("window:"), std::string::npos) << r.body;
  EXPECT_EQ(cp.Get("/v1/traffic").status, 200);
  EXPECT_EQ(cp.Get("/v1/traffic?window=1h").status, 200);
  CliResult top = RunCli({"top", "--window", "5h", "--control", cp.url()});
  EXPECT_EQ(top.code, 1);
  EXPECT_NE(top.err.find("window: must be 1s..1h"), std::string::npos) << top.err;
}

TEST_F(Traffic, AccessLogWritesOneJsonLinePerRequest) {
  ControlPlane cp = ControlPlane::Start();
  Instance gray("payment", "gray", "", cp);
  Instance order("order", "", "payment", cp);
  const std::string log = TestTempDir() + "/order-access.log";
  order.sidecar->Stop();
  order.sidecar_args.insert(order.sidecar_args.end(), {"--access-log", log});
  order.StartSidecar();
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(gray.WaitReady(10s));
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control", cp.url()})
                .code,
            0);
  ASSERT_TRUE(Eventually([&] { return HttpGet(order.inbound, "/pay", kGray).status == 200; }, 5s));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(HttpGet(order.inbound, "/pay", kGray).status, 200);

  // Written off the request path: the lines come within a tick or two.
  std::vector<nlohmann::json> lines;
  ASSERT_TRUE(Eventually(
      [&] {
        lines.clear();
        std::ifstream in(log);
        std::string line;
        while (std::getline(in, line)) {
          nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
          EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
          lines.push_back(j);
        }
        int outbound_gray = 0;
        for (const auto& j : lines) {
          outbound_gray += j.value("direction", "") == "outbound" &&
                           j.value("laneServed", "") == "gray";
        }
        return outbound_gray >= 3;
      },
      5s));
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  const std::regex trace("[0-9a-f]{32}");
  int checked = 0;
  for (const nlohmann::json& j : lines) {
    ASSERT_TRUE(j.contains("time") && j.contains("traceId") && j.contains("laneRequested") &&
                j.contains("laneServed") && j.contains("upstream") && j.contains("status") &&
                j.contains("durationSeconds"))
        << j.dump();
    EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), iso)) << j.dump();
    if (j["direction"] != "outbound" || j["laneServed"] != "gray") continue;
    ++checked;
    EXPECT_EQ(j["source"], "order");
    EXPECT_EQ(j["destination"], "payment");
    EXPECT_EQ(j["laneRequested"], "gray");
    EXPECT_EQ(j["upstream"], Addr(gray.inbound));
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["method"], "GET");
    EXPECT_GT(j["durationSeconds"].get<double>(), 0);
    EXPECT_TRUE(std::regex_match(j["traceId"].get<std::string>(), trace)) << j.dump();
  }
  EXPECT_GE(checked, 3);
  // The inbound side logs too: the requests to order's app.
  bool inbound = false;
  for (const nlohmann::json& j : lines) {
    if (j["direction"] != "inbound") continue;
    inbound = true;
    EXPECT_EQ(j["destination"], "order") << "the service, not the sidecar's name for its app";
  }
  EXPECT_TRUE(inbound);
}

TEST_F(Traffic, AnAccessLogThatCannotBeOpenedStopsTheStartWithTheReason) {
  CliResult r = RunCli({"gateway", "--listen", Addr(FreePort()), "--admin", "none",
                        "--access-log", "/nonexistent-dir/access.log"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE((r.out + r.err).find("cannot open access log /nonexistent-dir/access.log"),
            std::string::npos)
      << r.out << r.err;
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

// Who ejects whom: a consumer that ejects an instance says so in its report,
// and `graymesh get instances` shows it.
TEST_F(Traffic, InstancesShowWhichConsumersEjectThem) {
  ControlPlane cp = ControlPlane::Start();
  Instance good("payment", "", "", cp);
  Instance bad("payment", "", "", cp, {"--fail-rate", "1"});
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(good.WaitReady(10s));
  ASSERT_TRUE(bad.WaitReady(10s));
  const char* policy = "kind: ServicePolicy\nname: payment\nspec:\n  outlier: { consecutiveErrors: 3 }\n";
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("policy.yaml", policy), "--control", cp.url()}).code,
            0);
  const std::string bad_address = Addr(bad.inbound);
  nlohmann::json seen;
  ASSERT_TRUE(Eventually([&] {
    for (int i = 0; i < 10; ++i) HttpGet(order.inbound, "/pay");
    seen = Json(cp.Get("/v1/instances?service=payment"));
    for (const nlohmann::json& i : seen["instances"]) {
      if (i["address"] == bad_address && !i["ejectedBy"].empty()) return true;
    }
    return false;
  }, 10s)) << seen.dump();
  for (const nlohmann::json& i : seen["instances"]) {
    if (i["address"] == bad_address) {
      ASSERT_EQ(i["ejectedBy"].size(), 1u);
      EXPECT_NE(i["ejectedBy"][0].get<std::string>().find("order@"), std::string::npos) << i.dump();
    } else {
      EXPECT_TRUE(i["ejectedBy"].empty()) << i.dump();
    }
  }
  CliResult table = RunCli({"get", "instances", "payment", "--control", cp.url()});
  EXPECT_NE(table.out.find("EJECTED-BY"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1 proxy"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace graymesh::test
