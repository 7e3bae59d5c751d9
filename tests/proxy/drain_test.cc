// The sidecar's lossless drain without a control plane (docs/lifecycle.md):
// after SIGTERM, callers are served until they go quiet, each response says
// `x-graymesh-draining: 1` and `connection: close`, the outbound side serves
// the app until it is done, and the app the sidecar runs gets SIGTERM only
// after that; its exit status is the sidecar's.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

std::string Addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Polls /ready until it says `draining` (the admin thread has begun the
// drain and handed it to every worker), for at most 5 s.
bool DrainBegan(uint16_t admin) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(1ms)) {
    Response r = HttpGet(admin, "/ready", {}, 1s);
    if (r.status == 503 && r.body.starts_with("draining")) return true;
  }
  return false;
}

// A payment-like app run by its sidecar: it waits `latency_ms`, then calls
// `data` through the sidecar's outbound side.
struct Pair {
  SampleApp data = SampleApp::Start("data");
  uint16_t app = FreePort();
  Sidecar sc;
  explicit Pair(int latency_ms, std::vector<std::string> flags = {}) {
    const std::string yaml = "services:\n  - name: data\n    endpoints:\n      - address: " +
                             Addr(data.port) + "\n";
    // The outbound port is picked by the fixture: reserve one for --via.
    const uint16_t outbound = FreePort();
    flags.insert(flags.end(), {"--", GraymeshBin(), "sample-app",
                               "--name", "payment", "--listen", Addr(app), "--latency",
                               std::to_string(latency_ms), "--calls", "data", "--via",
                               Addr(outbound)});
    sc = Sidecar::Start("payment", app, yaml, flags, outbound);
    EXPECT_TRUE(WaitForPort(app, 5s)) << sc.proc->Log();
  }
};

// Item: idle keep-alive connections were closed and new ones refused the
// moment SIGTERM arrived, so a request sent 10 ms later failed.
TEST(SidecarDrain, CallersAreServedUntilTheyGoQuiet) {
  Pair p(0, {"--drain-quiet", "1s"});
  TestConnection pooled(p.sc.inbound);
  ASSERT_TRUE(pooled.Send("GET /x HTTP/1.1\r\nHost: payment\r\n\r\n"));
  Response first = pooled.ReadResponse();
  ASSERT_EQ(first.status, 200) << first.error;
  EXPECT_FALSE(first.HasHeader("x-graymesh-draining"));

  p.sc.proc->Signal(SIGTERM);
  // As soon as the drain has begun (the signal may take a while to be
  // handled on a loaded machine: a fixed 10 ms here sent the request before
  // it, which got a plain keep-alive answer, and the test failed once in ~50).
  ASSERT_TRUE(DrainBegan(p.sc.admin)) << p.sc.proc->Log();
  // The pooled connection is still served, once, and told to go.
  ASSERT_TRUE(pooled.Send("GET /x HTTP/1.1\r\nHost: payment\r\n\r\n"));
  Response r = pooled.ReadResponse();
  EXPECT_EQ(r.status, 200) << r.error << "\n" << p.sc.proc->Log();
  EXPECT_EQ(r.Header("x-graymesh-draining"), "1");
  EXPECT_TRUE(r.closed_after) << "connection: close between requests";
  EXPECT_TRUE(pooled.IsClosedByPeer(1s));
  // New connections are still accepted while callers keep coming, and the
  // app (run by the sidecar) still answers: it has had no SIGTERM yet.
  for (int i = 0; i < 5; ++i) {
    Response n = HttpGet(p.sc.inbound, "/x");
    EXPECT_EQ(n.status, 200) << n.error;
    EXPECT_EQ(n.Header("x-graymesh-draining"), "1");
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(HttpGet(p.sc.admin, "/ready").status, 503);
  // Then quiet: the sidecar stops the app and exits with its status.
  EXPECT_EQ(p.sc.proc->Wait(5s), 0) << p.sc.proc->Log();
  EXPECT_FALSE(WaitForPort(p.sc.inbound, 200ms));
  EXPECT_FALSE(WaitForPort(p.app, 200ms)) << "the app was stopped after the drain";
}

// A caller outside the mesh (an ingress nginx's keep-alive pool, say) keeps
// an idle connection open and never learns of the drain. Once callers are
// quiet the drain closes it, deregisters, stops the app and exits 0. Leaving
// idle connections to their callers instead holds every such drain until
// --drain-timeout, which then exits 1 and kills the app.
TEST(SidecarDrain, AnIdleCallerDoesNotHoldTheDrainOpen) {
  Pair p(0, {"--drain-quiet", "300ms", "--drain-timeout", "20s"});
  TestConnection idle(p.sc.inbound);
  ASSERT_TRUE(idle.Send("GET /x HTTP/1.1\r\nHost: payment\r\n\r\n"));
  ASSERT_EQ(idle.ReadResponse().status, 200);
  p.sc.proc->Signal(SIGTERM);
  EXPECT_EQ(p.sc.proc->Wait(8s), 0) << p.sc.proc->Log();
  EXPECT_TRUE(idle.IsClosedByPeer(1s)) << "the idle connection is closed, not left open";
  EXPECT_FALSE(WaitForPort(p.app, 200ms)) << "the app was stopped after the drain";
}

// Item: the outbound listener closed at once, so a request in flight failed
// when its app called the next service (502, connect refused).
TEST(SidecarDrain, OutboundServesTheAppUntilItsLastRequest) {
  Pair p(800);
  auto slow = std::async(std::launch::async, [&] { return HttpGet(p.sc.inbound, "/pay"); });
  std::this_thread::sleep_for(300ms);
  p.sc.proc->Signal(SIGTERM);
  Response r = slow.get();
  EXPECT_EQ(r.status, 200) << r.body << "\n" << p.sc.proc->Log();
  EXPECT_NE(r.body.find("\"service\":\"data\""), std::string::npos) << r.body;
  EXPECT_EQ(p.sc.proc->Wait(5s), 0) << p.sc.proc->Log();
}

// The protection off: the same request fails, as before the drain existed.
TEST(SidecarDrain, WithoutTheDrainARequestInFlightLosesItsCall) {
  Pair p(800, {"--no-drain"});
  auto slow = std::async(std::launch::async, [&] { return HttpGet(p.sc.inbound, "/pay"); });
  std::this_thread::sleep_for(300ms);
  p.sc.proc->Signal(SIGTERM);
  Response r = slow.get();
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_FALSE(r.HasHeader("x-graymesh-draining"));
  p.sc.proc->Wait(5s);
}

// Item: a draining sidecar's own error replies (not relayed from its app)
// said neither `x-graymesh-draining: 1` nor `connection: close`, so a
// consumer kept choosing it and kept its connection. From the drain on,
// every response says both, a 502 the proxy makes as much as a relayed 200.
TEST(SidecarDrain, ItsOwnErrorRepliesSayItIsDraining) {
  const RefusingPort app;  // the app is gone: the sidecar answers 502 itself
  const uint16_t outbound = FreePort();
  Sidecar sc = Sidecar::Start("payment", app, "", {"--drain-quiet", "1500ms"}, outbound);
  // Before the drain: the 502 keeps the connection and has no mark.
  TestConnection before(sc.inbound);
  ASSERT_TRUE(before.Send("GET /x HTTP/1.1\r\nHost: payment\r\n\r\n"));
  Response r0 = before.ReadResponse();
  ASSERT_EQ(r0.status, 502) << r0.error;
  EXPECT_FALSE(r0.HasHeader("x-graymesh-draining"));
  EXPECT_FALSE(r0.closed_after);

  sc.proc->Signal(SIGTERM);
  std::this_thread::sleep_for(50ms);
  // A pooled connection's next request: the proxy's 502, marked, and closed.
  ASSERT_TRUE(before.Send("GET /x HTTP/1.1\r\nHost: payment\r\n\r\n"));
  Response r1 = before.ReadResponse();
  EXPECT_EQ(r1.status, 502) << r1.error << "\n" << sc.proc->Log();
  EXPECT_EQ(r1.Header("x-graymesh-draining"), "1");
  EXPECT_TRUE(r1.closed_after) << "connection: close on the proxy's own reply";
  EXPECT_TRUE(before.IsClosedByPeer(1s));
  // A request the proxy refuses (CONNECT: 501) on a new connection.
  TestConnection refused(sc.inbound);
  ASSERT_TRUE(refused.Send("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"));
  Response r2 = refused.ReadResponse();
  EXPECT_EQ(r2.status, 501) << r2.error;
  EXPECT_EQ(r2.Header("x-graymesh-draining"), "1");
  EXPECT_TRUE(r2.closed_after);
  // The outbound side (the app's own calls) says connection: close too, but
  // no draining mark: that is for the callers of this instance.
  TestConnection app_call(outbound);
  ASSERT_TRUE(app_call.Send("GET /x HTTP/1.1\r\nHost: nowhere\r\n\r\n"));
  Response r3 = app_call.ReadResponse();
  EXPECT_EQ(r3.status, 404) << r3.error;
  EXPECT_TRUE(r3.closed_after);
  EXPECT_FALSE(r3.HasHeader("x-graymesh-draining"));
  EXPECT_TRUE(app_call.IsClosedByPeer(1s));
  sc.proc->Wait(10s);
}

// The app's exit status becomes the sidecar's; an app that exits on its
// own ends the sidecar too.
TEST(SidecarDrain, TheAppsExitStatusIsTheSidecars) {
  const uint16_t app = FreePort();
  Sidecar sc = Sidecar::Start("payment", app, "", {"--", "/bin/sh", "-c", "sleep 0.5; exit 3"});
  EXPECT_EQ(sc.proc->Wait(10s), 3) << sc.proc->Log();
  Sidecar bad = Sidecar::Start("payment", app, "", {"--", "/nonexistent/app"});
  EXPECT_EQ(bad.proc->Wait(10s), 127) << bad.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
