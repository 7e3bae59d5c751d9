// Full-link gray release, one test per scenario of the case study (S1, S2, S3):
// real gateway, sidecars and sample apps; assertions on the path each request
// reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/mesh_fixture.h"
#include "support/http_client.h"

namespace graymesh::test {
namespace {

using nlohmann::json;

std::string Get(const Mesh& mesh, const HeaderList& headers) {
  Response r = HttpGet(mesh.gateway_port(), "/checkout", headers);
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  return PathOf(r.body);
}

const char* kTenPercentGray = R"(lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - percent: 10
          stickyOn: header:x-user-id
)";

// S1: 10% dyed at the gateway; order[gray] -> payment[base only] -> data[gray].
void RunS1(const std::string& payment_propagation) {
  Mesh mesh;
  mesh.Add("order", "", {"payment"});
  mesh.Add("order", "gray", {"payment"});
  mesh.Add("payment", "", {"data"}).propagate = payment_propagation;
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(kTenPercentGray);

  const int n = 2000;
  int gray = 0;
  for (int user = 0; user < n; ++user) {
    std::string path = Get(mesh, {{"x-user-id", std::to_string(user)}});
    if (path == "order:gray>payment:base>data:gray") {
      ++gray;
    } else {
      // A base request never touches a gray instance.
      ASSERT_EQ(path, "order:base>payment:base>data:base") << "user " << user;
    }
  }
  EXPECT_NEAR(gray, n / 10, n / 40) << "10% +- 2.5%";
  // Sticky: the same user gets the same lane again.
  for (int user = 0; user < 40; ++user) {
    std::string first = Get(mesh, {{"x-user-id", std::to_string(user)}});
    EXPECT_EQ(Get(mesh, {{"x-user-id", std::to_string(user)}}), first);
  }
}

TEST(Lanes, S1_ColoredByNodeAcrossABaseOnlyService) { RunS1("all"); }

// Loose mode: payment forwards only traceparent; its sidecar remembers the
// trace's lane from the inbound request.
TEST(Lanes, S1_LooseModeKeepsTheLaneThroughAnAppForwardingOnlyTraceparent) { RunS1("trace"); }

TEST(Lanes, S1_WithoutPropagationTheLaneIsLostAfterTheBaseHop) {
  // What loose mode protects against: an app that forwards nothing drops the
  // lane, so gray order's call lands on base data after payment.
  Mesh mesh;
  mesh.Add("order", "gray", {"payment"});
  mesh.Add("payment", "", {"data"}).propagate = "none";
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  // The request is dyed gray at the gateway: a base request would get 503
  // from order, which has no base instance.
  mesh.Start("lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      match:\n"
             "        - headers: { x-env: gray }\n");
  EXPECT_EQ(Get(mesh, {{"x-env", "gray"}}), "order:gray>payment:base>data:base");
}

// S2: environments chosen by header, each changing different services,
// isolated from each other and sharing the base.
TEST(Lanes, S2_EnvironmentsByHeaderAreIsolated) {
  Mesh mesh;
  mesh.Add("order", "", {"payment"});
  mesh.Add("order", "proj-a", {"payment"});
  mesh.Add("payment", "", {"data"});
  mesh.Add("payment", "proj-b", {"data"});
  mesh.Add("data", "");
  mesh.Add("data", "proj-a");
  mesh.Start(R"(lanes:
  - name: proj-a
    tag: proj-a
    entrance:
      match:
        - headers: { x-env: { exact: proj-a } }
  - name: proj-b
    tag: proj-b
    entrance:
      match:
        - headers: { x-env: { exact: proj-b } }
)");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Get(mesh, {{"x-env", "proj-a"}}), "order:proj-a>payment:base>data:proj-a");
    EXPECT_EQ(Get(mesh, {{"x-env", "proj-b"}}), "order:base>payment:proj-b>data:base");
    EXPECT_EQ(Get(mesh, {}), "order:base>payment:base>data:base");
  }
}

// S3: a rule on the data service alone: users 100..199 reach gray data,
// everyone else base; the apps pass x-user-id along themselves.
TEST(Lanes, S3_RuleOnOneServiceSendsMatchingUsersToGray) {
  Mesh mesh;
  mesh.Add("order", "", {"payment"}).forward_headers = {"x-user-id"};
  mesh.Add("payment", "", {"data"}).forward_headers = {"x-user-id"};
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start(R"(lanes:
  - name: gray-users
    tag: gray
    entrance:
      service: data
      match:
        - headers: { x-user-id: { range: { min: 100, max: 199 } } }
)");
  for (int user : {100, 150, 199}) {
    EXPECT_EQ(Get(mesh, {{"x-user-id", std::to_string(user)}}),
              "order:base>payment:base>data:gray")
        << user;
  }
  for (int user : {99, 200, 5000}) {
    EXPECT_EQ(Get(mesh, {{"x-user-id", std::to_string(user)}}),
              "order:base>payment:base>data:base")
        << user;
  }
  EXPECT_EQ(Get(mesh, {}), "order:base>payment:base>data:base");
}

TEST(Lanes, FallbackNoneAnswers503WhenTheLaneHasNoInstance) {
  Mesh mesh;
  mesh.Add("order", "", {"payment"});
  mesh.Add("payment", "");
  mesh.Start(R"(lanes:
  - name: blue
    tag: blue
    fallback: none
    entrance:
      match:
        - headers: { x-env: { exact: blue } }
  - name: green
    tag: green
    entrance:
      match:
        - headers: { x-env: { exact: green } }
)");
  Response strict = HttpGet(mesh.gateway_port(), "/checkout", {{"x-env", "blue"}});
  EXPECT_EQ(strict.status, 503);
  EXPECT_NE(strict.Header("x-graymesh-reason").find("lane 'blue'"), std::string::npos)
      << strict.Header("x-graymesh-reason");
  // The default, fallback: base, serves a lane without instances from base.
  EXPECT_EQ(Get(mesh, {{"x-env", "green"}}), "order:base>payment:base");
}

// An entry that is not the gateway (a self-built Nginx, another app): rules
// for a service apply at its sidecar's inbound side, and the lane goes on.
TEST(Lanes, EntranceRulesAtASidecarInboundDyeTheRestOfTheChain) {
  Mesh mesh;
  MeshInstance& order = mesh.Add("order", "", {"payment"});
  mesh.Add("payment", "");
  mesh.Add("payment", "gray");
  mesh.Start(R"(lanes:
  - name: beta-users
    tag: gray
    entrance:
      service: order
      match:
        - cookies: { beta: { exact: "1" } }
)");
  Response dyed = HttpGet(order.inbound, "/checkout", {{"Cookie", "sid=7; beta=1"}});
  ASSERT_EQ(dyed.status, 200) << dyed.error;
  EXPECT_EQ(PathOf(dyed.body), "order:base>payment:gray");
  Response plain = HttpGet(order.inbound, "/checkout", {{"Cookie", "sid=7"}});
  EXPECT_EQ(PathOf(plain.body), "order:base>payment:base");
}

// Another header name can carry the lane (e.g. MSE's x-mse-tag) on the
// sidecars told so; without the flag the same request stays base.
TEST(Lanes, LaneHeaderAliasIsHonouredWhereConfigured) {
  for (bool alias : {true, false}) {
    Mesh mesh;
    MeshInstance& order = mesh.Add("order", "", {"payment"});
    order.forward_headers = {"x-mse-tag"};  // the app passes it on, as an MSE app would
    if (alias) order.sidecar_args = {"--lane-header", "x-mse-tag"};
    mesh.Add("payment", "");
    mesh.Add("payment", "gray");
    mesh.Start("");
    Response r = HttpGet(order.inbound, "/checkout", {{"x-mse-tag", "gray"}});
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(PathOf(r.body), alias ? "order:base>payment:gray" : "order:base>payment:base");
  }
}

}  // namespace
}  // namespace graymesh::test
