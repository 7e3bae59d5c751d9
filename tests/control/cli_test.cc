// `graymesh apply/get/delete` (the real binary) against a real control plane.
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
kind: TrafficLane
name: proj-a
spec:
  tag: proj-a
  entrance:
    service: data
    match:
      - headers: { x-env: proj-a }
---
kind: Route
name: shop
spec:
  host: shop.example.com
  pathPrefix: /order
  service: order
---
kind: ServicePolicy
name: order
spec:
  warmup: { window: 2m, minWeightPercent: 20 }
  fallback: none
)";

CliResult Cli(const ControlPlane& cp, std::vector<std::string> args) {
  args.insert(args.end(), {"--control", cp.url()});
  return RunCli(args);
}

TEST(ControlCli, ApplyPrintsWhatChanged) {
  ControlPlane cp = ControlPlane::Start();
  const std::string file = TempFile("rules.yaml", kRules);
  CliResult r = Cli(cp, {"apply", "-f", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "trafficlane/gray created\ntrafficlane/proj-a created\nroute/shop created\n"
            "servicepolicy/order created\n");
  r = Cli(cp, {"apply", "-f", file});
  EXPECT_EQ(r.out.find("trafficlane/gray unchanged\n"), 0u) << r.out;
}

TEST(ControlCli, ApplyErrorNamesFileDocumentAndFieldAndExits1) {
  ControlPlane cp = ControlPlane::Start();
  const std::string file = TempFile("bad.yaml", std::string(kRules) +
                                                    "---\nkind: Route\nname: b\nspec:\n"
                                                    "  service: order\n  pathPrefix: nope\n");
  CliResult r = Cli(cp, {"apply", "-f", file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("error: " + file +
                       ":39: document 5 (Route b): spec.pathPrefix: must start with '/', got "
                       "\"nope\""),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 0u);

  CliResult missing = Cli(cp, {"apply", "-f", "/nonexistent/rules.yaml"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/rules.yaml: cannot read"), std::string::npos)
      << missing.err;
}

TEST(ControlCli, GetPrintsAlignedTables) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(Cli(cp, {"apply", "-f", TempFile("rules.yaml", kRules)}).code, 0);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002", {{"lane", "gray"}}).status, 201);
  ASSERT_EQ(
      RegisterInstance(cp, "payment-center", "127.0.0.1:9101", {{"state", "starting"}}).status,
      201);

  CliResult services = Cli(cp, {"get", "services"});
  EXPECT_EQ(services.code, 0) << services.err;
  EXPECT_EQ(services.out,
            "NAME            INSTANCES  READY  LANES\n"
            "order           2          2      base=1,gray=1\n"
            "payment-center  1          0      base=1\n");

  CliResult lanes = Cli(cp, {"get", "lanes"});
  EXPECT_EQ(lanes.out,
            "NAME    TAG     PRIORITY  ENTRANCE         MATCHES  FALLBACK\n"
            "gray    gray    10        gateway/ingress  2        base\n"
            "proj-a  proj-a  100       service/data     1        base\n");
  EXPECT_EQ(Cli(cp, {"get", "routes"}).out,
            "NAME  HOST              PATH-PREFIX  SERVICE\n"
            "shop  shop.example.com  /order       order\n");
  EXPECT_EQ(Cli(cp, {"get", "policies"}).out,
            "NAME   WARMUP        OUTLIER  LOSSLESS  FALLBACK\n"
            "order  120s min 20%  -        -         none\n");

  CliResult instances = Cli(cp, {"get", "instances", "order"});
  std::vector<std::string> lines;
  for (size_t b = 0, e; (e = instances.out.find('\n', b)) != std::string::npos; b = e + 1) {
    lines.push_back(instances.out.substr(b, e - b));
  }
  ASSERT_EQ(lines.size(), 3u) << instances.out;
  EXPECT_TRUE(lines[0].starts_with("ID   ")) << lines[0];
  EXPECT_NE(lines[0].find("  SERVICE  ADDRESS         LANE  STATE  WEIGHT  AGE"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("  order    127.0.0.1:9001  -     ready  100     "), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("  order    127.0.0.1:9002  gray  ready  100     "), std::string::npos)
      << lines[2];
  // Every column starts where its header does.
  EXPECT_EQ(lines[1].find("  order") + 2, lines[0].find("SERVICE"));
  EXPECT_EQ(lines[2].find("gray"), lines[0].find("LANE"));

  CliResult none = Cli(cp, {"get", "instances", "nothing"});
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "No instances found.\n");
}

TEST(ControlCli, GetJsonAndYamlRoundTrip) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(Cli(cp, {"apply", "-f", TempFile("rules.yaml", kRules)}).code, 0);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);

  CliResult inst = Cli(cp, {"get", "instances", "-o", "json"});
  ASSERT_EQ(inst.code, 0) << inst.err;
  json list = json::parse(inst.out);
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list[0]["address"], "127.0.0.1:9001");

  CliResult lane = Cli(cp, {"get", "lane", "gray", "-o", "json"});
  json doc = json::parse(lane.out);
  EXPECT_EQ(doc["kind"], "TrafficLane");
  EXPECT_EQ(doc["name"], "gray");
  EXPECT_EQ(doc["spec"]["priority"], 10);
  EXPECT_FALSE(doc.contains("revision")) << "printed as an apply-able document";

  // YAML output is a rule file: applying it back changes nothing.
  CliResult yaml = Cli(cp, {"get", "lanes", "-o", "yaml"});
  ASSERT_EQ(yaml.code, 0);
  EXPECT_TRUE(yaml.out.starts_with("kind: TrafficLane\nname: gray\nspec:\n")) << yaml.out;
  EXPECT_NE(yaml.out.find("\n---\nkind: TrafficLane\nname: proj-a\n"), std::string::npos);
  const int64_t rev = cp.Revision();
  CliResult back = Cli(cp, {"apply", "-f", TempFile("back.yaml", yaml.out)});
  EXPECT_EQ(back.out, "trafficlane/gray unchanged\ntrafficlane/proj-a unchanged\n") << back.err;
  EXPECT_EQ(cp.Revision(), rev);

  CliResult nope = Cli(cp, {"get", "lanes", "nope"});
  EXPECT_EQ(nope.code, 1);
  EXPECT_EQ(nope.err, "error: TrafficLane \"nope\" not found\n");
}

TEST(ControlCli, DeleteRemovesThenSaysNotFound) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(Cli(cp, {"apply", "-f", TempFile("rules.yaml", kRules)}).code, 0);
  CliResult del = Cli(cp, {"delete", "lane", "gray"});
  EXPECT_EQ(del.code, 0) << del.err;
  EXPECT_EQ(del.out, "trafficlane/gray deleted\n");
  EXPECT_EQ(cp.Get("/v1/rules/TrafficLane/gray").status, 404);
  CliResult again = Cli(cp, {"delete", "lane", "gray"});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err, "error: TrafficLane \"gray\" not found\n");
  EXPECT_EQ(Cli(cp, {"delete", "services", "order"}).code, 2);

  const std::string id = Json(RegisterInstance(cp, "order", "127.0.0.1:9001"))["id"];
  EXPECT_EQ(Cli(cp, {"delete", "instance", id}).out, "instance/" + id + " deleted\n");
}

TEST(ControlCli, ControlUrlAndTokenFromTheEnvironment) {
  ControlPlane cp = ControlPlane::Start({"--token-file", TempFile("token", "t0k3n\n")});
  const std::string file = TempFile("rules.yaml", kRules);
  CliResult denied = RunCli({"apply", "-f", file}, {"GRAYMESH_CONTROL=" + cp.url()});
  EXPECT_EQ(denied.code, 1);
  EXPECT_NE(denied.err.find("missing or wrong bearer token (HTTP 401)"), std::string::npos)
      << denied.err;
  CliResult ok =
      RunCli({"apply", "-f", file}, {"GRAYMESH_CONTROL=" + cp.url(), "GRAYMESH_TOKEN=t0k3n"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(RunCli({"get", "routes"}, {"GRAYMESH_CONTROL=" + cp.url()}).code, 0)
      << "reads need no token";
}

TEST(ControlCli, UnreachableControlPlaneExits1) {
  CliResult r = RunCli({"get", "services", "--control", "http://127.0.0.1:1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach the control plane at http://127.0.0.1:1"), std::string::npos)
      << r.err;
  EXPECT_EQ(RunCli({"get", "gadgets"}).code, 2);
}

}  // namespace
}  // namespace graymesh::test
