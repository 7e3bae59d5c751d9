// A real Prometheus (Debian's package) scrapes the gateway and every sidecar
// of a mesh under traffic; `sum by (lane_served)` over its HTTP API matches
// what the test sent and saw. Its storage lives in the build folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/mesh_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

const char* kTwentyPercentGray = R"(lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - percent: 20
          stickyOn: header:x-user-id
)";

std::string Encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A Prometheus on loopback scraping `targets` every second.
struct Prometheus {
  uint16_t port = FreePort();
  std::string dir;
  std::unique_ptr<ChildProcess> proc;

  explicit Prometheus(const std::vector<uint16_t>& targets) {
    dir = std::string(GRAYMESH_BUILD_DIR) + "/prometheus-test-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    std::string list;
    for (uint16_t t : targets) list += (list.empty() ? "'" : ", '") + ("127.0.0.1:" + std::to_string(t)) + "'";
    std::ofstream(dir + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
           "scrape_configs:\n  - job_name: graymesh\n    static_configs:\n      - targets: ["
        << list << "]\n";
    proc = std::make_unique<ChildProcess>(
        // The first argument names the log file: one without a '/'.
        kPrometheus, std::vector<std::string>{"--web.listen-address=127.0.0.1:" +
                                                  std::to_string(port),
                                              "--config.file=" + dir + "/prometheus.yml",
                                              "--storage.tsdb.path=" + dir + "/data"});
  }
  ~Prometheus() {
    proc.reset();  // killed before its files go
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  bool WaitReady(std::chrono::milliseconds timeout) const {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (HttpGet(port, "/-/ready", {}, 1s).status == 200) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }
  // An instant query: {label value of `by` -> value}; "" is the empty (base) value.
  std::map<std::string, double> Query(const std::string& promql, const std::string& by) const {
    std::map<std::string, double> out;
    Response r = HttpGet(port, "/api/v1/query?query=" + Encode(promql));
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || j.value("status", "") != "success") return out;
    for (const nlohmann::json& s : j["data"]["result"]) {
      out[s["metric"].value(by, "")] = std::stod(s["value"][1].get<std::string>());
    }
    return out;
  }
};

// The lane of order that answered: "gray" or "".
std::string OrderLane(const Mesh& mesh, int user) {
  Response r = HttpGet(mesh.gateway_port(), "/", {{"x-user-id", std::to_string(user)}});
  EXPECT_EQ(r.status, 200) << r.body;
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("lane", "?") : "?";
}

TEST(Prometheus, SumByLaneServedMatchesTheTrafficSent) {
  if (access(kPrometheus, X_OK) != 0) GTEST_SKIP() << kPrometheus << " missing: scripts/setup.sh";
  Mesh mesh;
  std::vector<uint16_t> targets;
  targets.push_back(mesh.gateway_admin = FreePort());
  targets.push_back(mesh.Add("order", "", {"payment"}).admin);
  targets.push_back(mesh.Add("order", "gray", {"payment"}).admin);
  targets.push_back(mesh.Add("payment", "", {"data"}).admin);  // base only: gray falls back
  targets.push_back(mesh.Add("data", "").admin);
  targets.push_back(mesh.Add("data", "gray").admin);
  mesh.Start(kTwentyPercentGray);
  Prometheus prom(targets);
  ASSERT_TRUE(prom.WaitReady(20s)) << prom.proc->Log();
  // Every target scraped once before any traffic.
  ASSERT_TRUE([&] {
    for (int i = 0; i < 100; ++i) {
      auto up = prom.Query("sum(up)", "");
      if (up.count("") && up[""] == double(targets.size())) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }()) << prom.proc->Log();

  const int n = 400;
  double gray = 0;
  for (int user = 0; user < n; ++user) gray += OrderLane(mesh, user) == "gray";
  const double base = n - gray;
  ASSERT_GT(gray, n * 0.1);
  ASSERT_LT(gray, n * 0.3);

  // Counters are exact; the tolerance only covers a scrape still in flight.
  auto matches = [&](const std::string& promql, const std::string& by,
                     const std::map<std::string, double>& want) {
    std::map<std::string, double> got;
    for (int i = 0; i < 50; ++i) {
      got = prom.Query(promql, by);
      bool ok = got.size() == want.size();
      for (const auto& [k, v] : want) ok = ok && got.count(k) && std::abs(got[k] - v) <= 0.5;
      if (ok) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(200ms);
    }
    auto f = ::testing::AssertionFailure() << promql << ":";
    for (const auto& [k, v] : got) f << " " << (k.empty() ? "base" : k) << "=" << v;
    return f;
  };
  // The gateway: which order lane served each request.
  EXPECT_TRUE(matches("sum by (lane_served) (graymesh_requests_total{direction=\"gateway\"})",
                      "lane_served", {{"gray", gray}, {"", base}}));
  // order's sidecars, inbound side: the instance's own lane served.
  EXPECT_TRUE(matches(
      "sum by (lane_served) (graymesh_requests_total{direction=\"inbound\",destination=\"order\"})",
      "lane_served", {{"gray", gray}, {"", base}}));
  // payment has no gray instance: gray was requested and base served.
  EXPECT_TRUE(matches(
      "sum by (lane_requested) (graymesh_requests_total{direction=\"outbound\",destination="
      "\"payment\",lane_served=\"\"})",
      "lane_requested", {{"gray", gray}, {"", base}}));
  // Past the base-only hop the lane is back: data's gray instance serves it.
  EXPECT_TRUE(matches(
      "sum by (lane_served) (graymesh_requests_total{direction=\"outbound\",destination=\"data\"})",
      "lane_served", {{"gray", gray}, {"", base}}));
  // The histogram counts the same requests.
  EXPECT_TRUE(matches(
      "sum by (lane_served) (graymesh_request_duration_seconds_count{direction=\"gateway\"})",
      "lane_served", {{"gray", gray}, {"", base}}));
}

}  // namespace
}  // namespace graymesh::test
