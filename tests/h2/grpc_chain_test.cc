// gRPC through the mesh with real peers (@grpc/grpc-js, tests/h2/grpc):
// gateway -> a's sidecar -> a -> a's sidecar -> b's sidecar -> b, b in base
// and gray. The lane travels in metadata exactly as in HTTP/1.1 headers;
// the apps forward only traceparent and baggage, as OpenTelemetry does.
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

struct GrpcServer {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;
  static GrpcServer Start(const std::string& name, uint16_t next = 0,
                          const std::string& next_service = "") {
    GrpcServer s;
    s.port = FreePort();
    std::vector<std::string> args = {"--no-warnings", GrpcDir() + "/server.js",
                                     std::to_string(s.port), name};
    if (next != 0) {
      args.push_back("127.0.0.1:" + std::to_string(next));
      args.push_back(next_service);
    }
    s.proc = std::make_unique<ChildProcess>("/usr/bin/node", args,
                                            std::vector<std::string>{GrpcNodePath()});
    EXPECT_TRUE(WaitForPort(s.port, 10s)) << s.proc->Log();
    return s;
  }
};

// Runs client.js; its one JSON line.
json Call(uint16_t port, const std::string& kind, const std::vector<std::string>& metadata = {},
          const std::string& env = "") {
  const std::string out = GrpcClient(port, kind, metadata, env);
  json j = json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  return j;
}

class GrpcChain : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(GrpcPeersInstalled())
        << "the gRPC test peers are not installed in " << GrpcModules()
        << ": run scripts/setup.sh";
    b_base_ = GrpcServer::Start("b");
    b_gray_ = GrpcServer::Start("b-gray");
    sc_b_base_ = Sidecar::Start("b", b_base_.port, "services: []\n");
    sc_b_gray_ = Sidecar::Start("b", b_gray_.port, "services: []\n");
    // a's sidecar is started before a, which needs its outbound port.
    const uint16_t a_port = FreePort();
    sc_a_ = Sidecar::Start(
        "a", a_port,
        "services:\n  - name: b\n    protocol: http2\n    endpoints:\n"
        "      - address: 127.0.0.1:" + std::to_string(sc_b_base_.inbound) + "\n"
        "      - address: 127.0.0.1:" + std::to_string(sc_b_gray_.inbound) + "\n"
        "        labels: { lane: gray }\n");
    a_ = StartAt(a_port, "a", sc_a_.outbound, "b");
    gw_ = Gateway::Start(
        "routes:\n  - { pathPrefix: /, service: a }\nservices:\n  - name: a\n"
        "    protocol: http2\n    endpoints:\n      - address: 127.0.0.1:" +
        std::to_string(sc_a_.inbound) +
        "\n  - name: nowhere\n    protocol: http2\n    endpoints: []\n"
        "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      match:\n"
        "        - headers: { x-env: gray }\n"
        "  - name: blue\n    tag: blue\n    entrance:\n      match:\n"
        "        - headers: { x-env: blue }\n");
  }

  static GrpcServer StartAt(uint16_t port, const std::string& name, uint16_t next,
                            const std::string& next_service) {
    GrpcServer s;
    s.port = port;
    s.proc = std::make_unique<ChildProcess>(
        "/usr/bin/node",
        std::vector<std::string>{"--no-warnings", GrpcDir() + "/server.js", std::to_string(port),
                                 name, "127.0.0.1:" + std::to_string(next), next_service},
        std::vector<std::string>{GrpcNodePath()});
    EXPECT_TRUE(WaitForPort(port, 10s)) << s.proc->Log();
    return s;
  }

  GrpcServer b_base_, b_gray_, a_;
  Sidecar sc_b_base_, sc_b_gray_, sc_a_;
  Gateway gw_;
};

TEST_F(GrpcChain, UnaryKeepsItsLaneAlongTheChain) {
  EXPECT_EQ(Call(gw_.port, "unary", {"x-env=gray"}), json({{"ok", {"a:gray>b-gray:gray"}}}));
  EXPECT_EQ(Call(gw_.port, "unary"), json({{"ok", {"a:>b:"}}}));
  // Back to gray after a base call: nothing sticks to the connection.
  EXPECT_EQ(Call(gw_.port, "unary", {"x-env=gray"}), json({{"ok", {"a:gray>b-gray:gray"}}}));
}

TEST_F(GrpcChain, LaneWithoutAnInstanceFallsBackToBaseAndKeepsTheLane) {
  EXPECT_EQ(Call(gw_.port, "unary", {"x-env=blue"}), json({{"ok", {"a:blue>b:blue"}}}));
}

TEST_F(GrpcChain, BidiStreamingKeepsItsLane) {
  EXPECT_EQ(Call(gw_.port, "bidi", {"x-env=gray"}),
            json({{"ok", {"a:gray>b-gray:gray:m0", "a:gray>b-gray:gray:m1",
                          "a:gray>b-gray:gray:m2"}}}));
  EXPECT_EQ(Call(gw_.port, "bidi"), json({{"ok", {"a:>b::m0", "a:>b::m1", "a:>b::m2"}}}));
}

TEST_F(GrpcChain, ServerAndClientStreamingPass) {
  EXPECT_EQ(Call(gw_.port, "server", {"x-env=gray"}),
            json({{"ok", {"a:gray#0", "a:gray#1", "a:gray#2"}}}));
  EXPECT_EQ(Call(gw_.port, "client", {"x-env=gray"}), json({{"ok", {"a:gray#5"}}}));
}

// The proxy's own errors reach a gRPC client as gRPC statuses.
TEST_F(GrpcChain, NoEndpointIsUnavailableWithTheReason) {
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: nowhere }\nservices:\n  - name: nowhere\n"
      "    protocol: http2\n    endpoints: []\n");
  json r = Call(gw.port, "unary");
  EXPECT_EQ(r.value("code", -1), 14) << r.dump();
  EXPECT_NE(r.value("details", "").find("no endpoint available for service 'nowhere'"),
            std::string::npos)
      << r.dump();
}

// A client deadline ends the call through the chain (the proxy side of
// grpc-timeout is shown by Http2Proxy.GrpcTimeoutEndsTheCallAtTheProxy).
TEST_F(GrpcChain, ClientDeadlineEndsTheCall) {
  auto start = std::chrono::steady_clock::now();
  json r = Call(gw_.port, "unary", {}, "DEADLINE_MS=400 SLEEP_MS=5000");
  EXPECT_EQ(r.value("code", -1), 4) << r.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

}  // namespace
}  // namespace graymesh::test
