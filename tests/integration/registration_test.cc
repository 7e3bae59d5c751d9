// Lossless online, all real processes: a sidecar registers only once its app
// answers its ready path (and after --delay-registration), and while
// registered it watches the app: an app that stops answering turns /ready
// 503 and the instance `unhealthy` in the registry within a second or two,
// and back when it answers again (docs/lifecycle.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <thread>

#include "integration/control_instance.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

struct Sidecar {
  uint16_t inbound = FreePort(), outbound = FreePort(), admin = FreePort();
  std::unique_ptr<ChildProcess> proc;
  Sidecar(const ControlPlane& cp, uint16_t app, std::vector<std::string> extra) {
    std::vector<std::string> a{"proxy",      "--service", "payment",      "--app",
                               Addr(app),    "--inbound", Addr(inbound),  "--outbound",
                               Addr(outbound), "--admin", Addr(admin),    "--control",
                               cp.url(),     "--workers", "1",            "--cache",
                               TestTempDir() + "/cache-" + std::to_string(inbound) + ".json"};
    a.insert(a.end(), extra.begin(), extra.end());
    proc = std::make_unique<ChildProcess>(GraymeshBin(), a);
    EXPECT_TRUE(WaitForPort(admin, 5s)) << proc->Log();
  }
  int Ready() const { return HttpGet(admin, "/ready", {}, 1s).status; }
};

// "" when the registry does not list it.
std::string StateOf(const ControlPlane& cp, uint16_t inbound) {
  nlohmann::json j = Json(cp.Get("/v1/instances?service=payment"));
  for (const auto& i : j["instances"]) {
    if (i.value("address", "") == Addr(inbound)) return i.value("state", "?");
  }
  return "";
}

std::unique_ptr<ChildProcess> App(uint16_t port) {
  auto p = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"sample-app", "--name", "payment", "--listen",
                                              Addr(port)});
  EXPECT_TRUE(WaitForPort(port, 5s)) << p->Log();
  return p;
}

// Item: a sidecar whose --app port was taken by another process registered
// and went ready, because it only checked that something accepts.
TEST(Registration, WaitsForTheReadyPathNotJustAnOpenPort) {
  ControlPlane cp = ControlPlane::Start();
  uint16_t taken = 0;
  const int other = ListenOnLoopback(&taken);  // accepts (backlog), never answers
  Sidecar sc(cp, taken, {"--ready-path", "/healthz"});
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(StateOf(cp, sc.inbound), "") << sc.proc->Log();
  EXPECT_EQ(sc.Ready(), 503);
  EXPECT_NE(sc.proc->Log().find("not ready (GET /healthz"), std::string::npos) << sc.proc->Log();
  ::close(other);

  const uint16_t port = FreePort();
  auto app = App(port);
  Sidecar good(cp, port, {"--ready-path", "/healthz"});
  EXPECT_TRUE(Eventually([&] { return good.Ready() == 200; }, 5s)) << good.proc->Log();
  EXPECT_EQ(StateOf(cp, good.inbound), "ready");
}

TEST(Registration, DelayRegistrationWaitsAfterTheAppIsReady) {
  ControlPlane cp = ControlPlane::Start();
  const uint16_t port = FreePort();
  auto app = App(port);
  const auto start = std::chrono::steady_clock::now();
  Sidecar sc(cp, port, {"--delay-registration", "1500ms"});
  ASSERT_TRUE(Eventually([&] { return StateOf(cp, sc.inbound) == "ready"; }, 6s))
      << sc.proc->Log();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1400ms);
  EXPECT_EQ(sc.Ready(), 200);
}

// Issue 9: the sidecar watches its own app, so consumers stop before they
// see errors.
TEST(Registration, AnAppThatStopsAnsweringIsMarkedUnhealthy) {
  ControlPlane cp = ControlPlane::Start();
  const uint16_t port = FreePort();
  auto app = App(port);
  Sidecar sc(cp, port, {"--ready-path", "/healthz"});
  ASSERT_TRUE(Eventually([&] { return sc.Ready() == 200; }, 5s)) << sc.proc->Log();

  app->Kill();
  const auto killed = std::chrono::steady_clock::now();
  EXPECT_TRUE(Eventually([&] { return StateOf(cp, sc.inbound) == "unhealthy"; }, 2500ms))
      << sc.proc->Log();
  EXPECT_LE(std::chrono::steady_clock::now() - killed, 2500ms);
  EXPECT_EQ(sc.Ready(), 503);
  // Not in the snapshot consumers route by.
  nlohmann::json snap = Json(cp.Get("/v1/snapshot?version=0"));
  EXPECT_EQ(snap.dump().find("\"state\":\"ready\""), std::string::npos) << snap.dump();

  app = App(port);
  EXPECT_TRUE(Eventually([&] { return StateOf(cp, sc.inbound) == "ready"; }, 3s))
      << sc.proc->Log();
  EXPECT_EQ(sc.Ready(), 200);
}

void ApplyLossless(const ControlPlane& cp, const std::string& spec) {
  const std::string doc = "kind: ServicePolicy\nname: payment\nspec:\n  lossless: " + spec + "\n";
  ASSERT_EQ(RunCli({"apply", "-f", TempFile("policy.yaml", doc), "--control", cp.url()}).code, 0);
}

// Item: ServicePolicy lossless values were read from the first snapshot
// only. A drainTimeout changed while the sidecar runs applies to its next
// drain: here 1 s instead of 30 s, so a request that outlives it ends the
// drain with exit 1 after about a second (the old value would wait for it).
TEST(Registration, ALaterPolicySetsTheNextDrainTimeout) {
  ControlPlane cp = ControlPlane::Start();
  ApplyLossless(cp, "{ drainTimeout: 30s }");
  const uint16_t port = FreePort();
  auto app = App(port);
  Sidecar sc(cp, port, {"--drain-quiet", "200ms"});
  ASSERT_TRUE(Eventually([&] { return sc.Ready() == 200; }, 5s)) << sc.proc->Log();
  ApplyLossless(cp, "{ drainTimeout: 1s }");
  std::this_thread::sleep_for(1s);  // the push reaches the sidecar at once; margin
  auto slow = std::async(std::launch::async,
                         [&] { return HttpGet(sc.inbound, "/sleep?ms=6000", {}, 10s); });
  std::this_thread::sleep_for(300ms);
  sc.proc->Signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(sc.proc->Wait(4s), 1) << "the 1 s drain timeout ends the drain\n" << sc.proc->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 3s);
  slow.wait();
}

// Item: a lossless section without drainTimeout set 30 s, over the
// sidecar's own timeouts.drain. With only delayRegistration in the policy,
// the 1 s of the sidecar's --config ends a drain that a 6 s request would
// otherwise hold open: exit 1 after about a second.
TEST(Registration, APolicyWithoutDrainTimeoutKeepsTheSidecarsOwn) {
  ControlPlane cp = ControlPlane::Start();
  ApplyLossless(cp, "{ delayRegistration: 0s }");
  const uint16_t port = FreePort();
  auto app = App(port);
  const std::string file = TempFile("drain-1s.yaml", "timeouts:\n  drain: 1s\n");
  Sidecar sc(cp, port, {"--drain-quiet", "200ms", "--config", file});
  ASSERT_TRUE(Eventually([&] { return sc.Ready() == 200; }, 5s)) << sc.proc->Log();
  auto slow = std::async(std::launch::async,
                         [&] { return HttpGet(sc.inbound, "/sleep?ms=6000", {}, 10s); });
  std::this_thread::sleep_for(300ms);
  sc.proc->Signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(sc.proc->Wait(4s), 1) << "the sidecar's 1 s drain timeout ends the drain\n"
                                  << sc.proc->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 3s);
  slow.wait();
}

// The same for delayRegistration: a policy that arrives while the sidecar
// waits for its app sets the delay it registers after.
TEST(Registration, ALaterPolicySetsTheRegistrationDelay) {
  ControlPlane cp = ControlPlane::Start();
  const uint16_t port = FreePort();
  Sidecar sc(cp, port, {"--ready-path", "/healthz"});  // no app yet: it waits
  std::this_thread::sleep_for(500ms);
  ApplyLossless(cp, "{ delayRegistration: 2s }");
  std::this_thread::sleep_for(1s);
  auto app = App(port);
  const auto app_up = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return StateOf(cp, sc.inbound) == "ready"; }, 6s)) << sc.proc->Log();
  EXPECT_GE(std::chrono::steady_clock::now() - app_up, 1800ms) << sc.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
