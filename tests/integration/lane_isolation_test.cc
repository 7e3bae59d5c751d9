// Lanes that hold with apps that forward what OpenTelemetry forwards (trace
// context and baggage) or only traceparent: rules on a deep service see the
// entry's headers (carried values), loose mode never lends a lane to a base
// request, every place that dyes makes sure the chain can keep the lane, and
// entries believe lane headers only from trusted clients. Real gateway,
// sidecars and sample apps on loopback.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/mesh_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string Get(uint16_t port, const HeaderList& headers) {
  Response r = HttpGet(port, "/checkout", headers);
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  return PathOf(r.body);
}

std::string Traceparent(int n) {
  char id[33];
  std::snprintf(id, sizeof(id), "%032x", 0xabc000 + n);
  return std::string("00-") + id + "-00f067aa0ba902b7-01";
}

const char* kDataUsers = R"(lanes:
  - name: vip-data
    tag: gray
    entrance:
      service: data
      match:
        - headers: { x-user-id: { range: { min: 100, max: 199 } } }
)";

// Item 1: a rule on `data` reads x-user-id, sent only at the entry; order
// and payment forward only trace context and baggage (or only traceparent),
// never x-user-id.
void RunDeepS3(const std::string& propagate) {
  Mesh mesh;
  mesh.Add("order", "", {"payment"}).propagate = propagate;
  mesh.Add("payment", "", {"data"}).propagate = propagate;
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(kDataUsers);
  for (int user : {100, 150, 199}) {
    EXPECT_EQ(Get(mesh.gateway_port(), {{"x-user-id", std::to_string(user)}}),
              "order:base>payment:base>data:gray")
        << "user " << user;
  }
  for (int user : {99, 200, 5000}) {
    EXPECT_EQ(Get(mesh.gateway_port(), {{"x-user-id", std::to_string(user)}}),
              "order:base>payment:base>data:base")
        << "user " << user;
  }
  EXPECT_EQ(Get(mesh.gateway_port(), {}), "order:base>payment:base>data:base");
  // With the client's own trace context, alternating users on one trace:
  // each request carries its own user, not the trace's previous one.
  for (int i = 0; i < 6; ++i) {
    const bool vip = i % 2 == 0;
    EXPECT_EQ(Get(mesh.gateway_port(),
                  {{"x-user-id", vip ? "150" : "250"}, {"traceparent", Traceparent(1)}}),
              vip ? "order:base>payment:base>data:gray" : "order:base>payment:base>data:base")
        << "request " << i;
  }
}

TEST(LaneIsolation, S3RuleOnADeepServiceMatchesTheEntryHeaderThroughBaggage) {
  RunDeepS3("all");
}

TEST(LaneIsolation, S3RuleOnADeepServiceMatchesTheEntryHeaderInLooseMode) {
  RunDeepS3("trace");
}

// Rules can read W3C baggage members by name; a client's own (non-graymesh)
// members are believed even at an untrusting gateway.
TEST(LaneIsolation, BaggageConditionMatchesAMemberSentAtTheEntry) {
  Mesh mesh;
  mesh.Add("order", "", {"data"});
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(R"(lanes:
  - name: acme
    tag: gray
    entrance:
      service: data
      match:
        - baggage: { tenant: { exact: "acme corp" } }
)");
  EXPECT_EQ(Get(mesh.gateway_port(), {{"baggage", "k=v,tenant=acme%20corp"}}),
            "order:base>data:gray");
  EXPECT_EQ(Get(mesh.gateway_port(), {{"baggage", "tenant=initech"}}), "order:base>data:base");
  EXPECT_EQ(Get(mesh.gateway_port(), {}), "order:base>data:base");
}

// Item 2: loose mode. Base and gray requests share a trace id; order's app
// forwards only traceparent. A base request never follows the trace's
// earlier lane, and a gray one keeps its own, in both orders.
TEST(LaneIsolation, LooseModeNeverLendsALaneToABaseRequestOfTheSameTrace) {
  Mesh mesh;
  mesh.Add("order", "", {"data"}).propagate = "trace";
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(R"(lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - headers: { x-env: { exact: gray } }
)");
  const HeaderList gray_env = {{"x-env", "gray"}};
  for (int round = 0; round < 3; ++round) {
    // Gray first, then base on the same trace.
    const std::string t1 = Traceparent(100 + round);
    EXPECT_EQ(Get(mesh.gateway_port(), {{"x-env", "gray"}, {"traceparent", t1}}),
              "order:base>data:gray");
    EXPECT_EQ(Get(mesh.gateway_port(), {{"traceparent", t1}}), "order:base>data:base")
        << "a base request got the lane its trace id had before";
    // Base first, then gray, then base again.
    const std::string t2 = Traceparent(200 + round);
    EXPECT_EQ(Get(mesh.gateway_port(), {{"traceparent", t2}}), "order:base>data:base");
    EXPECT_EQ(Get(mesh.gateway_port(), {{"x-env", "gray"}, {"traceparent", t2}}),
              "order:base>data:gray");
    EXPECT_EQ(Get(mesh.gateway_port(), {{"traceparent", t2}}), "order:base>data:base");
  }
}

// Item 3: a lane rule at order's inbound side (an entry that is not the
// gateway, e.g. behind a self-built Nginx) dyes the request; the apps forward
// only traceparent and the client sent none, so the sidecar must make one up
// and remember its lane.
TEST(LaneIsolation, InboundRuleDyesAChainOfAppsForwardingOnlyTraceparent) {
  Mesh mesh;
  MeshInstance& order = mesh.Add("order", "", {"payment"});
  order.propagate = "trace";
  mesh.Add("payment", "", {"data"}).propagate = "trace";
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(R"(lanes:
  - name: gray-env
    tag: gray
    entrance:
      service: order
      match:
        - headers: { x-env: { exact: gray } }
)");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Get(order.inbound, {{"x-env", "gray"}}), "order:base>payment:base>data:gray");
    EXPECT_EQ(Get(order.inbound, {}), "order:base>payment:base>data:base");
  }
}

// Item 6: the gateway believes no client's lane headers by default: neither
// x-graymesh-lane nor graymesh-* baggage members (the lane, or carried values
// that would make a deeper rule match), and they do not reach the apps.
TEST(LaneIsolation, GatewayIgnoresAndStripsClientLaneHeadersByDefault) {
  Mesh mesh;
  mesh.Add("order", "", {"data"});
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(kDataUsers);
  const HeaderList forged[] = {
      {{"x-graymesh-lane", "gray"}},
      {{"baggage", "graymesh-lane=gray"}},
      {{"baggage", "graymesh-h-x-user-id=150"}},
      {{"x-graymesh-lane", "gray"}, {"baggage", "a=1,graymesh-lane=gray"}},
  };
  for (const HeaderList& h : forged) {
    Response r = HttpGet(mesh.gateway_port(), "/checkout", h);
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(PathOf(r.body), "order:base>data:base") << h[0].second;
    const json seen = json::parse(r.body)["headers"];
    EXPECT_FALSE(seen.contains("x-graymesh-lane")) << seen;
    EXPECT_EQ(seen.value("baggage", "").find("graymesh-"), std::string::npos) << seen;
  }
  // The client's other baggage members go on.
  Response r = HttpGet(mesh.gateway_port(), "/checkout", {{"baggage", "a=1,graymesh-lane=gray"}});
  EXPECT_EQ(json::parse(r.body)["headers"].value("baggage", ""), "a=1");
  // What the entry rules decide still holds.
  EXPECT_EQ(Get(mesh.gateway_port(), {{"x-user-id", "150"}}), "order:base>data:gray");
}

TEST(LaneIsolation, GatewayBelievesLaneHeadersFromTrustedClients) {
  Mesh mesh;
  mesh.gateway_trust = "loopback";
  mesh.Add("order", "", {"data"});
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start("");
  EXPECT_EQ(Get(mesh.gateway_port(), {{"x-graymesh-lane", "gray"}}), "order:base>data:gray");
  EXPECT_EQ(Get(mesh.gateway_port(), {{"baggage", "graymesh-lane=gray"}}),
            "order:base>data:gray");
}

// A sidecar's inbound side believes its clients by default (other sidecars,
// an access layer that sets the lane on purpose); `--trust none` makes it an
// entry that decides by its own rules only.
TEST(LaneIsolation, SidecarInboundTrustIsConfigurable) {
  for (bool trusting : {true, false}) {
    Mesh mesh;
    MeshInstance& order = mesh.Add("order", "", {"data"});
    if (!trusting) order.sidecar_args = {"--trust", "none", "--lane-header", "x-mse-tag"};
    mesh.Add("data", "");
    mesh.Add("data", "gray");
    mesh.Start("");
    const std::string want = trusting ? "order:base>data:gray" : "order:base>data:base";
    EXPECT_EQ(Get(order.inbound, {{"x-graymesh-lane", "gray"}}), want) << trusting;
    EXPECT_EQ(Get(order.inbound, {{"baggage", "graymesh-lane=gray"}}), want) << trusting;
    if (trusting) continue;
    EXPECT_EQ(Get(order.inbound, {{"x-mse-tag", "gray"}}), want);
    // Untrusted lane headers do not reach the app either.
    Response echo = HttpGet(order.inbound, "/echo",
                            {{"x-graymesh-lane", "gray"},
                             {"x-mse-tag", "gray"},
                             {"x-graymesh-source", "payment"},
                             {"baggage", "graymesh-lane=gray,graymesh-h-x-user-id=150,k=v"}});
    ASSERT_EQ(echo.status, 200) << echo.error;
    std::string baggage;
    const json body = json::parse(echo.body);
    for (const json& h : body["headers"]) {
      const std::string name = h[0].get<std::string>();
      EXPECT_NE(name, "x-graymesh-lane");
      EXPECT_NE(name, "x-mse-tag");
      EXPECT_NE(name, "x-graymesh-source");
      if (name == "baggage") baggage = h[1].get<std::string>();
    }
    EXPECT_EQ(baggage, "k=v") << echo.body << " (the client's own members stay)";
  }
}

// `graymesh gateway --trust`: the lane header a client sends reaches the
// app (re-sent by the gateway as the request's lane) only from a trusted one.
TEST(LaneIsolation, GatewayTrustFlag) {
  const uint16_t app = FreePort();
  ChildProcess app_proc(GraymeshBin(), {"sample-app", "--name", "order", "--listen",
                                        "127.0.0.1:" + std::to_string(app)});
  ASSERT_TRUE(WaitForPort(app, 5s)) << app_proc.Log();
  const std::string cfg = TestTempDir() + "/trust-flag-gateway.yaml";
  std::ofstream(cfg) << "workers: 1\nroutes:\n  - { pathPrefix: /, service: order }\n"
                     << "services:\n  - name: order\n    endpoints:\n      - address: 127.0.0.1:"
                     << app << "\n";
  for (const char* trust : {"loopback", "none", "10.0.0.0/8,192.168.0.1"}) {
    const uint16_t port = FreePort();
    ChildProcess gw(GraymeshBin(), {"gateway", "--config", cfg, "--listen",
                                    "127.0.0.1:" + std::to_string(port), "--admin", "none",
                                    "--trust", trust});
    ASSERT_TRUE(WaitForPort(port, 5s)) << gw.Log();
    Response r = HttpGet(port, "/echo", {{"x-graymesh-lane", "gray"}});
    ASSERT_EQ(r.status, 200) << r.error;
    const json body = json::parse(r.body);
    std::string lane;
    for (const json& h : body["headers"]) {
      if (h[0].get<std::string>() == "x-graymesh-lane") lane = h[1].get<std::string>();
    }
    EXPECT_EQ(lane, std::string(trust) == "loopback" ? "gray" : "") << trust;
  }
}

// A bad --trust or `trust:` is refused at start, naming the value.
TEST(LaneIsolation, BadTrustIsRefusedAtStart) {
  const uint16_t port = FreePort();
  ChildProcess gw(GraymeshBin(), {"gateway", "--listen", "127.0.0.1:" + std::to_string(port),
                                  "--admin", "none", "--trust", "everyone"});
  EXPECT_EQ(gw.Wait(5s), 2);
  EXPECT_NE(gw.Log().find("--trust everyone"), std::string::npos) << gw.Log();
  ChildProcess px(GraymeshBin(), {"proxy", "--service", "order", "--app", "127.0.0.1:1",
                                  "--inbound", "127.0.0.1:" + std::to_string(FreePort()),
                                  "--outbound", "127.0.0.1:" + std::to_string(FreePort()),
                                  "--admin", "none", "--trust", "10.0.0.0/33"});
  EXPECT_EQ(px.Wait(5s), 2);
  EXPECT_NE(px.Log().find("--trust 10.0.0.0/33"), std::string::npos) << px.Log();
  const std::string cfg = TestTempDir() + "/bad-trust.yaml";
  std::ofstream(cfg) << "listeners:\n  - name: ingress\n    address: 127.0.0.1:" << port
                     << "\n    trust: [10.0.0.0/8, nobody]\n";
  ChildProcess file(GraymeshBin(), {"gateway", "--config", cfg, "--admin", "none"});
  EXPECT_EQ(file.Wait(5s), 2);
  EXPECT_NE(file.Log().find("bad-trust.yaml:4: listeners[0].trust[1]: expected an IP address or "
                            "CIDR, got \"nobody\""),
            std::string::npos)
      << file.Log();
}

}  // namespace
}  // namespace graymesh::test
