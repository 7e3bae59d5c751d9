// The mesh while its control plane restarts, all real processes: a sidecar
// registers once; a control plane restarted on an EMPTY store (a new SQLite
// file) costs no request and lets no base request reach a lane instance
// (docs/control.md "Store identity and the fill period").
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

const char* kRules = R"(kind: Route
name: shop
spec:
  pathPrefix: /
  service: order
---
kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    match:
      - headers: { x-env: { exact: gray } }
)";

// A gateway as the README starts it: `--listen` and the control plane only.
struct ControlGateway {
  uint16_t port = FreePort();
  std::unique_ptr<ChildProcess> proc;
  explicit ControlGateway(const ControlPlane& cp, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"gateway", "--listen", Addr(port), "--control", cp.url(),
                                  "--admin", "none", "--workers", "1", "--cache",
                                  TestTempDir() + "/gw-" + std::to_string(port) + ".json"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<ChildProcess>(GraymeshBin(), args);
    EXPECT_TRUE(WaitForPort(port, 5s)) << proc->Log();
  }
};

// What one request through the gateway saw.
struct Outcome {
  bool gray = false;  // sent with x-env: gray
  int status = 0;
  std::string order_lane, data_lane, reason;
};

Outcome Send(uint16_t gateway, bool gray) {
  Outcome o{.gray = gray};
  HeaderList h;
  if (gray) h.emplace_back("x-env", "gray");
  Response r = HttpGet(gateway, "/checkout", h, 3s);
  o.status = r.status;
  o.reason = r.Header("x-graymesh-reason") + r.error;
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    o.order_lane = j.value("lane", "?");
    if (j.contains("calls") && j["calls"].is_array() && !j["calls"].empty()) {
      const nlohmann::json& c = j["calls"][0];
      o.data_lane = c.value("lane", "?");
      if (c.contains("error")) o.reason += " data: " + c.value("error", "");
    }
  }
  return o;
}

// Base and gray requests, alternating, until stopped.
class Load {
 public:
  explicit Load(uint16_t gateway) {
    thread_ = std::thread([this, gateway] {
      for (int i = 0; !stop_; ++i) {
        Outcome o = Send(gateway, i % 2 == 1);
        std::lock_guard lock(mu_);
        seen_.push_back(std::move(o));
      }
    });
  }
  ~Load() { Stop(); }
  std::vector<Outcome> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> seen_;
  std::thread thread_;
};

struct Tally {
  int total = 0, failed = 0, base_in_gray = 0, gray_not_gray = 0;
  std::string examples;
};

Tally Count(const std::vector<Outcome>& seen) {
  Tally t;
  for (const Outcome& o : seen) {
    ++t.total;
    bool bad = false;
    if (o.status < 200 || o.status > 299) {
      ++t.failed;
      bad = true;
    } else if (!o.gray && (o.order_lane != "" || o.data_lane != "")) {
      ++t.base_in_gray;
      bad = true;
    } else if (o.gray && (o.order_lane != "gray" || o.data_lane != "gray")) {
      ++t.gray_not_gray;
      bad = true;
    }
    if (bad && t.examples.size() < 2000) {
      t.examples += (o.gray ? "gray " : "base ") + std::to_string(o.status) + " order=" +
                    o.order_lane + " data=" + o.data_lane + " " + o.reason + "\n";
    }
  }
  return t;
}

// order and data, each with a base and a gray instance, behind a gateway.
struct Shop {
  ControlPlane& cp;
  Instance data, data_gray, order, order_gray;
  std::unique_ptr<ControlGateway> gateway;
  explicit Shop(ControlPlane& c)
      : cp(c),
        data("data", "", "", c),
        data_gray("data", "gray", "", c),
        order("order", "", "data", c),
        order_gray("order", "gray", "data", c) {
    for (Instance* i : {&data, &data_gray, &order, &order_gray}) {
      EXPECT_TRUE(i->WaitReady(10s)) << i->sidecar->Log();
    }
    EXPECT_EQ(RunCli({"apply", "-f", TempFile("rules.yaml", kRules), "--control", cp.url()}).code,
              0);
    gateway = std::make_unique<ControlGateway>(cp);
    EXPECT_TRUE(Eventually([&] { return Send(gateway->port, true).data_lane == "gray"; }, 10s))
        << gateway->proc->Log();
    EXPECT_TRUE(Eventually([&] { return Send(gateway->port, false).status == 200; }, 10s));
  }
  // The control plane dies and comes back on a new, empty SQLite file at the
  // same address; once every proxy watches it again (so each has seen the
  // empty store), plus `reapply_after`, the rules are applied again, as a
  // deployment pipeline would.
  void RestartOnEmptyStore(std::vector<std::string> args, std::chrono::milliseconds reapply_after) {
    cp.proc->Kill();
    std::this_thread::sleep_for(1s);
    cp.db = TempFile("empty.db", "");
    std::remove(cp.db.c_str());
    cp.args = std::move(args);
    cp.Restart();
    EXPECT_TRUE(Eventually([&] { return cp.Metric("graymesh_control_watchers") >= 5; }, 10s));
    std::this_thread::sleep_for(reapply_after);
    EXPECT_EQ(RunCli({"apply", "-f", TempFile("rules.yaml", kRules), "--control", cp.url()}).code,
              0);
  }
};

// Item: every sidecar registered twice, because the API's 201 Created for a
// new instance was taken as a failure and the registration was sent again.
TEST(ControlRestart, ASidecarRegistersOnce) {
  ControlPlane cp = ControlPlane::Start();
  Instance data("data", "", "", cp);
  ASSERT_TRUE(data.WaitReady(10s)) << data.sidecar->Log();
  std::this_thread::sleep_for(1500ms);  // time for a second attempt to show
  EXPECT_EQ(cp.Metric("graymesh_control_registrations_total"), 1) << data.sidecar->Log();
  EXPECT_EQ(data.sidecar->Log().find("registered"), data.sidecar->Log().rfind("registered"));
}

TEST(ControlRestart, AnEmptyStoreCostsNoRequestAndNoIsolation) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "5s"});
  Shop shop(cp);
  ASSERT_FALSE(::testing::Test::HasFailure());
  Load load(shop.gateway->port);
  std::this_thread::sleep_for(1s);
  const auto restarted = std::chrono::steady_clock::now();
  shop.RestartOnEmptyStore({"--lease-ttl", "5s"}, 500ms);
  // Past the fill period (one lease TTL), on the registry as it is.
  std::this_thread::sleep_until(restarted + 8s);
  Tally t = Count(load.Stop());
  EXPECT_GT(t.total, 50);
  EXPECT_EQ(t.failed, 0) << t.examples;
  EXPECT_EQ(t.base_in_gray, 0) << t.examples;
  EXPECT_EQ(t.gray_not_gray, 0) << t.examples;
  // The registry refilled: every instance is back, the rules too.
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 4u);
  EXPECT_EQ(Send(shop.gateway->port, true).data_lane, "gray");
}

// The same restart with the protection off (`--fill-period 0s`): proxies take
// the empty registry at once and requests fail until it refills.
TEST(ControlRestart, WithoutTheFillPeriodAnEmptyStoreCostsRequests) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "3s"});
  Shop shop(cp);
  ASSERT_FALSE(::testing::Test::HasFailure());
  Load load(shop.gateway->port);
  std::this_thread::sleep_for(1s);
  shop.RestartOnEmptyStore({"--lease-ttl", "3s", "--fill-period", "0s"}, 500ms);
  std::this_thread::sleep_for(1s);
  Tally t = Count(load.Stop());
  EXPECT_GT(t.failed, 0) << "the fill period is what keeps these requests alive";
}

// A proxy that sees a new store identity registers again at once instead of
// at its next heartbeat (here 20 s away).
TEST(ControlRestart, ANewStoreIsRefilledAtOnce) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "60s"});
  Instance data("data", "", "", cp);
  Instance gray("data", "gray", "", cp);
  ASSERT_TRUE(data.WaitReady(10s));
  ASSERT_TRUE(gray.WaitReady(10s));
  cp.proc->Kill();
  cp.db = TempFile("empty.db", "");
  std::remove(cp.db.c_str());
  cp.Restart();
  EXPECT_TRUE(Eventually(
      [&] { return Json(cp.Get("/v1/instances"))["instances"].size() == 2; }, 6s))
      << data.sidecar->Log();
}

// Base requests never go to lane instances: a service without a base
// instance answers 503 with the reason, unless its ServicePolicy allows any
// lane to serve them.
TEST(ControlRestart, BaseRequestsNeverReachALaneInstance) {
  ControlPlane cp = ControlPlane::Start();
  Instance gray("data", "gray", "", cp);
  Instance order("order", "", "data", cp);
  ASSERT_TRUE(gray.WaitReady(10s));
  ASSERT_TRUE(order.WaitReady(10s));
  Response r;
  ASSERT_TRUE(Eventually([&] { return (r = HttpGet(order.inbound, "/x")).status == 502; }, 5s))
      << r.status << " " << r.body << r.error << order.sidecar->Log() << order.app_proc->Log();
  EXPECT_NE(r.body.find("service 'data' has no base instance"), std::string::npos) << r.body;

  ASSERT_EQ(RunCli({"apply", "-f",
                    TempFile("policy.yaml",
                             "kind: ServicePolicy\nname: data\nspec:\n  baseFallback: anyLane\n"),
                    "--control", cp.url()})
                .code,
            0);
  EXPECT_TRUE(Eventually([&] { return (r = HttpGet(order.inbound, "/x")).status == 200; }, 5s))
      << r.body;
  EXPECT_NE(r.body.find("\"lane\":\"gray\""), std::string::npos) << r.body;
}

}  // namespace
}  // namespace graymesh::test
