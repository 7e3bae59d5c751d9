// Rules on a real `graymesh control`: apply (all or nothing), get, delete.
#include <gtest/gtest.h>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

using nlohmann::json;

const char kRules[] = R"(kind: TrafficLane
name: gray
spec:
  tag: gray
  priority: 10
  entrance:
    gateway: ingress
    match:
      - headers: { x-user-id: { regex: "^1[0-9]{2}$" } }
      - percent: 10
        stickyOn: header:x-user-id
---
kind: Route
name: shop
spec:
  host: Shop.Example.com
  pathPrefix: /order
  service: order
---
kind: ServicePolicy
name: order
spec:
  warmup: { window: 120s, aggression: 1.0, minWeightPercent: 10 }
  outlier: { consecutiveErrors: 5, errorRatePercent: 50, minRequests: 20,
             interval: 10s, baseEjection: 30s, maxEjectionPercent: 20 }
  lossless: { delayRegistration: 0s, drainTimeout: 30s }
)";

Response Apply(const ControlPlane& cp, const std::string& yaml, const std::string& file = "") {
  HeaderList h;
  if (!file.empty()) h.emplace_back("x-graymesh-file", file);
  return cp.Send("POST", "/v1/apply", yaml, h);
}

TEST(ControlRules, ApplyStoresEveryKindOnceAndReportsChanges) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  Response r = Apply(cp, kRules);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["results"], json::parse(R"([
      {"kind":"TrafficLane","name":"gray","result":"created"},
      {"kind":"Route","name":"shop","result":"created"},
      {"kind":"ServicePolicy","name":"order","result":"created"}])"));
  EXPECT_EQ(cp.Revision(), rev + 1) << "one apply is one change";

  json lane = Json(cp.Get("/v1/rules/TrafficLane/gray"));
  EXPECT_EQ(lane["spec"]["tag"], "gray");
  EXPECT_EQ(lane["spec"]["entrance"]["match"][1],
            json({{"percent", 10}, {"stickyOn", "header:x-user-id"}}));
  EXPECT_EQ(Json(cp.Get("/v1/rules/route/shop"))["spec"]["host"], "shop.example.com")
      << "kinds are case-insensitive in paths; hosts are stored lower-case";
  json policy = Json(cp.Get("/v1/rules/ServicePolicy/order"))["spec"];
  EXPECT_EQ(policy["warmup"],
            json({{"window", "120s"}, {"aggression", 1.0}, {"minWeightPercent", 10}}));
  EXPECT_EQ(policy["lossless"]["drainTimeout"], "30s");
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 3u);
  EXPECT_EQ(Json(cp.Get("/v1/rules?kind=Route"))["rules"].size(), 1u);
  EXPECT_EQ(cp.Get("/v1/rules?kind=Gadget").status, 400);

  // Applying the same again changes nothing; an edit is "configured".
  Response same = Apply(cp, kRules);
  EXPECT_EQ(Json(same)["results"][0]["result"], "unchanged");
  EXPECT_EQ(cp.Revision(), rev + 1);
  Response edit = Apply(cp, "kind: Route\nname: shop\nspec:\n  service: order\n");
  EXPECT_EQ(Json(edit)["results"][0]["result"], "configured");
  EXPECT_EQ(cp.Revision(), rev + 2);

  // The snapshot carries them in the rule shapes.
  json snap = Json(cp.Get("/v1/snapshot"));
  EXPECT_EQ(snap["lanes"][0]["name"], "gray");
  EXPECT_EQ(snap["routes"][0], json({{"name", "shop"}, {"service", "order"}}));
  EXPECT_EQ(snap["policies"][0]["name"], "order");
  EXPECT_EQ(snap["services"][0]["name"], "order") << "a route target is a service, if empty";
  EXPECT_EQ(snap["services"][0]["endpoints"], json::array());
}

TEST(ControlRules, ApplyIsAllOrNothingAndNamesLineDocumentAndField) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  const std::string bad = R"(kind: Route
name: good
spec:
  service: order
---
kind: ServicePolicy
name: order
spec:
  warmup:
    window: 120s
    minWeightPercent: 101
)";
  Response r = Apply(cp, bad, "rules.yaml");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Json(r)["error"],
            "rules.yaml:11: document 2 (ServicePolicy order): spec.warmup.minWeightPercent: "
            "must be 0..100, got 101");
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 0u) << "the good first document too";
  EXPECT_EQ(cp.Get("/v1/rules/Route/good").status, 404);
  EXPECT_EQ(cp.Revision(), rev);
  EXPECT_EQ(cp.Metric("graymesh_control_applies_total{result=\"error\"}"), 1);

  // A bad lane (the shared lane parser) and an unknown kind, likewise.
  Response lane =
      Apply(cp, "kind: TrafficLane\nname: x\nspec:\n  tag: x\n  fallback: maybe\n", "lanes.yaml");
  EXPECT_EQ(Json(lane)["error"],
            "lanes.yaml:5: document 1 (TrafficLane x): spec.fallback: must be base or none, "
            "got \"maybe\"");
  Response base = Apply(cp, "kind: ServicePolicy\nname: data\nspec:\n  baseFallback: any\n",
                        "policy.yaml");
  EXPECT_EQ(Json(base)["error"],
            "policy.yaml:4: document 1 (ServicePolicy data): spec.baseFallback: must be none or "
            "anyLane, got \"any\"");
  Response kind = Apply(cp, "kind: Gadget\nname: x\nspec: {}\n");
  EXPECT_EQ(kind.status, 400);
  EXPECT_NE(Json(kind)["error"].get<std::string>().find(
                "request:1: document 1: kind: unsupported kind \"Gadget\""),
            std::string::npos)
      << kind.body;
  Response dup = Apply(cp,
                       "kind: Route\nname: a\nspec: {service: s}\n---\n"
                       "kind: Route\nname: a\nspec: {service: t}\n");
  EXPECT_NE(Json(dup)["error"].get<std::string>().find("duplicate Route \"a\""), std::string::npos)
      << dup.body;
  EXPECT_EQ(cp.Revision(), rev);
}

TEST(ControlRules, MalformedYamlAndEmptyBodiesAre400) {
  ControlPlane cp = ControlPlane::Start();
  Response r = Apply(cp, "kind: Route\nname: [unclosed\n", "x.yaml");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Json(r)["error"].get<std::string>().find("x.yaml:"), std::string::npos) << r.body;
  EXPECT_NE(Json(r)["error"].get<std::string>().find("invalid YAML"), std::string::npos);
  Response empty = Apply(cp, "# nothing\n");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(Json(empty)["error"].get<std::string>().find("no rule documents"), std::string::npos);
}

TEST(ControlRules, DeleteRemovesOnceThen404) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(Apply(cp, kRules).status, 200);
  const int64_t rev = cp.Revision();
  Response del = cp.Send("DELETE", "/v1/rules/TrafficLane/gray", "");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(cp.Revision(), rev + 1);
  EXPECT_EQ(cp.Get("/v1/rules/TrafficLane/gray").status, 404);
  EXPECT_EQ(cp.Send("DELETE", "/v1/rules/TrafficLane/gray", "").status, 404);
  EXPECT_EQ(cp.Send("DELETE", "/v1/rules/Gadget/gray", "").status, 400);
  EXPECT_EQ(cp.Revision(), rev + 1);
  EXPECT_EQ(Json(cp.Get("/v1/snapshot"))["lanes"], json::array());
}

TEST(ControlRules, UnknownPathsAndMethods) {
  ControlPlane cp = ControlPlane::Start();
  EXPECT_EQ(cp.Get("/v2/nothing").status, 404);
  Response m = cp.Send("DELETE", "/v1/services", "");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.Header("allow"), "GET");
  EXPECT_EQ(cp.Get("/healthz").body, "ok\n");
}

}  // namespace
}  // namespace graymesh::test
