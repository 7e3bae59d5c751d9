// ControlAgent against an in-process control plane that pushes a snapshot at
// once on every watch: what Stop() promises the code that owns the Apply
// callback (graymesh proxy: the Server, destroyed right after Stop).
#include "proxy/control_agent.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "net/http_server.h"

namespace graymesh::proxy {
namespace {

using std::chrono::milliseconds;

// Answers GET /v1/snapshot?version=N with version N+1 at once.
class PushingControlPlane {
 public:
  PushingControlPlane()
      : server_(io_, {asio::ip::make_address("127.0.0.1"), 0},
                [](const net::HttpRequest& rq) -> asio::awaitable<net::HttpReply> {
                  net::HttpReply reply;
                  const std::string v(rq.QueryParam("version"));
                  const int64_t next = std::stoll(v.empty() ? "0" : v) + 1;
                  reply.body = "{\"version\":" + std::to_string(next) + ",\"store\":\"s\"}";
                  co_return reply;
                }) {
    server_.Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~PushingControlPlane() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  asio::io_context io_{1};
  net::HttpServer server_;
  std::thread thread_;
};

// Stop() returns only once no Apply runs, and none starts after it: the
// callback's owner may be destroyed as soon as Stop() returns. Without that
// the watch thread (which Stop detaches, as a long poll may be in flight)
// was still inside Apply here.
TEST(ControlAgentStop, NoApplyRunsOrStartsAfterStopReturns) {
  PushingControlPlane cp;
  ControlAgent agent({.urls = {wire::ParseControlUrl(cp.url())}},
                     [](const std::string&) { return config::Config{}; });
  ASSERT_NE(agent.Initial(milliseconds(3000)), nullptr);
  std::atomic<int> applied{0};
  std::atomic<bool> in_apply{false};
  std::atomic<bool> stopped{false};
  std::atomic<int> after_stop{0};
  agent.Start([&](std::shared_ptr<const config::Config>) {
    in_apply = true;
    if (stopped) ++after_stop;
    ++applied;
    std::this_thread::sleep_for(milliseconds(300));  // a slow apply: Stop comes in the middle
    in_apply = false;
  });
  for (int i = 0; i < 500 && !in_apply; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(in_apply) << "the agent never applied a pushed snapshot";
  agent.Stop();
  EXPECT_FALSE(in_apply) << "Stop() returned while Apply was still running";
  stopped = true;
  std::this_thread::sleep_for(milliseconds(500));  // the watch thread's next turn, if any
  EXPECT_EQ(after_stop, 0) << "Apply was called after Stop() returned";
  EXPECT_GE(applied, 1);
}

}  // namespace
}  // namespace graymesh::proxy
