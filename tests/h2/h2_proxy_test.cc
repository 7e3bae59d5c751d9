// HTTP/2 with prior knowledge through a real gateway and sidecar to a real
// HTTP/2 upstream (Node's http2), with curl as the client.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

TEST(Http2Proxy, PriorKnowledgeRequestReachesHttp2Upstream) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/hello")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "< x-server: up1")) << r.out;
  EXPECT_TRUE(Has(r, "\nup1\n")) << r.out;
}

TEST(Http2Proxy, Http1OnTheSamePortStillGoesToTheHttp1Path) {
  SampleApp app = SampleApp::Start("plain");
  Gateway gw = Gateway::Start(OneServiceAt(app.port));
  CurlResult r = Curl({"--http1.1", Url(gw.port, "/")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
}

// 4 MiB each way: many windows' worth, so it only arrives whole if the proxy
// acknowledges what it passes on, in both directions.
TEST(Http2Proxy, BodiesStreamBothWaysAndTrailersPass) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  const std::string body_file = WriteTempFile("body.bin", std::string(4 << 20, 'b'));
  CurlResult r = Curl({"--http2-prior-knowledge", "--data-binary", "@" + body_file, "-o",
                       "/dev/null", "-w", "size=%{size_download}\n", Url(gw.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "size=4194304")) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "< x-body-bytes: 4194304")) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "< x-trailer: done")) << r.out.substr(0, 4000);
}

// 20 slow requests at once on one client connection: they run side by side
// on one upstream connection.
TEST(Http2Proxy, StreamsAreMultiplexedOnOneUpstreamConnection) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  std::vector<std::string> args = {"--http2-prior-knowledge", "--parallel",
                                   "--parallel-immediate", "--parallel-max", "50"};
  for (int i = 0; i < 20; ++i) args.push_back(Url(gw.port, "/slow?ms=500"));
  auto start = std::chrono::steady_clock::now();
  CurlResult r = Curl(args);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  size_t ok = 0;
  for (size_t p = r.out.find("< HTTP/2 200"); p != std::string::npos;
       p = r.out.find("< HTTP/2 200", p + 1)) {
    ++ok;
  }
  EXPECT_EQ(ok, 20u) << r.out;
  EXPECT_LT(took, 4s);  // one after the other would take 10 s
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 1u);
}

TEST(Http2Proxy, NoEndpointIsA503WithTheReason) {
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    protocol: http2\n    endpoints: []\n");
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/x")});
  EXPECT_TRUE(Has(r, "< HTTP/2 503")) << r.out;
  EXPECT_TRUE(Has(r, "no endpoint available for service 'app'")) << r.out;
}

TEST(Http2Proxy, SlowUpstreamIsA504) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port, "timeouts:\n  response: 300ms\n"));
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/slow?ms=3000")});
  EXPECT_TRUE(Has(r, "< HTTP/2 504")) << r.out;
}

// grpc-timeout is the upstream deadline: the proxy answers DEADLINE_EXCEEDED
// itself (x-graymesh-reason says so) long before timeouts.response.
TEST(Http2Proxy, GrpcTimeoutEndsTheCallAtTheProxy) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  auto start = std::chrono::steady_clock::now();
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "content-type: application/grpc", "-H",
                       "te: trailers", "-H", "grpc-timeout: 300m", "--data-binary", "@/dev/null",
                       Url(gw.port, "/slow?ms=5000")});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "< grpc-status: 4")) << r.out;
  EXPECT_TRUE(Has(r, "< x-graymesh-reason: upstream did not answer within grpc-timeout")) << r.out;
}

TEST(Http2Proxy, GrpcRequestWithNoEndpointIsUnavailable) {
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    protocol: http2\n    endpoints: []\n");
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "content-type: application/grpc",
                       "--data-binary", "@/dev/null", Url(gw.port, "/pkg.Svc/Call")});
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "< grpc-status: 14")) << r.out;
  EXPECT_TRUE(Has(r, "< grpc-message: no endpoint available for service 'app'")) << r.out;
}

TEST(Http2Proxy, UpstreamResetMidBodyResetsTheClientStream) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/reset")});
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_EQ(r.exit_code, 92) << r.out;  // CURLE_HTTP2_STREAM: the stream was reset
  // The connection and the proxy carry on.
  CurlResult again = Curl({"--http2-prior-knowledge", Url(gw.port, "/hello")});
  EXPECT_TRUE(Has(again, "< HTTP/2 200")) << again.out;
}

TEST(Http2Proxy, OversizedHeaderBlockIsA431) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port, "limits:\n  maxHeaderBytes: 8192\n"));
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "x-big: " + std::string(10000, 'a'),
                       Url(gw.port, "/hello")});
  EXPECT_TRUE(Has(r, "< HTTP/2 431")) << r.out.substr(0, 3000);
  CurlResult small = Curl({"--http2-prior-knowledge", "-H", "x-big: " + std::string(1000, 'a'),
                           Url(gw.port, "/hello")});
  EXPECT_TRUE(Has(small, "< HTTP/2 200")) << small.out.substr(0, 3000);
}

}  // namespace
}  // namespace graymesh::test
