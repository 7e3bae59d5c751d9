// Lossless online, all real processes: a sidecar registers only once its app
// answers its ready path (and after --delay-registration), and while
// registered it watches the app: an app that stops answering turns /ready
// 503 and the instance `unhealthy` in the registry within a second or two,
// and back when it answers again (docs/lifecycle.md).
#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace graymesh::test
