// A callee drained under load while it is registered with the control plane:
// order -> payment (two instances), payment b gets POST /drain. The caller's
// sidecar must answer every request promptly: the draining mark on b's
// responses takes b out of its rotation at once, before the registry push,
// and a request b closes under is retried or answered 502, never left hanging.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

TEST(ControlDrain, ADrainingCalleeLeavesNoCallerRequestHanging) {
  ControlPlane cp = ControlPlane::Start();
  Instance a("payment", "", "", cp);
  Instance b("payment", "", "", cp);
  Instance order("order", "", "payment", cp);
  ASSERT_TRUE(order.WaitReady(10s)) << order.sidecar->Log();
  ASSERT_TRUE(a.WaitReady(10s));
  ASSERT_TRUE(b.WaitReady(10s));
  ASSERT_TRUE(Eventually(
      [&] { return Json(cp.Get("/v1/instances?service=payment"))["instances"].size() == 2; }, 5s));
  std::this_thread::sleep_for(500ms);  // the order sidecar holds both

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, slow{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        auto start = std::chrono::steady_clock::now();
        Response r = HttpGet(order.inbound, "/pay", {}, 10s);
        if (std::chrono::steady_clock::now() - start > 1s) ++slow;
        if (r.status == 200) ++ok;
        else ++failed;
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  Response drained = HttpPost(b.admin, "/drain", "");
  EXPECT_EQ(drained.status, 200);
  std::this_thread::sleep_for(2000ms);
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 50);
  EXPECT_EQ(slow.load(), 0) << order.sidecar->Log();
  EXPECT_EQ(failed.load(), 0) << order.sidecar->Log();
}

// Item: telling the registry "draining" and deregistering ran on the admin
// thread, with a 2 s timeout each, so POST /drain (a Kubernetes preStop)
// answered only after the control plane did, and /ready and /metrics
// waited too. A control plane that hangs (stopped, not gone: connections
// are accepted, nothing answers) must not slow the admin endpoint.
TEST(ControlDrain, PostDrainAnswersAtOnceWhileTheControlPlaneHangs) {
  ControlPlane cp = ControlPlane::Start();
  Instance b("payment", "", "", cp);
  ASSERT_TRUE(b.WaitReady(10s)) << b.sidecar->Log();
  cp.proc->Signal(SIGSTOP);
  auto started = std::chrono::steady_clock::now();
  Response drained = HttpPost(b.admin, "/drain", "", {}, 5s);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(drained.status, 200) << drained.error;
  EXPECT_LT(took, 300ms) << "POST /drain waited for the control plane";
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(HttpGet(b.admin, "/ready", {}, 5s).status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 300ms);
  // The drain goes on: callers are still served meanwhile, and after the
  // quiet period the sidecar deregisters (its DELETE times out) and exits.
  Response served = HttpGet(b.inbound, "/x", {}, 5s);
  EXPECT_EQ(served.status, 200) << served.error;
  EXPECT_EQ(served.Header("x-graymesh-draining"), "1");
  std::this_thread::sleep_for(1200ms);  // quiet: the entry side closes, deregistration starts
  started = std::chrono::steady_clock::now();
  Response metrics = HttpGet(b.admin, "/metrics", {}, 5s);
  if (metrics.status != 0) {  // unless it has already exited
    EXPECT_EQ(metrics.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 300ms) << "admin blocked by deregistering";
  }
  EXPECT_EQ(b.sidecar->Wait(10s), 0) << b.sidecar->Log();
  cp.proc->Signal(SIGCONT);
}

}  // namespace
}  // namespace graymesh::test
