// The small HTTP server's limits, on a real `graymesh control`: head-read and
// idle timeouts, a long poll that outlives the idle timeout, the connection
// cap.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control/control_fixture.h"
#include "support/http_client.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

TEST(HttpServerLimits, SlowHeadsAreClosedAfterTheHeadReadTimeout) {
  ControlPlane cp = ControlPlane::Start({"--header-read-timeout", "1s"});
  std::vector<std::unique_ptr<TestConnection>> slow;
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<TestConnection>(cp.port);
    ASSERT_TRUE(c->connected());
    // Half of them send part of a head (slowloris), half nothing at all.
    if (i % 2 == 0) ASSERT_TRUE(c->Send("GET /healthz HTTP/1.1\r\nHost: a\r\n"));
    slow.push_back(std::move(c));
  }
  const auto start = std::chrono::steady_clock::now();
  int closed = 0;
  for (auto& c : slow) closed += c->IsClosedByPeer(3s) ? 1 : 0;
  EXPECT_EQ(closed, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(cp.Get("/healthz").status, 200);  // prompt clients are served meanwhile
}

TEST(HttpServerLimits, IdleKeptAliveConnectionsAreClosedAfterTheIdleTimeout) {
  ControlPlane cp = ControlPlane::Start({"--idle-timeout", "1s"});
  TestConnection c(cp.port);
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(c.ReadResponse().status, 200);
  std::this_thread::sleep_for(400ms);  // well inside the timeout: still kept alive
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(c.ReadResponse().status, 200);
  EXPECT_TRUE(c.IsClosedByPeer(2500ms));
}

TEST(HttpServerLimits, ALongPollOutlivesTheIdleTimeout) {
  ControlPlane cp = ControlPlane::Start({"--idle-timeout", "1s", "--header-read-timeout", "1s"});
  const int64_t rev = cp.Revision();
  TestConnection c(cp.port);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET /v1/snapshot?version=" + std::to_string(rev) +
                     "&wait=3 HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response r = c.ReadResponse(6s);
  EXPECT_EQ(r.status, 304) << r.error;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2500ms);
}

TEST(HttpServerLimits, ConnectionsOverTheCapGet503AndRoomComesBack) {
  ControlPlane cp = ControlPlane::Start({"--max-connections", "10"});
  std::vector<std::unique_ptr<TestConnection>> held;
  for (int i = 0; i < 10; ++i) {
    auto c = std::make_unique<TestConnection>(cp.port);
    ASSERT_TRUE(c->Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_EQ(c->ReadResponse().status, 200);  // accepted and counted
    held.push_back(std::move(c));
  }
  Response over = cp.Get("/healthz");
  EXPECT_EQ(over.status, 503) << over.error;
  EXPECT_EQ(over.Header("x-graymesh-reason"), "too many connections to this server");
  held.resize(5);
  std::this_thread::sleep_for(200ms);  // the server sees the closes
  EXPECT_EQ(cp.Get("/healthz").status, 200);
}

}  // namespace
}  // namespace graymesh::test
