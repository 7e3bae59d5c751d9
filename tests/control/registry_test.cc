// The registry of a real `graymesh control`: registration, states, leases.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The snapshot's endpoints of `service`, by address.
std::map<std::string, json> Endpoints(const ControlPlane& cp, const std::string& service) {
  std::map<std::string, json> out;
  const json snapshot = Json(cp.Get("/v1/snapshot"));
  for (const json& s : snapshot["services"]) {
    if (s["name"] != service) continue;
    for (const json& e : s["endpoints"]) out[e["address"]] = e;
  }
  return out;
}

TEST(ControlRegistry, RegisterIsIdempotentOnServiceAndAddress) {
  ControlPlane cp = ControlPlane::Start();
  Response first = RegisterInstance(cp, "order", "127.0.0.1:9001", {{"lane", "gray"}});
  ASSERT_EQ(first.status, 201) << first.body << first.error;
  json j = Json(first);
  const std::string id = j["id"];
  EXPECT_TRUE(id.starts_with("order-")) << id;
  EXPECT_EQ(j["ttlSeconds"], 15);

  const int64_t rev = cp.Revision();
  Response again = RegisterInstance(cp, "order", "127.0.0.1:9001", {{"lane", "gray"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Json(again)["id"], id);
  EXPECT_EQ(cp.Revision(), rev) << "nothing changed, so the revision must not move";

  Response other = RegisterInstance(cp, "order", "127.0.0.1:9002");
  EXPECT_EQ(other.status, 201);
  EXPECT_NE(Json(other)["id"], id);
  EXPECT_EQ(cp.Revision(), rev + 1);
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9101").status, 201);

  json list = Json(cp.Get("/v1/instances?service=order"));
  ASSERT_EQ(list["instances"].size(), 2u) << list;
  json inst = list["instances"][0];
  EXPECT_EQ(inst["id"], id);
  EXPECT_EQ(inst["address"], "127.0.0.1:9001");
  EXPECT_EQ(inst["lane"], "gray");
  EXPECT_EQ(inst["labels"], json({{"lane", "gray"}})) << "the lane is the lane label";
  EXPECT_EQ(inst["weight"], 100);
  EXPECT_EQ(inst["state"], "ready");
  EXPECT_GT(inst["readySince"].get<int64_t>(), 0);
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 3u);
  EXPECT_EQ(Json(cp.Get("/v1/instances/" + id))["service"], "order");

  json services = Json(cp.Get("/v1/services"))["services"];
  ASSERT_EQ(services.size(), 2u) << services;
  EXPECT_EQ(services[0]["name"], "order");
  EXPECT_EQ(services[0]["instances"], 2);
  EXPECT_EQ(services[0]["lanes"], json::parse(R"([{"lane":"","instances":1,"ready":1},
                                                 {"lane":"gray","instances":1,"ready":1}])"));
}

TEST(ControlRegistry, ReRegistrationUpdatesInPlace) {
  ControlPlane cp = ControlPlane::Start();
  const std::string id = Json(RegisterInstance(cp, "order", "127.0.0.1:9001"))["id"];
  const int64_t rev = cp.Revision();
  Response r = RegisterInstance(cp, "order", "127.0.0.1:9001",
                                {{"weight", 50}, {"labels", {{"zone", "a"}}}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json(r)["id"], id);
  EXPECT_EQ(cp.Revision(), rev + 1);
  json e = Endpoints(cp, "order")["127.0.0.1:9001"];
  EXPECT_EQ(e["weight"], 50);
  EXPECT_EQ(e["labels"], json({{"zone", "a"}}));
}

TEST(ControlRegistry, InvalidRegistrationsAre400AndStoreNothing) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  struct Case {
    std::string body;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {R"({"address":"127.0.0.1:1"})", "service: required string"},
      {R"({"service":"o","address":"nohost"})", "address:"},
      {R"({"service":"o","address":"127.0.0.1:0"})", "port must be 1..65535"},
      {R"({"service":"o rder","address":"127.0.0.1:1"})", "service: must be"},
      {R"({"service":"o","address":"127.0.0.1:1","weight":0})", "weight: must be"},
      {R"({"service":"o","address":"127.0.0.1:1","state":"up"})", "state: must be"},
      {R"({"service":"o","address":"127.0.0.1:1","lane":"a","labels":{"lane":"b"}})",
       "differs from labels.lane"},
      {R"({"service":"o","address":"127.0.0.1:1","colour":"red"})", "unknown key \"colour\""},
      {R"({"service":"o","address":)", "invalid JSON"},
      {R"(["service"])", "expected an object"},
  };
  for (const Case& c : cases) {
    Response r = cp.Send("POST", "/v1/instances", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_NE(Json(r)["error"].get<std::string>().find(c.reason), std::string::npos)
        << c.body << " -> " << r.body;
    EXPECT_NE(r.Header("x-graymesh-reason"), "");
  }
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 0u);
  EXPECT_EQ(cp.Revision(), rev);
}

TEST(ControlRegistry, StateChangesMoveTheRevisionAndRecordReadySince) {
  ControlPlane cp = ControlPlane::Start();
  Response reg = RegisterInstance(cp, "order", "127.0.0.1:9001", {{"state", "starting"}});
  const std::string id = Json(reg)["id"];
  json e = Endpoints(cp, "order")["127.0.0.1:9001"];
  EXPECT_EQ(e["state"], "starting");
  EXPECT_EQ(e["readySince"], 0);

  const int64_t rev = cp.Revision();
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Response ready = cp.Send("PUT", "/v1/instances/" + id, R"({"state":"ready"})");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Json(ready)["state"], "ready");
  EXPECT_EQ(cp.Revision(), rev + 1);
  e = Endpoints(cp, "order")["127.0.0.1:9001"];
  const int64_t ready_since = e["readySince"];
  EXPECT_GE(ready_since, before - 1000);

  // Draining instances stay in the snapshot, marked, for the proxies to drop.
  ASSERT_EQ(cp.Send("PUT", "/v1/instances/" + id, R"({"state":"draining"})").status, 200);
  e = Endpoints(cp, "order")["127.0.0.1:9001"];
  EXPECT_EQ(e["state"], "draining");
  EXPECT_EQ(e["readySince"], ready_since);
  EXPECT_EQ(cp.Revision(), rev + 2);

  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id, R"({"state":"gone"})").status, 400);
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/order-nope", R"({"state":"ready"})").status, 404);
  EXPECT_EQ(cp.Revision(), rev + 2);
}

TEST(ControlRegistry, DeregisterRemovesAtOnce) {
  ControlPlane cp = ControlPlane::Start();
  const std::string id = Json(RegisterInstance(cp, "order", "127.0.0.1:9001"))["id"];
  const int64_t rev = cp.Revision();
  Response del = cp.Send("DELETE", "/v1/instances/" + id, "");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(cp.Revision(), rev + 1);
  EXPECT_TRUE(Endpoints(cp, "order").empty());
  EXPECT_EQ(cp.Send("DELETE", "/v1/instances/" + id, "").status, 404);
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id + "/heartbeat", "").status, 404);
  EXPECT_EQ(cp.Get("/v1/instances/" + id).status, 404);
}

TEST(ControlRegistry, LeaseExpiryRemovesSilentInstancesAndWakesWatchers) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "2s"});
  Response a = RegisterInstance(cp, "order", "127.0.0.1:9001");
  Response b = RegisterInstance(cp, "order", "127.0.0.1:9002");
  ASSERT_EQ(Json(a)["ttlSeconds"], 2);
  const std::string id_a = Json(a)["id"], id_b = Json(b)["id"];
  const int64_t rev = cp.Revision();
  // A watcher parked on the current revision: the expiry must wake it.
  auto watch = std::async(std::launch::async, [&] {
    return cp.Get("/v1/snapshot?version=" + std::to_string(rev) + "&wait=20");
  });
  // A keeps heartbeating; B is silent.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 3500ms) {
    Response hb = cp.Send("PUT", "/v1/instances/" + id_a + "/heartbeat", "");
    ASSERT_EQ(hb.status, 200) << hb.body;
    EXPECT_EQ(Json(hb)["ttlSeconds"], 2);
    std::this_thread::sleep_for(400ms);
  }
  auto eps = Endpoints(cp, "order");
  EXPECT_TRUE(eps.contains("127.0.0.1:9001"));
  EXPECT_FALSE(eps.contains("127.0.0.1:9002")) << "B's lease ran out 2 s after registering";
  EXPECT_EQ(cp.Revision(), rev + 1);

  ASSERT_EQ(watch.wait_for(1s), std::future_status::ready);
  Response woke = watch.get();
  ASSERT_EQ(woke.status, 200) << woke.error;
  EXPECT_EQ(Json(woke)["version"], rev + 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);

  // B's heartbeat now says "unknown": it registers again and gets its id back.
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id_b + "/heartbeat", "").status, 404);
  Response again = RegisterInstance(cp, "order", "127.0.0.1:9002");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(Json(again)["id"], id_b);
  EXPECT_EQ(cp.Metric("graymesh_control_lease_expirations_total"), 1);
}

}  // namespace
}  // namespace graymesh::test
