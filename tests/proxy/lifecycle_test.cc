// Graceful stop: SIGTERM stops accepting, lets requests in flight finish,
// then exits 0.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

TEST(Lifecycle, SigtermFinishesRequestsInFlightThenExitsZero) {
  SampleApp app = SampleApp::Start("app");
  Gateway gw = Gateway::Start("routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                              "  - name: app\n    endpoints:\n      - address: 127.0.0.1:" +
                              std::to_string(app.port) + "\n");
  // An idle keep-alive connection, and a request that takes a second.
  TestConnection idle(gw.port);
  ASSERT_TRUE(idle.Send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(idle.ReadResponse().status, 200);
  auto slow = std::async(std::launch::async, [&] { return HttpGet(gw.port, "/sleep?ms=1000"); });
  std::this_thread::sleep_for(300ms);

  gw.proc->Signal(SIGTERM);
  EXPECT_TRUE(idle.IsClosedByPeer(2s)) << "idle connections close at once";
  Response r = slow.get();
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.closed_after) << "a draining proxy says connection: close";
  EXPECT_EQ(gw.proc->Wait(5s), 0) << gw.proc->Log();
  EXPECT_FALSE(WaitForPort(gw.port, 200ms)) << "no longer accepting";
}

// Polls the admin /ready until it answers `status`, up to `timeout`.
bool ReadyBecomes(uint16_t admin, int status, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  do {
    if (HttpGet(admin, "/ready", {}, 1s).status == status) return true;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// A sidecar without a control plane (static configuration) did not
// probe its app, so its /ready said 200 with no app behind it. It now
// follows the app as a registered one does: 503 until the ready path
// answers, 200 while it does, 503 again within a couple of probes after the
// app is gone.
TEST(SidecarReady, WithoutAControlPlaneReadyFollowsTheApp) {
  const uint16_t app_port = FreePort();
  Sidecar sc = Sidecar::Start("payment", app_port, "", {"--ready-path", "/healthz"});
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(HttpGet(sc.admin, "/ready").status, 503) << "no app yet";
  {
    SampleApp app = SampleApp::Start("payment", "", {}, app_port);
    EXPECT_TRUE(ReadyBecomes(sc.admin, 200, 3s)) << sc.proc->Log();
    EXPECT_EQ(HttpGet(sc.inbound, "/x").status, 200);
    app.proc->Kill();
    const auto killed = std::chrono::steady_clock::now();
    EXPECT_TRUE(ReadyBecomes(sc.admin, 503, 3s)) << sc.proc->Log();
    EXPECT_LT(std::chrono::steady_clock::now() - killed, 2500ms);
  }
}

// A request still in flight when the drain timeout ends it: the gateway
// exits 1, and its connections are torn down before the worker state they
// point into (listeners, counters, session list). Under the asan preset a
// session freed after its worker's listeners was a heap-use-after-free in
// the gateway's log, which fails the test (support/process.h).
TEST(Lifecycle, DrainTimeoutWithRequestsInFlightExitsOneCleanly) {
  SampleApp app = SampleApp::Start("app");
  Gateway gw = Gateway::Start("routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                              "  - name: app\n    endpoints:\n      - address: 127.0.0.1:" +
                              std::to_string(app.port) + "\ntimeouts: { drain: 500ms }\n");
  auto slow = std::async(std::launch::async, [&] { return HttpGet(gw.port, "/sleep?ms=5000"); });
  std::this_thread::sleep_for(300ms);
  gw.proc->Signal(SIGTERM);
  EXPECT_EQ(gw.proc->Wait(5s), 1) << gw.proc->Log();
  EXPECT_NE(gw.proc->Log().find("drain timeout: 1 connections still open"), std::string::npos)
      << gw.proc->Log();
  slow.get();
}

}  // namespace
}  // namespace graymesh::test
