// Gateway listener names as users meet them: the README's
// `graymesh gateway --listen ADDR` matches `entrance.gateway: ingress`, and a
// rule naming a listener that no connected gateway has is warned about by
// `graymesh apply` and in the gateway's log. Real processes throughout.
#include <gtest/gtest.h>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

std::string LaneAt(const std::string& gateway) {
  return "kind: Route\nname: shop\nspec:\n  pathPrefix: /\n  service: data\n---\n"
         "kind: TrafficLane\nname: gray\nspec:\n  tag: gray\n  entrance:\n    gateway: " +
         gateway + "\n    match:\n      - headers: { x-env: { exact: gray } }\n";
}

struct Gw {
  uint16_t port = FreePort();
  std::unique_ptr<ChildProcess> proc;
  Gw(const ControlPlane& cp, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"gateway", "--listen", Addr(port), "--control", cp.url(),
                                  "--admin", "none", "--workers", "1", "--cache",
                                  TestTempDir() + "/gw-" + std::to_string(port) + ".json"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<ChildProcess>(GraymeshBin(), args);
    EXPECT_TRUE(WaitForPort(port, 5s)) << proc->Log();
  }
  std::string Lane() const {
    Response r = HttpGet(port, "/x", {{"x-env", "gray"}});
    if (r.status != 200) return "error " + std::to_string(r.status);
    return nlohmann::json::parse(r.body, nullptr, false).value("lane", "?");
  }
};

TEST(GatewayListener, TheReadmeGatewayMatchesEntranceGatewayIngress) {
  ControlPlane cp = ControlPlane::Start();
  Instance base("data", "", "", cp);
  Instance gray("data", "gray", "", cp);
  ASSERT_TRUE(base.WaitReady(10s));
  ASSERT_TRUE(gray.WaitReady(10s));
  Gw gw(cp);
  CliResult applied =
      RunCli({"apply", "-f", TempFile("lane.yaml", LaneAt("ingress")), "--control", cp.url()});
  ASSERT_EQ(applied.code, 0) << applied.err;
  std::string last;
  EXPECT_TRUE(Eventually([&] { return (last = gw.Lane()) == "gray"; }, 8s))
      << last << "\n" << gw.proc->Log();
  EXPECT_EQ(applied.err.find("warning"), std::string::npos) << applied.err;
}

TEST(GatewayListener, ARuleNamingAListenerNoGatewayHasIsWarnedAbout) {
  ControlPlane cp = ControlPlane::Start();
  Instance base("data", "", "", cp);
  ASSERT_TRUE(base.WaitReady(10s));
  Gw gw(cp, {"--listen-name", "edge"});
  // The gateway's watch tells the control plane its listener names.
  ASSERT_TRUE(Eventually([&] { return cp.Metric("graymesh_control_watchers") >= 2; }, 8s));

  CliResult applied =
      RunCli({"apply", "-f", TempFile("lane.yaml", LaneAt("ingress")), "--control", cp.url()});
  EXPECT_EQ(applied.code, 0) << applied.err;
  EXPECT_NE(applied.out.find("trafficlane/gray created"), std::string::npos) << applied.out;
  EXPECT_NE(applied.err.find("warning: TrafficLane gray: entrance.gateway \"ingress\""),
            std::string::npos)
      << applied.err;
  EXPECT_NE(applied.err.find("edge"), std::string::npos) << "names the listeners there are: "
                                                          << applied.err;
  EXPECT_TRUE(Eventually(
      [&] { return gw.proc->Log().find("names gateway listener 'ingress'") != std::string::npos; },
      5s))
      << gw.proc->Log();

  // The warning is in the API answer too; a rule for a listener that exists
  // gets none.
  Response r = cp.Send("POST", "/v1/apply", LaneAt("edge"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["warnings"], nlohmann::json::array()) << r.body;
  r = cp.Send("POST", "/v1/apply", LaneAt("admin"));
  ASSERT_EQ(Json(r)["warnings"].size(), 1u) << r.body;
}

TEST(GatewayListener, BadListenerNamesInAWatchAre400) {
  ControlPlane cp = ControlPlane::Start();
  Response r = cp.Get("/v1/snapshot?version=0&gateway=ingress,,x");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Header("x-graymesh-reason").find("gateway"), std::string::npos) << r.body;
  EXPECT_EQ(cp.Get("/v1/snapshot?version=0&gateway=ingress,admin").status, 200);
}

TEST(GatewayListener, BadNamesAndFillPeriodsAreRefusedAtStart) {
  CliResult gw = RunCli({"gateway", "--listen", Addr(FreePort()), "--listen-name", "",
                         "--admin", "none"});
  EXPECT_EQ(gw.code, 2);
  EXPECT_NE((gw.out + gw.err).find("--listen-name: must not be empty"), std::string::npos)
      << gw.out << gw.err;
  CliResult cp = RunCli({"control", "--listen", Addr(FreePort()), "--store",
                         "sqlite:" + TestTempDir() + "/never.db", "--fill-period", "soon"});
  EXPECT_EQ(cp.code, 2);
  EXPECT_NE((cp.out + cp.err).find("--fill-period soon: invalid duration"), std::string::npos)
      << cp.out << cp.err;
}

}  // namespace
}  // namespace graymesh::test
