// Requests through a real gateway to real sample apps: keep-alive, pipelining,
// streaming, header rewriting, HTTP/1.0, and the sidecar's two sides.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

using nlohmann::json;

std::string OneService(uint16_t port, const std::string& extra = "") {
  return "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
         "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(port) + "\n" + extra;
}

// Resident memory of a process, from /proc.
long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
  }
  return -1;
}

std::string EchoedHeader(const json& echo, const std::string& name) {
  for (const auto& h : echo["headers"]) {
    std::string n = h[0];
    std::transform(n.begin(), n.end(), n.begin(), ::tolower);
    if (n == name) return h[1];
  }
  return "<none>";
}

class Forwarding : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = SampleApp::Start("app");
    gw_ = Gateway::Start(OneService(app_.port));
  }
  SampleApp app_;
  Gateway gw_;
};

TEST_F(Forwarding, KeepAliveReusesOneUpstreamConnection) {
  TestConnection c(gw_.port);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: shop\r\n\r\n"));
    Response r = c.ReadResponse();
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_FALSE(r.closed_after);
  }
  // (The fixture's readiness probe was the first connection.)
  EXPECT_EQ(gw_.Metric("downstream_cx_total"), 2u);
  EXPECT_EQ(gw_.Metric("upstream_cx_total"), 1u);
  EXPECT_EQ(gw_.Metric("upstream_cx_reused"), 19u);
}

TEST_F(Forwarding, PipelinedRequestsAreAnsweredInOrder) {
  TestConnection c(gw_.port);
  std::string three;
  for (int i = 1; i <= 3; ++i) three += "GET /echo?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_TRUE(c.Send(three));
  for (int i = 1; i <= 3; ++i) {
    Response r = c.ReadResponse();
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(json::parse(r.body)["target"], "/echo?i=" + std::to_string(i));
  }
}

TEST_F(Forwarding, LargeBodiesStreamBothWaysWithoutBuffering) {
  // 32 MiB up (Content-Length) and 64 MiB down: the proxy's memory must stay
  // far below either size.
  std::string body(32 << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4096) body[i] = char('a' + (i / 4096) % 26);
  Response up = HttpPost(gw_.port, "/upload", body, {}, 30s);
  ASSERT_EQ(up.status, 200) << up.error;
  json j = json::parse(up.body);
  EXPECT_EQ(j["bodyBytes"], body.size());
  EXPECT_EQ(j["fnv1a64"], Fnv1a64Hex(body));
  body.clear();
  body.shrink_to_fit();

  Response down = HttpGet(gw_.port, "/bytes?n=67108864", {}, 30s);
  ASSERT_EQ(down.status, 200) << down.error;
  EXPECT_EQ(down.body.size(), 67108864u);
#if !defined(__SANITIZE_ADDRESS__)
  // (Under ASan the allocator's quarantine keeps freed memory resident, so
  // RSS says nothing about buffering there; the release run checks it.)
  // TSan's shadow memory adds to RSS; both bounds are far below the 64 MiB
  // a buffered body would take.
#if defined(__SANITIZE_THREAD__)
  constexpr int64_t kBoundKb = 40 * 1024;
#else
  constexpr int64_t kBoundKb = 24 * 1024;
#endif
  EXPECT_LT(RssKb(gw_.proc->pid()), kBoundKb) << "the proxy held a body in memory";
#endif
}

TEST_F(Forwarding, ChunkedUploadWithExtensionsAndTrailersArrivesIntact) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;ext=1\r\nhello\r\n"));
  ASSERT_TRUE(c.Send("6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  json j = json::parse(r.body);
  EXPECT_EQ(j["bodyBytes"], 11);
  EXPECT_EQ(j["fnv1a64"], Fnv1a64Hex("hello world"));
}

TEST_F(Forwarding, ChunkedResponseStreamsInPieces) {
  Response r = HttpGet(gw_.port, "/chunked?n=1000000");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body.size(), 1000000u);
  EXPECT_EQ(r.Header("transfer-encoding"), "chunked");
}

TEST_F(Forwarding, ExpectContinueGetsInterimResponseBeforeBody) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  Response interim = c.ReadResponse(5s);
  // The client must not have to send the body blind: 100 comes first.
  ASSERT_EQ(interim.status, 100) << interim.error;
  ASSERT_TRUE(c.Send("hello"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(json::parse(r.body)["bodyBytes"], 5);
}

TEST_F(Forwarding, HopByHopHeadersRemovedAndForwardedForAppended) {
  Response r = HttpGet(gw_.port, "/echo",
                       {{"Connection", "keep-alive, X-Secret"},
                        {"X-Secret", "drop me"},
                        {"Keep-Alive", "timeout=5"},
                        {"TE", "trailers"},
                        {"Proxy-Connection", "keep-alive"},
                        {"X-Forwarded-For", "10.1.2.3"},
                        {"X-Kept", "yes"}});
  ASSERT_EQ(r.status, 200) << r.error;
  json echo = json::parse(r.body);
  for (const char* gone : {"connection", "x-secret", "keep-alive", "te", "proxy-connection"}) {
    EXPECT_EQ(EchoedHeader(echo, gone), "<none>") << gone;
  }
  EXPECT_EQ(EchoedHeader(echo, "x-kept"), "yes");
  EXPECT_EQ(EchoedHeader(echo, "x-forwarded-for"), "10.1.2.3, 127.0.0.1");
  EXPECT_EQ(echo["version"], "HTTP/1.1");
}

TEST_F(Forwarding, Http10ClientGetsUnchunkedBodyAndClose) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /chunked?n=5000 HTTP/1.0\r\n\r\n"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body.size(), 5000u);
  EXPECT_FALSE(r.HasHeader("transfer-encoding"));
  EXPECT_TRUE(c.IsClosedByPeer(2s));
}

TEST_F(Forwarding, HeadRequestGetsNoBody) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("HEAD /bytes?n=100 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response head = c.ReadResponse(5s, /*head_request=*/true);
  ASSERT_EQ(head.status, 200) << head.error;
  EXPECT_EQ(head.body, "");
  Response next = c.ReadResponse();
  ASSERT_EQ(next.status, 200) << next.error;
  EXPECT_EQ(json::parse(next.body)["target"], "/echo");
}

// The sidecar: inbound in front of the app; outbound resolves the service by
// proxy-form authority or by Host.
TEST(Sidecar, OutboundByProxyFormAndHostReachesServiceInboundReachesApp) {
  SampleApp local = SampleApp::Start("order");
  SampleApp payment = SampleApp::Start("payment");
  uint16_t inbound = FreePort(), outbound = FreePort(), admin = FreePort();
  std::string cfg = WriteTempFile(
      "sidecar.yaml", "services:\n  - name: payment\n    endpoints:\n      - address: 127.0.0.1:" +
                          std::to_string(payment.port) + "\n");
  ChildProcess sidecar(GraymeshBin(),
                       {"proxy", "--service", "order", "--app",
                        "127.0.0.1:" + std::to_string(local.port), "--inbound",
                        "127.0.0.1:" + std::to_string(inbound), "--outbound",
                        "127.0.0.1:" + std::to_string(outbound), "--admin",
                        "127.0.0.1:" + std::to_string(admin), "--config", cfg, "--workers", "1"});
  ASSERT_TRUE(WaitForPort(outbound, 5s)) << sidecar.Log();

  TestConnection c(outbound);
  ASSERT_TRUE(c.Send("GET http://payment/pay?x=1 HTTP/1.1\r\nHost: payment\r\n\r\n"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(json::parse(r.body)["service"], "payment");
  EXPECT_EQ(json::parse(r.body)["path"], "/pay");

  Response by_host = HttpGet(outbound, "/pay", {{"Host", "payment:80"}});
  ASSERT_EQ(by_host.status, 200) << by_host.error;
  EXPECT_EQ(json::parse(by_host.body)["service"], "payment");

  Response unknown = HttpGet(outbound, "/x", {{"Host", "nosuch"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.Header("x-graymesh-reason").find("nosuch"), std::string::npos);

  Response in = HttpGet(inbound, "/hello");
  ASSERT_EQ(in.status, 200) << in.error;
  EXPECT_EQ(json::parse(in.body)["service"], "order");
}

}  // namespace
}  // namespace graymesh::test
