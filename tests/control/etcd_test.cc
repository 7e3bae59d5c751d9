// The etcd store with real etcd processes on loopback ports: replicas that
// share state, a 3-member cluster losing a member, leases expiring in etcd.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "control/control_fixture.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// Until the control plane answers a write (etcd may still elect a leader).
void WaitReady(const ControlPlane& cp) {
  for (int i = 0; i < 100; ++i) {
    if (cp.Get("/v1/rules").status == 200) return;
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "control plane on etcd never answered";
}


TEST(Etcd, RuleAppliedOnOneReplicaWakesLongPollOnTheOther) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(a);
  WaitReady(b);
  const int64_t rev = b.Revision();
  ASSERT_GT(rev, 0);

  Response polled;
  std::thread poller(
      [&] { polled = b.Get("/v1/snapshot?version=" + std::to_string(rev) + "&wait=10"); });
  std::this_thread::sleep_for(300ms);  // the poll is waiting on b
  const auto t0 = std::chrono::steady_clock::now();
  Response applied =
      a.Send("POST", "/v1/apply", "kind: Route\nname: shop\nspec:\n  service: order\n");
  ASSERT_EQ(applied.status, 200) << applied.body;
  poller.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(polled.status, 200) << polled.body << polled.error;
  EXPECT_LT(took, 1s);
  nlohmann::json snap = Json(polled);
  ASSERT_EQ(snap["routes"].size(), 1u) << polled.body;
  EXPECT_EQ(snap["routes"][0]["name"], "shop");
  EXPECT_GT(snap["version"].get<int64_t>(), rev);
  // Both replicas show the same state at the same revision.
  EXPECT_EQ(a.Revision(), b.Revision());
  EXPECT_EQ(Json(b.Get("/v1/rules/route/shop"))["name"], "shop");
}

TEST(Etcd, ThreeMembersSurviveOneKilled) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(3);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(a);
  WaitReady(b);
  ASSERT_EQ(a.Send("POST", "/v1/apply", "kind: Route\nname: r1\nspec:\n  service: order\n").status,
            200);
  ASSERT_EQ(RegisterInstance(b, "order", "10.0.0.1:15006").status, 201);

  // The leader goes away (the first member if none is known): the others
  // elect a new one, and the replicas must move on to a live endpoint.
  size_t victim = 0;
  for (size_t i = 0; i < etcd.size(); ++i) {
    Response st = HttpRequest(etcd[i].client, "POST", "/v3/maintenance/status", "{}");
    nlohmann::json j = nlohmann::json::parse(st.body, nullptr, false);
    if (j.is_object() && j.contains("leader") && j.contains("header") &&
        j["leader"] == j["header"]["member_id"]) {
      victim = i;
    }
  }
  etcd[victim].proc->Kill();

  Response applied;
  for (int i = 0; i < 30; ++i) {  // a leader election may be under way
    applied = b.Send("POST", "/v1/apply", "kind: Route\nname: r2\nspec:\n  service: pay\n");
    if (applied.status == 200) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(applied.status, 200) << applied.body;
  Response reg = RegisterInstance(a, "pay", "10.0.0.2:15006");
  ASSERT_EQ(reg.status, 201) << reg.body;

  for (const ControlPlane* cp : {&a, &b}) {
    nlohmann::json rules = Json(cp->Get("/v1/rules/route"));
    ASSERT_EQ(rules["rules"].size(), 2u) << rules.dump();
    nlohmann::json inst = Json(cp->Get("/v1/instances"));
    ASSERT_EQ(inst["instances"].size(), 2u) << inst.dump();
  }
}

TEST(Etcd, LeaseExpiresInEtcdAndOtherReplicaSeesIt) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd), {"--lease-ttl", "2s"});
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd), {"--lease-ttl", "2s"});
  WaitReady(a);
  WaitReady(b);
  Response reg = RegisterInstance(a, "order", "10.0.0.1:15006");
  ASSERT_EQ(reg.status, 201) << reg.body;
  const std::string id = Json(reg)["id"];
  ASSERT_EQ(b.Get("/v1/instances/" + id).status, 200);

  // Heartbeats through b keep it alive past the TTL.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(800ms);
    ASSERT_EQ(b.Send("PUT", "/v1/instances/" + id + "/heartbeat", "").status, 200);
  }
  ASSERT_EQ(a.Get("/v1/instances/" + id).status, 200);

  // Then they stop: etcd removes the key and b's long poll sees it.
  const int64_t rev = b.Revision();
  Response polled = b.Get("/v1/snapshot?version=" + std::to_string(rev) + "&wait=10");
  ASSERT_EQ(polled.status, 200) << polled.body;
  nlohmann::json snap = Json(polled);
  EXPECT_TRUE(snap["services"].empty()) << polled.body;
  EXPECT_EQ(b.Get("/v1/instances/" + id).status, 404);
  EXPECT_EQ(a.Get("/v1/instances/" + id).status, 404);
  EXPECT_EQ(b.Send("PUT", "/v1/instances/" + id + "/heartbeat", "").status, 404);
}

// Replicas on one cluster share the store id; only the one that made it (a
// new cluster: an empty registry) announces a fill period.
TEST(Etcd, ReplicasShareTheStoreIdAndOnlyTheFirstFills) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(a);
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(b);
  nlohmann::json sa = Json(a.Get("/v1/snapshot")), sb = Json(b.Get("/v1/snapshot"));
  EXPECT_EQ(sa["store"].get<std::string>().size(), 16u) << sa.dump();
  EXPECT_EQ(sa["store"], sb["store"]);
  EXPECT_GT(sa["fillingUntil"].get<int64_t>(), 0);
  EXPECT_EQ(sb["fillingUntil"], 0);
  EXPECT_TRUE(Json(a.Get("/v1/rules"))["rules"].empty()) << "the id is not a rule";
}

nlohmann::json EventsOf(const ControlPlane& cp) {
  Response r = cp.Get("/v1/events");
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  return Json(r)["events"];
}

// Release events are in etcd: a second replica, and a replica restarted,
// answer with the same history.
TEST(Etcd, ReleaseEventsAreSharedByReplicasAndSurviveARestart) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  ControlPlane b = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(a);
  WaitReady(b);
  Response reg = RegisterInstance(a, "payment", "10.0.0.2:15006", {{"lane", "gray"}});
  ASSERT_EQ(reg.status, 201) << reg.body;
  const std::string id = Json(reg)["id"];
  ASSERT_EQ(b.Send("PUT", "/v1/instances/" + id, R"({"state":"draining"})").status, 200);

  const nlohmann::json on_b = EventsOf(b);
  std::vector<std::string> kinds;
  for (const nlohmann::json& e : on_b) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"registered", "ready", "draining"})) << on_b;
  for (const nlohmann::json& e : on_b) {
    EXPECT_EQ(e["instance"], id);
    EXPECT_EQ(e["lane"], "gray");
  }
  EXPECT_EQ(EventsOf(a), on_b) << "one history, whichever replica answers";
  EXPECT_LT(on_b[0]["id"].get<int64_t>(), on_b[2]["id"].get<int64_t>());

  // Heartbeats moving to b record nothing (b did not see it register).
  ASSERT_EQ(b.Send("PUT", "/v1/instances/" + id, R"({"state":"draining"})").status, 200);
  EXPECT_EQ(EventsOf(b).size(), 3u);

  // An event is a write in etcd like any other: both replicas see the
  // revision it made (snapshot versions agree whichever replica answers).
  bool agree = false;
  for (int i = 0; i < 50 && !agree; ++i) {
    agree = a.Revision() == b.Revision();
    if (!agree) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(agree) << a.Revision() << " vs " << b.Revision();

  ASSERT_EQ(a.proc->Stop(), 0);
  a.Restart();
  WaitReady(a);
  EXPECT_EQ(EventsOf(a), on_b) << "a restarted replica reads them back";
}

// Leases expire inside etcd, which no replica is told: the instances a
// replica keeps for its events are forgotten once the store lacks them.
TEST(Etcd, InstancesExpiredInEtcdAreForgottenByTheReplica) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd), {"--lease-ttl", "2s"});
  WaitReady(a);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RegisterInstance(a, "order", "10.0.0." + std::to_string(i + 1) + ":15006").status,
              201);
  }
  EXPECT_EQ(a.Metric("graymesh_control_event_instances"), 3);
  bool forgotten = false;
  for (int i = 0; i < 100 && !forgotten; ++i) {
    std::this_thread::sleep_for(100ms);
    forgotten = a.Metric("graymesh_control_event_instances") == 0;
  }
  EXPECT_TRUE(forgotten) << a.Get("/metrics").body;
  EXPECT_TRUE(Json(a.Get("/v1/instances"))["instances"].empty());
}

// An event written to etcd moves etcd's revision but changes no snapshot: a
// watcher waiting on the current snapshot is not woken for it.
TEST(Etcd, AReleaseEventAloneWakesNoWatcher) {
  REQUIRE_ETCD();
  auto etcd = StartEtcd(1);
  ControlPlane a = ControlPlane::StartOn(StoreUrl(etcd));
  WaitReady(a);
  ASSERT_EQ(RegisterInstance(a, "payment", "10.0.0.2:15006").status, 201);
  const int64_t rev = a.Revision();
  Response polled;
  std::thread poller(
      [&] { polled = a.Get("/v1/snapshot?version=" + std::to_string(rev) + "&wait=2"); });
  std::this_thread::sleep_for(300ms);
  // A proxy reports the instance ejected: an `ejected` event, nothing else.
  const std::string report = R"({"node": "proxy/h/order@10.0.0.9:15006/x", "service": "order",
    "startedMs": 1, "nowMs": 2, "edges": [],
    "endpoints": [{"service": "payment", "address": "10.0.0.2:15006", "state": "ejected",
                   "weight": 0, "ejections": 1}]})";
  ASSERT_EQ(a.Send("POST", "/v1/reports", report, {{"content-type", "application/json"}}).status,
            204);
  poller.join();
  bool recorded = false;
  for (const nlohmann::json& e : EventsOf(a)) recorded = recorded || e["kind"] == "ejected";
  EXPECT_TRUE(recorded) << EventsOf(a);
  EXPECT_GT(a.Revision(), rev) << "the event's write moved etcd's revision";
  EXPECT_EQ(polled.status, 304) << "woken for no change: " << polled.body;
  // A real change still wakes it at once.
  std::thread poller2(
      [&] { polled = a.Get("/v1/snapshot?version=" + std::to_string(rev) + "&wait=5"); });
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(a.Send("POST", "/v1/apply", "kind: Route\nname: shop\nspec:\n  service: payment\n")
                .status,
            200);
  poller2.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(polled.status, 200) << polled.body;
  EXPECT_EQ(Json(polled)["routes"].size(), 1u);
}

}  // namespace
}  // namespace graymesh::test
