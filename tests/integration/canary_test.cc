// Canary releases end to end, real processes only: sidecars on the control
// plane report their traffic, the control plane steps the gray share of
// `payment` and judges it, `graymesh canary start --wait` exits with the
// outcome, and the proxies act on it (docs/canary.md).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

// The lane of the payment instance an order request reached (the app says
// its own --lane), or "error".
std::string PaymentLane(const Instance& order) {
  Response r = HttpGet(order.inbound, "/pay");
  if (r.status != 200) return "error";
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || j["calls"].empty()) return "error";
  if (j["calls"][0].value("status", 200) != 200) return "error";
  const std::string lane = j["calls"][0].value("lane", "?");
  return lane.empty() ? "base" : lane;
}

// Steady traffic through order while a canary runs; counts what it saw.
struct Load {
  const Instance& order;
  std::atomic<bool> stop{false};
  std::atomic<int> gray{0}, base{0}, errors{0};
  std::thread t;
  explicit Load(const Instance& o) : order(o) {
    t = std::thread([this] {
      while (!stop) {
        const std::string lane = PaymentLane(order);
        (lane == "gray" ? gray : lane == "base" ? base : errors)++;
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~Load() {
    stop = true;
    t.join();
  }
};

// Every sidecar registered and order reaching base payment.
::testing::AssertionResult MeshReady(const Instance& order, const Instance& gray,
                                     const Instance& payment) {
  for (const Instance* i : {&order, &gray, &payment}) {
    if (!i->WaitReady(10s)) return ::testing::AssertionFailure() << i->sidecar->Log();
  }
  if (!Eventually([&] { return PaymentLane(order) == "base"; }, 5s)) {
    return ::testing::AssertionFailure() << "order never reached base payment";
  }
  return ::testing::AssertionSuccess();
}

// Once a decision is pushed, 20 requests in a row land on `lane`.
bool SettlesOn(const Instance& order, const std::string& lane) {
  return Eventually([&] {
    for (int i = 0; i < 20; ++i) {
      if (PaymentLane(order) != lane) return false;
    }
    return true;
  }, 5s);
}

class Canary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("GRAYMESH_REPORT_INTERVAL", "200ms", 1); }
};

CliResult StartCanary(const ControlPlane& cp, const std::string& steps) {
  return RunCli({"canary", "start", "payment", "--lane", "gray", "--steps", steps, "--interval",
                 "1500ms", "--min-requests", "10", "--max-error-rate", "5%", "--max-p99", "2s",
                 "--wait", "--timeout", "60s", "--control", cp.url()});
}

TEST_F(Canary, AFailingGrayVersionIsRolledBackAndGetsNothingAfterwards) {
  ControlPlane cp = ControlPlane::Start();
  Instance payment("payment", "", "", cp);
  Instance gray("payment", "gray", "", cp, {"--fail-rate", "1"});
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(MeshReady(order, gray, payment));

  CliResult r;
  {
    Load load(order);
    r = StartCanary(cp, "30,60,100");
    // What the canary protects against: while it ran, its share failed.
    EXPECT_GT(load.errors.load(), 0) << "the gray instance answers 500 to every request";
  }
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("rolled-back"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("error rate"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("step 2 passed"), std::string::npos) << "rolled back at the first step";

  // Once the rollback is pushed, no request goes gray and none fails.
  ASSERT_TRUE(SettlesOn(order, "base"));
  int bad = 0;
  for (int i = 0; i < 100; ++i) bad += PaymentLane(order) != "base";
  EXPECT_EQ(bad, 0);
  nlohmann::json inst = Json(cp.Get("/v1/instances?service=payment"));
  int rolled_back = 0;
  for (const nlohmann::json& i : inst["instances"]) rolled_back += i["state"] == "rolled-back";
  EXPECT_EQ(rolled_back, 1) << inst.dump();
  // The decision is a release event.
  EXPECT_NE(cp.Get("/v1/events").body.find("canary-step"), std::string::npos);
}

TEST_F(Canary, AHealthyGrayVersionIsPromotedAndBecomesTheBase) {
  ControlPlane cp = ControlPlane::Start();
  Instance payment("payment", "", "", cp);
  Instance gray("payment", "gray", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(MeshReady(order, gray, payment));

  CliResult r;
  int gray_during = 0, errors_during = 0;
  {
    Load load(order);
    r = StartCanary(cp, "30,100");
    gray_during = load.gray;
    errors_during = load.errors;
  }
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("promoted"), std::string::npos) << r.out;
  EXPECT_GT(gray_during, 0) << "the canary share reached the gray instance";
  EXPECT_EQ(errors_during, 0);

  // Base requests now land on the former gray instance only; the old base
  // instance is retired.
  ASSERT_TRUE(SettlesOn(order, "gray"));
  int elsewhere = 0;
  for (int i = 0; i < 100; ++i) elsewhere += PaymentLane(order) != "gray";
  EXPECT_EQ(elsewhere, 0);
  CliResult inst = RunCli({"get", "instances", "payment", "--control", cp.url()});
  EXPECT_NE(inst.out.find("retired"), std::string::npos) << inst.out;
}

}  // namespace
}  // namespace graymesh::test
