// Outlier ejection counts gRPC statuses: an endpoint answering HTTP 200 with
// grpc-status UNAVAILABLE (and the other server-side failures) is ejected
// the way one answering 5xx is; a status the caller caused (NOT_FOUND) is
// not, and `errorGrpcStatuses: []` turns the gRPC statuses off.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "h2/grpc_peers.h"
#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"
#include "support/ports.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// server.js on a free port; `fail_code` >= 0: every unary call fails with it.
std::unique_ptr<ChildProcess> StartServer(uint16_t port, const std::string& name, int fail_code) {
  std::vector<std::string> env{GrpcNodePath()};
  if (fail_code >= 0) env.push_back("FAIL_CODE=" + std::to_string(fail_code));
  auto p = std::make_unique<ChildProcess>(
      "/usr/bin/node",
      std::vector<std::string>{"--no-warnings", GrpcDir() + "/server.js", std::to_string(port),
                               name},
      env);
  EXPECT_TRUE(WaitForPort(port, 10s)) << p->Log();
  return p;
}

// `n` unary calls in one client process each; their JSON lines.
std::vector<json> Calls(uint16_t port, int n) {
  std::vector<json> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(json::parse(GrpcClient(port, "unary"), nullptr, false));
  }
  return out;
}

std::string Ejected(uint16_t port) {
  return "endpoint_ejected{service=\"app\",address=\"127.0.0.1:" + std::to_string(port) + "\"}";
}

class GrpcOutlier : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(GrpcPeersInstalled())
        << "the gRPC test peers are not installed in " << GrpcModules()
        << ": run scripts/setup.sh";
  }
  // Two endpoints: `good` and one failing with `fail_code`; retries off so
  // each call is one attempt; ejected after 2 errors in a row.
  void Start(int fail_code, const std::string& outlier_extra = "") {
    good_port_ = FreePort();
    bad_port_ = FreePort();
    good_ = StartServer(good_port_, "good", -1);
    bad_ = StartServer(bad_port_, "bad", fail_code);
    gw_ = Gateway::Start(
        "upstream: { retries: 0 }\nroutes:\n  - { pathPrefix: /, service: app }\nservices:\n"
        "  - name: app\n    protocol: http2\n"
        "    outlier: { consecutiveErrors: 2, maxEjectionPercent: 50" + outlier_extra + " }\n"
        "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(good_port_) +
        "\n      - address: 127.0.0.1:" + std::to_string(bad_port_) + "\n");
  }
  uint16_t good_port_ = 0, bad_port_ = 0;
  std::unique_ptr<ChildProcess> good_, bad_;
  Gateway gw_;
};

TEST_F(GrpcOutlier, UnavailableEjectsTheEndpoint) {
  Start(14);
  Calls(gw_.port, 6);  // round robin: 3 reach the failing one
  EXPECT_EQ(gw_.Metric(Ejected(bad_port_)), 1u);
  EXPECT_EQ(gw_.Metric(Ejected(good_port_)), 0u);
  for (const json& j : Calls(gw_.port, 4)) {  // then every call succeeds
    EXPECT_TRUE(j.contains("ok")) << j.dump();
  }
}

TEST_F(GrpcOutlier, InternalEjectsTheEndpoint) {
  Start(13);
  Calls(gw_.port, 6);
  EXPECT_EQ(gw_.Metric(Ejected(bad_port_)), 1u);
}

// NOT_FOUND says the request was wrong, not the endpoint.
TEST_F(GrpcOutlier, NotFoundDoesNotEject) {
  Start(5);
  Calls(gw_.port, 6);
  EXPECT_EQ(gw_.Metric(Ejected(bad_port_)), 0u);
}

TEST_F(GrpcOutlier, EmptyErrorGrpcStatusesCountsNone) {
  Start(14, ", errorGrpcStatuses: []");
  Calls(gw_.port, 6);
  EXPECT_EQ(gw_.Metric(Ejected(bad_port_)), 0u);
}

TEST_F(GrpcOutlier, ConfiguredErrorGrpcStatusesAreCounted) {
  Start(5, ", errorGrpcStatuses: [5]");
  Calls(gw_.port, 6);
  EXPECT_EQ(gw_.Metric(Ejected(bad_port_)), 1u);
}

}  // namespace
}  // namespace graymesh::test
