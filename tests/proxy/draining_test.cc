// A consumer reacting to a draining endpoint: the `x-graymesh-draining: 1`
// mark takes it out of rotation at once and its connections are not reused;
// a real sidecar drained under load costs no request and leaves none hanging.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/stub_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

std::string TwoEndpoints(uint16_t a, uint16_t b, const std::string& extra = "") {
  return "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    endpoints:\n"
         "      - address: 127.0.0.1:" + std::to_string(a) + "\n" +
         "      - address: 127.0.0.1:" + std::to_string(b) + "\n" + extra;
}

TEST(Draining, TheMarkStopsTheConsumerChoosingTheEndpointAtOnce) {
  StubUpstream draining(StubUpstream::Mode::kDraining);
  SampleApp live = SampleApp::Start("s");
  Gateway gw = Gateway::Start(TwoEndpoints(draining.port(), live.port));
  int ok = 0;
  for (int i = 0; i < 30; ++i) {
    Response r = HttpGet(gw.port, "/x");
    ok += r.status == 200;
    // The mark is for the hop that called the draining endpoint: not passed on.
    EXPECT_FALSE(r.HasHeader("x-graymesh-draining"));
  }
  EXPECT_EQ(ok, 30);
  // The response that carried the mark was delivered; nothing after it went there,
  // and its connection was not pooled (the stub keeps it open: the proxy closed it).
  EXPECT_EQ(draining.requests(), 1);
  EXPECT_EQ(draining.connections(), 1);
}

TEST(Draining, WithHealthOffTheDrainingEndpointKeepsGettingRequests) {
  StubUpstream draining(StubUpstream::Mode::kDraining);
  SampleApp live = SampleApp::Start("s");
  Gateway gw =
      Gateway::Start(TwoEndpoints(draining.port(), live.port, "upstream: { health: false }\n"));
  for (int i = 0; i < 30; ++i) HttpGet(gw.port, "/x");
  EXPECT_GE(draining.requests(), 14);
}

// A sidecar in front of each instance; one of them drains (POST /drain, as on
// SIGTERM) while the gateway sends a steady stream of GETs and POSTs on
// keep-alive connections. Every request is answered 200, promptly.
TEST(Draining, ADrainingSidecarUnderLoadCostsNoRequestAndLeavesNoneHanging) {
  // Requests take a while in the app, so some are in flight when the drain starts.
  SampleApp app_a = SampleApp::Start("s", "", {"--latency", "20"});
  SampleApp app_b = SampleApp::Start("s", "", {"--latency", "20"});
  Sidecar a = Sidecar::Start("s", app_a.port, "{}\n");
  Sidecar b = Sidecar::Start("s", app_b.port, "{}\n");
  Gateway gw = Gateway::Start(TwoEndpoints(a.inbound, b.inbound));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, slow{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      while (!stop) {
        TestConnection conn(gw.port);
        for (int i = 0; i < 50 && !stop; ++i) {
          const bool post = (i + c) % 2 == 1;
          std::string rq = post ? "POST /x HTTP/1.1\r\nhost: s\r\ncontent-length: 4\r\n\r\ndata"
                                : "GET /x HTTP/1.1\r\nhost: s\r\n\r\n";
          auto start = std::chrono::steady_clock::now();
          if (!conn.Send(rq)) break;
          Response r = conn.ReadResponse(5s);
          if (std::chrono::steady_clock::now() - start > 1s) ++slow;
          if (r.status == 200) ++ok;
          else ++failed;
          if (r.status == 0 || r.closed_after) break;
        }
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(HttpPost(b.admin, "/drain", "").status, 200);
  std::this_thread::sleep_for(1500ms);
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 50);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(slow.load(), 0);
  EXPECT_EQ(b.proc->Wait(10s), 0) << b.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
