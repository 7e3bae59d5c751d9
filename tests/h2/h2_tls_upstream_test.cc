// HTTP/2 over TLS to upstreams (ALPN h2): a real nginx serving HTTP/2 over
// TLS and gRPC's own server over TLS (@grpc/grpc-js), with certificates made
// at test time by `openssl req`, reached through a real gateway by HTTP/1.1,
// HTTP/2 and gRPC clients. Also: an HTTP/2 connection that never comes up is
// a connect failure of its endpoint, with the reason in the reply.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "h2/grpc_peers.h"
#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"
#include "proxy/https_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

// One service `s` at 127.0.0.1:port, `tls` as given, `protocol` as given.
std::string TlsService(uint16_t port, const std::string& tls,
                       const std::string& protocol = "http2") {
  return "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    protocol: " +
         protocol + "\n    tls: " + tls + "\n    endpoints:\n      - address: 127.0.0.1:" +
         std::to_string(port) + "\n";
}

// The values of response header `name` in curl -v output, in order.
std::vector<std::string> CurlHeaders(const CurlResult& r, const std::string& name) {
  std::vector<std::string> out;
  const std::string key = "< " + name + ": ";
  for (size_t p = r.out.find(key); p != std::string::npos; p = r.out.find(key, p + 1)) {
    const size_t from = p + key.size();
    out.push_back(r.out.substr(from, r.out.find_first_of("\r\n", from) - from));
  }
  return out;
}

class Http2UpstreamTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindNginx().empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh)";
    server_ = MakeCert("h2up.test", "DNS:h2up.test,IP:127.0.0.1");
    tls_ = "{ ca: " + server_ + ".crt, sni: h2up.test }";
  }
  std::string server_, tls_;
};

// HTTP/1.1 and HTTP/2 clients' requests go as streams on one verified
// HTTP/2-over-TLS connection: nginx says it spoke HTTP/2, saw the SNI, and
// every request came on the same connection (one handshake).
TEST_F(Http2UpstreamTls, ClientsOfBothProtocolsShareOneVerifiedConnection) {
  HttpsUpstream up = HttpsUpstream::Start(server_, "60s", /*http2=*/true);
  Gateway gw = Gateway::Start(TlsService(up.port, tls_));
  std::set<std::string> conns;
  for (int i = 0; i < 10; ++i) {
    Response r = HttpGet(gw.port, "/x");
    ASSERT_EQ(r.status, 200) << r.Header("x-graymesh-reason") << gw.proc->Log();
    EXPECT_EQ(r.body, "ok\n");
    EXPECT_EQ(r.Header("x-proto"), "HTTP/2.0");
    EXPECT_EQ(r.Header("x-sni"), "h2up.test");
    conns.insert(r.Header("x-conn"));
  }
  Response post = HttpPost(gw.port, "/x", std::string(200'000, 'p'));
  EXPECT_EQ(post.status, 200) << post.Header("x-graymesh-reason");
  conns.insert(post.Header("x-conn"));

  // One curl per URL: curl 7.88 sends nothing for a second prior-knowledge
  // URL on the same connection (as against nginx directly).
  for (const std::string path : {"/a", "/b"}) {
    CurlResult c = Curl({"--http2-prior-knowledge", Url(gw.port, path)});
    ASSERT_EQ(c.exit_code, 0) << c.out;
    EXPECT_EQ(CurlHeaders(c, "x-proto"), std::vector<std::string>{"HTTP/2.0"}) << c.out;
    for (const std::string& conn : CurlHeaders(c, "x-conn")) conns.insert(conn);
  }
  EXPECT_EQ(conns.size(), 1u) << "one upstream connection, one handshake";
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 1u);
}

// A connection closed by the upstream (nginx's idle timeout: GOAWAY) is
// replaced by one that resumes its TLS session instead of a full handshake.
TEST_F(Http2UpstreamTls, ANewConnectionResumesTheLastSession) {
  HttpsUpstream up = HttpsUpstream::Start(server_, "1s", /*http2=*/true);
  Gateway gw = Gateway::Start(TlsService(up.port, tls_));
  Response first = HttpGet(gw.port, "/x");
  ASSERT_EQ(first.status, 200) << first.Header("x-graymesh-reason") << gw.proc->Log();
  std::this_thread::sleep_for(2s);  // nginx closes the idle connection
  Response second = HttpGet(gw.port, "/x");
  ASSERT_EQ(second.status, 200) << second.Header("x-graymesh-reason");
  EXPECT_NE(first.Header("x-conn"), second.Header("x-conn"));
  EXPECT_EQ(first.Header("x-resumed"), ".");
  EXPECT_EQ(second.Header("x-resumed"), "r");
}

// A certificate from another root fails the connection: 502 with the
// reason, counted as a connect failure of the endpoint; HTTP/2 clients and
// HTTP/1.1 clients get the same answer.
TEST_F(Http2UpstreamTls, ACertificateFromAnotherRootIs502WithTheReason) {
  HttpsUpstream up = HttpsUpstream::Start(server_, "60s", /*http2=*/true);
  const std::string other = MakeCert("other-h2.test", "DNS:other-h2.test");
  Gateway gw = Gateway::Start(TlsService(up.port, "{ ca: " + other + ".crt, sni: h2up.test }"));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 502);
  const std::string expected = "upstream 127.0.0.1:" + std::to_string(up.port) +
                               " tls: certificate verify failed";
  EXPECT_EQ(r.Header("x-graymesh-reason").rfind(expected, 0), 0u) << r.Header("x-graymesh-reason");
  CurlResult c = Curl({"--http2-prior-knowledge", Url(gw.port, "/y")});
  EXPECT_TRUE(Has(c, "< HTTP/2 502")) << c.out;
  EXPECT_TRUE(Has(c, "< x-graymesh-reason: " + expected)) << c.out;
  EXPECT_GE(gw.Metric("upstream_cx_connect_fail"), 2u);
}

// A TLS server that does not speak HTTP/2 (nginx without `http2`) fails
// the connection instead of being sent a preface it cannot read.
TEST_F(Http2UpstreamTls, AServerWithoutHttp2IsA502SayingSo) {
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(TlsService(up.port, tls_));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 502);
  const std::string reason = r.Header("x-graymesh-reason");
  EXPECT_EQ(reason.rfind("upstream 127.0.0.1:" + std::to_string(up.port) + " tls: ", 0), 0u)
      << reason;
  EXPECT_TRUE(reason.find("HTTP/2") != std::string::npos ||
              reason.find("application protocol") != std::string::npos)
      << reason;
  // The same server is fine for protocol http1.
  Gateway h1 = Gateway::Start(TlsService(up.port, tls_, "http1"));
  EXPECT_EQ(HttpGet(h1.port, "/x").status, 200);
}

// A connection many requests wait on that never comes up (a listener that
// never accepts: TCP connects, the TLS handshake gets no answer until
// timeouts.connect) is one failure of the endpoint, not one per request:
// every connection made is reported exactly once, and every request is
// answered with the reason.
TEST_F(Http2UpstreamTls, AConnectionManyWaitedOnIsOneFailureOfItsEndpoint) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 64), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t silent = ntohs(addr.sin_port);
  Gateway gw = Gateway::Start(TlsService(silent, tls_) +
                              "timeouts: { connect: 300ms }\nupstream: { retries: 0 }\n");
  std::vector<Response> answers(8);
  std::vector<std::thread> clients;
  for (Response& r : answers) clients.emplace_back([&gw, &r] { r = HttpGet(gw.port, "/x"); });
  for (std::thread& t : clients) t.join();
  for (const Response& r : answers) {
    EXPECT_TRUE(r.status == 504 || r.status == 503) << r.status << " " << r.error;
    if (r.status == 504) {
      EXPECT_NE(r.Header("x-graymesh-reason").find("tls: handshake timeout"), std::string::npos)
          << r.Header("x-graymesh-reason");
    }
  }
  const uint64_t connections = gw.Metric("upstream_cx_total");
  EXPECT_GE(connections, 1u);
  EXPECT_LT(connections, 8u) << "the requests shared connections";
  EXPECT_EQ(gw.Metric("upstream_rq_timeout"), connections)
      << "one report per failed connection, not per request waiting on it";
  ::close(fd);
}

// gRPC clients (cleartext to the gateway) reach a gRPC server that speaks
// only TLS: unary and bidirectional calls go through, on one connection.
TEST_F(Http2UpstreamTls, GrpcReachesATlsOnlyServer) {
  ASSERT_TRUE(GrpcPeersInstalled()) << "run scripts/setup.sh";
  const uint16_t port = FreePort();
  ChildProcess server("/usr/bin/node",
                      {"--no-warnings", GrpcDir() + "/server.js", std::to_string(port), "secure"},
                      {GrpcNodePath(), "TLS_CERT=" + server_});
  ASSERT_TRUE(WaitForPort(port, 10s)) << server.Log();
  Gateway gw = Gateway::Start(TlsService(port, tls_, "auto"));
  EXPECT_EQ(GrpcClient(gw.port, "unary"), "{\"ok\":[\"secure:\"]}\n") << gw.proc->Log();
  EXPECT_EQ(GrpcClient(gw.port, "bidi"),
            "{\"ok\":[\"secure::m0\",\"secure::m1\",\"secure::m2\"]}\n");
  // Without TLS the same server cannot be reached.
  Gateway clear = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    endpoints:\n"
      "      - address: 127.0.0.1:" + std::to_string(port) + "\nupstream: { retries: 0 }\n");
  EXPECT_NE(GrpcClient(clear.port, "unary").find("\"code\":14"), std::string::npos);
}

// A dead endpoint of an HTTP/2 service (nothing listens) is a connect
// failure: the request goes to the live endpoint, the failure counts
// against the dead one, and with no live endpoint left the reply is 502
// with the reason (before, 503 with nothing counted).
TEST(Http2UpstreamConnect, ADeadEndpointIsAConnectFailureOfIt) {
  NodeH2Server live = NodeH2Server::Start("live");
  const uint16_t dead = FreePort();
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    protocol: http2\n    endpoints:\n      - address: 127.0.0.1:" + std::to_string(dead) +
      "\n      - address: 127.0.0.1:" + std::to_string(live.port) + "\n");
  for (int i = 0; i < 6; ++i) {
    Response r = HttpGet(gw.port, "/x");
    ASSERT_EQ(r.status, 200) << r.Header("x-graymesh-reason");
    EXPECT_EQ(r.body, "live\n");
  }
  EXPECT_GE(gw.Metric("upstream_cx_connect_fail"), 1u);

  Gateway only_dead = Gateway::Start(Http2ServiceAt(dead));
  Response r = HttpGet(only_dead.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.Header("x-graymesh-reason").rfind(
                "upstream 127.0.0.1:" + std::to_string(dead) + " connect failed: ", 0),
            0u)
      << r.Header("x-graymesh-reason");
  CurlResult c = Curl({"--http2-prior-knowledge", Url(only_dead.port, "/y")});
  EXPECT_TRUE(Has(c, "< HTTP/2 502")) << c.out;
}

}  // namespace
}  // namespace graymesh::test
