// The snapshot long poll of a real `graymesh control`.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "config/config.h"
#include "control/control_fixture.h"
#include "wire/snapshot_json.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string SnapshotAt(int64_t version, const std::string& wait) {
  return "/v1/snapshot?version=" + std::to_string(version) + "&wait=" + wait;
}

TEST(ControlWatch, AnswersAtOnceWhenTheClientIsBehind) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);
  const auto t0 = Clock::now();
  Response r = cp.Get(SnapshotAt(0, "30"));
  EXPECT_LT(Clock::now() - t0, 1s);
  ASSERT_EQ(r.status, 200) << r.error;
  json snap = Json(r);
  EXPECT_GE(snap["version"].get<int64_t>(), 2);
  EXPECT_EQ(r.Header("x-graymesh-version"), std::to_string(snap["version"].get<int64_t>()));
  EXPECT_EQ(snap["services"][0]["endpoints"][0]["address"], "127.0.0.1:9001");
  for (const char* key : {"lanes", "routes", "policies"}) EXPECT_TRUE(snap[key].is_array());

  // A version from another store's history (ahead of ours) is answered too.
  const auto t1 = Clock::now();
  EXPECT_EQ(cp.Get(SnapshotAt(999999, "30")).status, 200);
  EXPECT_LT(Clock::now() - t1, 1s);
}

TEST(ControlWatch, Returns304AfterWaitWhenNothingChanged) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  const auto t0 = Clock::now();
  Response r = cp.Get(SnapshotAt(rev, "1"));
  const auto took = Clock::now() - t0;
  EXPECT_EQ(r.status, 304) << r.body;
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.Header("x-graymesh-version"), std::to_string(rev));
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 2500ms);
  // wait=0 is a plain "anything new?".
  const auto t1 = Clock::now();
  EXPECT_EQ(cp.Get(SnapshotAt(rev, "0")).status, 304);
  EXPECT_LT(Clock::now() - t1, 500ms);
}

TEST(ControlWatch, WakesWithinMillisecondsOfAChange) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  auto watch = std::async(std::launch::async, [&] {
    Response r = cp.Get(SnapshotAt(rev, "20"));
    return std::make_pair(r, Clock::now());
  });
  std::this_thread::sleep_for(300ms);  // parked by now
  ASSERT_EQ(watch.wait_for(0ms), std::future_status::timeout) << "answered before any change";
  EXPECT_EQ(cp.Metric("graymesh_control_watchers"), 1);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);
  const auto changed = Clock::now();  // committed (and on disk) by now
  ASSERT_EQ(watch.wait_for(2s), std::future_status::ready);
  auto [r, at] = watch.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json(r)["version"], rev + 1);
  EXPECT_LT(at - changed, 100ms) << "the watcher must wake on the change, not poll";
}

TEST(ControlWatch, ManyWatchersAreTimersNotThreads) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  constexpr int kWatchers = 200;
  std::vector<std::unique_ptr<TestConnection>> conns;
  for (int i = 0; i < kWatchers; ++i) {
    auto c = std::make_unique<TestConnection>(cp.port);
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->Send("GET " + SnapshotAt(rev, "30") + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    conns.push_back(std::move(c));
  }
  const auto deadline = Clock::now() + 5s;
  while (cp.Metric("graymesh_control_watchers") < kWatchers && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(cp.Metric("graymesh_control_watchers"), kWatchers);
  // The control plane runs on one thread however many watchers wait.
  std::ifstream status("/proc/" + std::to_string(cp.proc->pid()) + "/status");
  std::string line;
  int threads = 0;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) threads = std::stoi(line.substr(8));
  }
  EXPECT_GE(threads, 1);
  EXPECT_LE(threads, 2);

  const auto t0 = Clock::now();
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);
  for (auto& c : conns) {
    Response r = c->ReadResponse(5s);
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(Json(r)["version"], rev + 1);
  }
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(cp.Metric("graymesh_control_watchers"), 0);
}

TEST(ControlWatch, BadParametersAre400) {
  ControlPlane cp = ControlPlane::Start();
  EXPECT_EQ(cp.Get("/v1/snapshot?version=abc").status, 400);
  EXPECT_EQ(cp.Get("/v1/snapshot?version=-1").status, 400);
  EXPECT_EQ(cp.Get("/v1/snapshot?version=1&wait=-2").status, 400);
  EXPECT_EQ(cp.Get("/v1/snapshot?version=1&wait=soon").status, 400);
}

// What the proxy will do with it: a config::Config with ready endpoints only.
TEST(ControlWatch, SnapshotBuildsAProxyConfig) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9001").status, 201);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002", {{"lane", "gray"}}).status, 201);
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9003", {{"state", "draining"}}).status, 201);
  ASSERT_EQ(RegisterInstance(cp, "order", "[::1]:9004", {{"state", "starting"}}).status, 201);
  ASSERT_EQ(cp.Send("POST", "/v1/apply",
                    "kind: TrafficLane\nname: gray\nspec:\n  tag: gray\n  entrance:\n    match:\n"
                    "      - headers: { x-env: gray }\n---\n"
                    "kind: Route\nname: all\nspec:\n  service: order\n")
                .status,
            200);
  config::Config cfg;
  cfg.listeners.push_back({.name = "ingress", .address = {"127.0.0.1", 8080}});
  wire::ApplySnapshotJson(Json(cp.Get("/v1/snapshot")), &cfg);
  ASSERT_EQ(cfg.services.size(), 1u);
  ASSERT_EQ(cfg.services[0].endpoints.size(), 2u) << "draining and starting are left out";
  EXPECT_EQ(cfg.services[0].endpoints[0].address.ToString(), "127.0.0.1:9001");
  EXPECT_EQ(cfg.services[0].endpoints[1].lane, "gray");
  ASSERT_EQ(cfg.lanes.size(), 1u);
  EXPECT_EQ(cfg.lanes[0].match[0].headers[0].first, "x-env");
  ASSERT_EQ(cfg.routes.size(), 1u);
  EXPECT_EQ(cfg.routes[0].service, "order");
  EXPECT_EQ(cfg.listeners.size(), 1u) << "listeners are the proxy's own";
}

}  // namespace
}  // namespace graymesh::test
