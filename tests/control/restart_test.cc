// A control plane that stops (cleanly or by a crash) and starts again on the
// same SQLite file keeps its rules, instances, ids and revision.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

void CheckSurvivesRestart(bool crash) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "2s"});
  ASSERT_EQ(cp.Send("POST", "/v1/apply",
                    "kind: Route\nname: shop\nspec:\n  service: order\n---\n"
                    "kind: ServicePolicy\nname: order\nspec:\n  fallback: none\n")
                .status,
            200);
  Response reg = RegisterInstance(cp, "order", "127.0.0.1:9001", {{"lane", "gray"}});
  const std::string id = Json(reg)["id"];
  const json before = Json(cp.Get("/v1/instances/" + id));
  const int64_t rev = cp.Revision();

  if (crash) {
    cp.proc->Kill();
  } else {
    EXPECT_EQ(cp.proc->Stop(), 0);
  }
  // Down for longer than the lease: the restart must not expire everyone.
  std::this_thread::sleep_for(2500ms);
  cp.Restart();

  EXPECT_EQ(cp.Revision(), rev);
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 2u);
  EXPECT_EQ(Json(cp.Get("/v1/rules/ServicePolicy/order"))["spec"]["fallback"], "none");
  json after = Json(cp.Get("/v1/instances/" + id));
  EXPECT_EQ(after, before) << "same id, lane, readySince, revision";

  // Its sidecar's next heartbeat lands within the fresh lease...
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id + "/heartbeat", "").status, 200);
  // ...and a sidecar that registers again instead gets the same id back.
  Response again = RegisterInstance(cp, "order", "127.0.0.1:9001", {{"lane", "gray"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Json(again)["id"], id);
  EXPECT_EQ(cp.Revision(), rev);
}

TEST(ControlRestart, CleanStopKeepsRulesAndInstances) { CheckSurvivesRestart(false); }

TEST(ControlRestart, CrashKeepsRulesAndInstances) { CheckSurvivesRestart(true); }

TEST(ControlRestart, StoppingAnswersWaitingWatchers) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  TestConnection watcher(cp.port);
  ASSERT_TRUE(watcher.Send("GET /v1/snapshot?version=" + std::to_string(rev) +
                           "&wait=30 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  cp.proc->Signal(SIGTERM);
  Response r = watcher.ReadResponse(5s);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.closed_after);
  EXPECT_EQ(cp.proc->Wait(5s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace graymesh::test
