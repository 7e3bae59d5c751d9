// HTTP/1.1 clients of HTTP/2 (h2c-only) upstreams (h2/from_http1.h,
// proxy/session_h2.cc): plain curl and raw sockets through a real gateway
// and sidecar to Node's http2 server (peers/h2_server.js), a service with
// `protocol: http2`.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "h2/h2_peers.h"
#include "h2/tls_fixture.h"
#include "proxy/gateway_fixture.h"
#include "support/http_client.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

TEST(Http1ToHttp2, GatewayGetReachesAnH2cOnlyUpstream) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  CurlResult r = Curl({"--http1.1", Url(gw.port, "/hello")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200 OK")) << r.out;
  EXPECT_TRUE(Has(r, "< x-server: up1")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-authority: 127.0.0.1:")) << r.out;  // Host as :authority
  EXPECT_TRUE(Has(r, "\nup1\n")) << r.out;

  // Keep-alive: two requests on one client connection, both answered.
  TestConnection c(gw.port);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nhost: a\r\n\r\n"));
    Response resp = c.ReadResponse();
    EXPECT_EQ(resp.status, 200) << resp.error;
    EXPECT_EQ(resp.body, "up1\n");
    EXPECT_FALSE(resp.closed_after);
  }
}

// 4 MiB each way, content-length and chunked: many stream windows, so it
// only arrives whole if the proxy acknowledges what it passes on. The
// upstream's trailers come through as chunked trailers.
TEST(Http1ToHttp2, LargeBodiesStreamBothWaysAndTrailersPass) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  const std::string body_file = WriteTempFile("body.bin", std::string(4 << 20, 'b'));
  CurlResult r = Curl({"--http1.1", "--data-binary", "@" + body_file, "-o", "/dev/null", "-w",
                       "size=%{size_download}\n", Url(gw.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "size=4194304")) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "< transfer-encoding: chunked")) << r.out.substr(0, 4000);
  CurlResult chunked = Curl({"--http1.1", "-H", "transfer-encoding: chunked", "--data-binary",
                             "@" + body_file, "-o", "/dev/null", "-w", "size=%{size_download}\n",
                             Url(gw.port, "/echo")});
  EXPECT_EQ(chunked.exit_code, 0) << chunked.out.substr(0, 4000);
  EXPECT_TRUE(Has(chunked, "size=4194304")) << chunked.out.substr(0, 4000);

  // The trailers, as the raw bytes show them: after the last chunk.
  TestConnection c(gw.port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello"));
  const std::string raw = RecvUntil(c.fd(), "x-trailer: done\r\n\r\n", 5s);
  EXPECT_NE(raw.find("transfer-encoding: chunked\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\n5\r\nhello\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\n0\r\nx-body-bytes: 5\r\nx-trailer: done\r\n\r\n"),
            std::string::npos) << raw;
  EXPECT_EQ(raw.find("connection: close"), std::string::npos) << raw;  // kept alive
}

// A sidecar's outbound side: the app's lane header is believed and picks
// the lane's instance; the caller is named.
TEST(Http1ToHttp2, SidecarOutboundKeepsTheLane) {
  NodeH2Server base = NodeH2Server::Start("base");
  NodeH2Server gray = NodeH2Server::Start("gray");
  NodeH2Server self = NodeH2Server::Start("self");
  Sidecar sc = Sidecar::Start(
      "order", self.port,
      "services:\n  - name: app\n    protocol: http2\n    endpoints:\n"
      "      - address: 127.0.0.1:" + std::to_string(base.port) + "\n"
      "      - address: 127.0.0.1:" + std::to_string(gray.port) + "\n"
      "        labels: { lane: gray }\n");
  CurlResult r = Curl({"--http1.1", "-H", "x-graymesh-lane: gray", Url(sc.outbound, "/"), "-H",
                       "host: app"});
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
  EXPECT_TRUE(Has(r, "< x-server: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-lane: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-source: order")) << r.out;

  CurlResult plain = Curl({"--http1.1", Url(sc.outbound, "/"), "-H", "host: app"});
  EXPECT_TRUE(Has(plain, "< x-server: base")) << plain.out;
}

// RST_STREAM before any response byte: an idempotent request is tried again
// (upstream.retries); a POST, which the upstream may have acted on, is a 502
// that names the HTTP/2 error.
TEST(Http1ToHttp2, ResetBeforeTheResponseIsRetriedWhenSafeElse502) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  CurlResult get = Curl({"--http1.1", Url(gw.port, "/reset-once?key=get")});
  EXPECT_TRUE(Has(get, "< HTTP/1.1 200")) << get.out;
  EXPECT_GE(gw.Metric("upstream_rq_retry"), 1u);

  CurlResult post = Curl({"--http1.1", "-d", "x=1", Url(gw.port, "/reset-once?key=post")});
  EXPECT_TRUE(Has(post, "< HTTP/1.1 502")) << post.out;
  EXPECT_TRUE(Has(post, "reset the stream (HTTP/2 error")) << post.out;

  CurlResult always = Curl({"--http1.1", Url(gw.port, "/reset-early")});
  EXPECT_TRUE(Has(always, "< HTTP/1.1 502")) << always.out;
}

// No head within timeouts.response: 504, and the upstream stream is reset
// rather than left to answer nobody.
TEST(Http1ToHttp2, NoHeadWithinTheResponseTimeoutIs504) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port, "timeouts:\n  response: 300ms\n"));
  CurlResult r = Curl({"--http1.1", Url(gw.port, "/slow?ms=3000")});
  EXPECT_TRUE(Has(r, "< HTTP/1.1 504")) << r.out;
  EXPECT_TRUE(Has(r, "response timeout")) << r.out;
  EXPECT_GE(gw.Metric("upstream_rq_timeout"), 1u);
}

// A reset mid-response: the head is out, so the client sees the chunked body
// end without its last chunk (curl: transfer closed), not a complete answer.
TEST(Http1ToHttp2, ResetMidResponseCutsTheResponseShort) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  CurlResult r = Curl({"--http1.1", Url(gw.port, "/reset")});
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
  EXPECT_NE(r.exit_code, 0) << r.out;
}

// Every tenth request is /goaway, whose response closes the upstream
// session (GOAWAY): streams sent on it after that are refused and must be
// sent again on a new connection. 200 requests, 10 at a time: every one is
// answered.
TEST(Http1ToHttp2, UpstreamGoawayUnderLoadLosesNothing) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  std::vector<std::string> args = {"--http1.1", "--parallel", "--parallel-max", "10",
                                   "-w", "code=%{http_code}\n"};
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    args.push_back(Url(gw.port, i % 10 == 0 ? "/goaway" : "/slow?ms=20"));
    args.push_back("-o");
    args.push_back("/dev/null");
  }
  CurlResult r = Curl(args);
  EXPECT_EQ(CountOf(r.out, "code=200"), size_t(kRequests)) << r.out.substr(r.out.size() > 6000 ? r.out.size() - 6000 : 0);
  EXPECT_GT(gw.Metric("upstream_cx_total"), 1u);  // the GOAWAYs closed connections
}

// The client leaving mid-body: the upstream stream is reset (CANCEL, 8),
// not left open waiting for the rest.
TEST(Http1ToHttp2, ClientLeavingMidBodyResetsTheUpstreamStream) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  {
    TestConnection c(gw.port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.Send("POST /hold HTTP/1.1\r\nhost: a\r\ncontent-length: 1000000\r\n\r\n" +
                       std::string(100000, 'x')));
    std::this_thread::sleep_for(300ms);  // the stream is open upstream
    c.Close();
  }
  std::string last;
  for (int i = 0; i < 50; ++i) {
    CurlResult r = Curl({"--http1.1", Url(gw.port, "/last-close")});
    last = r.out;
    if (Has(r, "\n8\n")) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(last.find("\n8\n"), std::string::npos) << last;
}

// Over TLS (ALPN http/1.1): the body is read through the TLS layer, the
// stream says :scheme https.
TEST(Http1ToHttp2, TlsClientBodiesStreamBothWays) {
  const std::string dir = TestTempDir() + "/tls-h1h2-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  MakeCert(dir, "default", "default.test");
  MakeCert(dir, "b", "b.test");
  NodeH2Server up = NodeH2Server::Start("up1");
  TlsGatewayProc g = StartTlsGateway(dir, up.port);
  const std::string body_file = WriteTempFile("tls-body.bin", std::string(2 << 20, 't'));
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       "--data-binary", "@" + body_file, "-o", "/dev/null", "-w",
                       "size=%{size_download}\n", HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out.substr(0, 4000);
  EXPECT_TRUE(Has(r, "size=2097152")) << r.out.substr(0, 4000);
}

}  // namespace
}  // namespace graymesh::test
