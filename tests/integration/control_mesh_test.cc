// Proxies on the control plane, all real processes: registration, pushed
// snapshots and rules, and routing that survives the control plane going
// away (docs/design.md, "Processes"; docs/control.md).
#include <gtest/gtest.h>

#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

// The lane of the payment instance an order request reached.
std::string PaymentLane(const Instance& order, const HeaderList& headers = {}) {
  Response r = HttpGet(order.inbound, "/pay", headers);
  if (r.status != 200) return "error " + std::to_string(r.status) + " " + r.body;
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || j["calls"].empty()) return "no call";
  std::string lane = j["calls"][0].value("lane", "?");
  return lane.empty() ? "base" : lane;
}

const char* kGrayForHeader = R"(kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    service: payment
    match:
      - headers: { x-env: { exact: gray } }
)";

TEST(ControlMesh, InstancesRegisterAndRulesArePushed) {
  ControlPlane cp = ControlPlane::Start();
  Instance payment("payment", "", "", cp);
  Instance gray("payment", "gray", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(gray.WaitReady(10s)) << gray.sidecar->Log();
  // Each sidecar registers once its own app answers: wait for all three.
  ASSERT_TRUE(payment.WaitReady(10s)) << payment.sidecar->Log();

  // Registered with their lanes; calls are routed from the pushed registry.
  nlohmann::json instances = Json(cp.Get("/v1/instances?service=payment"));
  ASSERT_EQ(instances["instances"].size(), 2u) << instances.dump();
  EXPECT_TRUE(Eventually([&] { return PaymentLane(order) == "base"; }, 5s));

  // A lane applied with the CLI reaches the order sidecar without a restart.
  CliResult applied = RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control",
                              cp.url()});
  ASSERT_EQ(applied.code, 0) << applied.err;
  std::string last;
  EXPECT_TRUE(Eventually([&] { return (last = PaymentLane(order, {{"x-env", "gray"}})) == "gray"; },
                         5s))
      << last << "\n" << order.sidecar->Log();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(PaymentLane(order), "base");
}

TEST(ControlMesh, RoutingOutlivesTheControlPlaneAndRestartsFromTheCache) {
  ControlPlane cp = ControlPlane::Start();
  Instance payment("payment", "", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(Eventually([&] { return PaymentLane(order) == "base"; }, 5s));

  cp.proc->Kill();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(PaymentLane(order), "base") << "last snapshot kept";

  // A sidecar started while the control plane is down uses its cache.
  order.sidecar->Stop();
  order.StartSidecar();
  EXPECT_EQ(PaymentLane(order), "base") << order.sidecar->Log();
  EXPECT_EQ(HttpGet(order.admin, "/ready").status, 503) << "not registered yet";

  // The control plane comes back (same store): the sidecar registers again
  // and catches up with rules applied after the restart.
  cp.Restart();
  EXPECT_TRUE(order.WaitReady(15s)) << order.sidecar->Log();
  Instance gray("payment", "gray", "", cp);
  ASSERT_TRUE(gray.WaitReady(10s));
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control", cp.url()})
                .code,
            0);
  EXPECT_TRUE(Eventually([&] { return PaymentLane(order, {{"x-env", "gray"}}) == "gray"; }, 8s));
}

TEST(ControlMesh, WithoutCacheOrControlPlaneTheSidecarRefusesToStart) {
  uint16_t dead = FreePort();
  ChildProcess sidecar(GraymeshBin(),
                       {"proxy", "--service", "order", "--app", Addr(FreePort()), "--inbound",
                        Addr(FreePort()), "--outbound", Addr(FreePort()), "--admin", "none",
                        "--control", "http://" + Addr(dead), "--cache",
                        TestTempDir() + "/none.json"});
  EXPECT_EQ(sidecar.Wait(10s), 1);
  EXPECT_NE(sidecar.Log().find("no usable cache"), std::string::npos) << sidecar.Log();
}

TEST(ControlMesh, AKilledInstanceLeavesWhenItsLeaseExpires) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "2s"});
  Instance a("payment", "", "", cp);
  Instance b("payment", "", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s));
  ASSERT_TRUE(b.WaitReady(10s));
  ASSERT_TRUE(Eventually(
      [&] { return Json(cp.Get("/v1/instances?service=payment"))["instances"].size() == 2; }, 5s));
  b.sidecar->Kill();  // no deregistration: only the lease can tell
  EXPECT_TRUE(Eventually(
      [&] { return Json(cp.Get("/v1/instances?service=payment"))["instances"].size() == 1; }, 6s));
  // Once the push lands, no request is even tried on the dead instance.
  std::this_thread::sleep_for(500ms);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(PaymentLane(order), "base");
}

// Two control-plane replicas on one etcd; the sidecars know both. When the
// replica they talk to dies, they go on with the other: registration stays
// alive and rules applied there still reach them.
TEST(ControlMesh, SidecarsFailOverToAnotherReplica) {
  REQUIRE_ETCD();
  std::vector<EtcdMember> etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd));
  const std::string both = a.url() + "," + b.url();
  Instance payment("payment", "", "", both);
  Instance gray("payment", "gray", "", both);
  Instance order("order", "", "payment", both);
  ASSERT_TRUE(order.WaitReady(15s)) << order.sidecar->Log();
  ASSERT_TRUE(gray.WaitReady(15s)) << gray.sidecar->Log();

  a.proc->Kill();
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("lane.yaml", kGrayForHeader), "--control", b.url()})
                .code,
            0);
  std::string last;
  EXPECT_TRUE(Eventually([&] { return (last = PaymentLane(order, {{"x-env", "gray"}})) == "gray"; },
                         10s))
      << last << "\n" << order.sidecar->Log();
  EXPECT_EQ(HttpGet(order.admin, "/ready").status, 200) << "still registered, through b";
}

}  // namespace
}  // namespace graymesh::test
