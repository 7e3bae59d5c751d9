// From YAML to a routing decision: the documented shapes load and behave as
// the docs say (static `lanes:` and TrafficLane documents).
#include <gtest/gtest.h>

#include "config/config.h"
#include "lane/entrance.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using testing::TestRequest;

constexpr const char* kConfig = R"(listeners:
  - name: ingress
    address: 127.0.0.1:8080
lanes:
  - name: gray
    tag: gray
    priority: 10
    entrance:
      gateway: ingress
      match:
        - headers: { x-user-id: { regex: "^1[0-9]{2}$" }, X-Env: gray }
          cookies: { env: { in: [gray, canary] } }
          query: { uid: { range: { min: 100, max: 199 } } }
          path: { prefix: /api }
          method: { in: [GET, POST] }
          sourceAddress: { in: ["10.0.0.0/8", "192.168.1.7"] }
        - percent: 10
          stickyOn: header:x-user-id
  - name: beta
    tag: beta
    entrance:
      match:
        - headers: { x-beta: { present: true } }
)";

TEST(LaneYaml, StaticConfigEndToEnd) {
  const config::Config c = config::ParseConfig(kConfig, "gw.yaml");
  const auto rules = EntranceRules::Compile(c.lanes, {"ingress", ""});
  TestRequest t;
  t.method = "POST";
  t.path = "/api/order";
  t.query = "uid=150";
  t.client = "10.3.4.5";
  t.headers = {{"X-User-Id", "150"}, {"x-env", "gray"}, {"cookie", "env=canary"}};
  EXPECT_EQ(rules->Match(t.View()), "gray");
  t.client = "11.3.4.5";  // the first clause fails; the 10% share decides
  EXPECT_EQ(rules->Match(t.View()), StickyBucket("150") < 10 ? "gray" : "");
  t.headers = {{"x-beta", ""}};
  EXPECT_EQ(rules->Match(t.View()), "beta");
  // At another gateway only the lane for every gateway applies.
  EXPECT_EQ(EntranceRules::Compile(c.lanes, {"admin", ""})->Match(t.View()), "beta");
}

TEST(LaneYaml, TrafficLaneDocuments) {
  const std::vector<config::Lane> lanes = config::ParseLaneDocuments(R"(kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    service: order
    match:
      - sourceService: payment
---
kind: TrafficLane
name: canary
spec:
  tag: canary
  priority: 1
  entrance:
    service: order
    match:
      - headers: { x-canary: { exact: "1" } }
)",
                                                                     "rules.yaml");
  const auto rules = EntranceRules::Compile(lanes, {"", "order"});
  TestRequest t;
  t.source = "payment";
  EXPECT_EQ(rules->Match(t.View()), "gray");
  t.headers = {{"x-canary", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "canary");  // priority 1 beats the default 100
  EXPECT_TRUE(EntranceRules::Compile(lanes, {"ingress", ""})->empty());
}

}  // namespace
}  // namespace graymesh::lane
