// HTTP/1.1 over TLS at a real gateway: curl --http1.1 over https (ALPN
// http/1.1, or no ALPN at all) is served by the HTTP/1.1 proxy, with sample
// apps as upstreams.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "h2/h2_peers.h"
#include "h2/tls_fixture.h"
#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class TlsHttp1 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestTempDir() + "/tls1-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    MakeCert(dir_, "default", "default.test");
    MakeCert(dir_, "b", "b.test");
  }
  // Routes every request to `app`, whose endpoints are `endpoints` (YAML list items).
  TlsGatewayProc Start(const std::string& endpoints, const std::string& extra = "") {
    return StartTlsGateway(dir_, "routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                                 "  - name: app\n    endpoints:\n" + endpoints + extra);
  }
  static std::string At(uint16_t port, const std::string& labels = "") {
    return "      - address: 127.0.0.1:" + std::to_string(port) + "\n" +
           (labels.empty() ? "" : "        labels: " + labels + "\n");
  }
  std::string dir_;
};

TEST_F(TlsHttp1, GetOverTlsWithAlpnHttp11) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port));
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "ALPN: server accepted http/1.1")) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
  EXPECT_TRUE(Has(r, "\"service\":\"app\"")) << r.out;
  EXPECT_TRUE(Has(r, "\"version\":\"HTTP/1.1\"")) << r.out;
}

// A client that sends no ALPN extension at all is an HTTP/1.1 client.
TEST_F(TlsHttp1, ClientWithoutAlpnIsServedHttp11) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port));
  CurlResult r = Curl({"--http1.1", "--no-alpn", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
  EXPECT_TRUE(Has(r, "\"service\":\"app\"")) << r.out;
}

// A body bigger than one TLS record and one read: streamed upstream whole.
TEST_F(TlsHttp1, PostWithABodyReachesTheUpstreamWhole) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port));
  const std::string body_file = dir_ + "/body.bin";
  {
    std::ofstream out(body_file, std::ios::binary);
    for (int i = 0; i < 300000; ++i) out.put(char('a' + i % 26));
  }
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       "--data-binary", "@" + body_file, HttpsUrl("a.test", g.port, "/upload")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
  EXPECT_TRUE(Has(r, "\"bodyBytes\":300000")) << r.out;
}

TEST_F(TlsHttp1, ChunkedResponseArrivesWhole) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port));
  const std::string out_file = dir_ + "/chunked.out";
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port), "-o", out_file,
                       HttpsUrl("a.test", g.port, "/chunked?n=200000")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< transfer-encoding: chunked") || Has(r, "< Transfer-Encoding: chunked"))
      << r.out;
  EXPECT_EQ(std::filesystem::file_size(out_file), 200000u) << r.out;
}

// Two requests on one TLS connection: the second reuses it.
TEST_F(TlsHttp1, KeepAliveReusesTheTlsConnection) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port));
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/echo"), HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Count(r.out, "< HTTP/1.1 200"), 2u) << r.out;
  EXPECT_TRUE(Has(r, "Re-using existing connection")) << r.out;
  EXPECT_EQ(Count(r.out, "SSL connection using"), 1u) << r.out;  // one handshake
}

TEST_F(TlsHttp1, LaneByHeaderOverTls) {
  SampleApp base = SampleApp::Start("app", "");
  SampleApp gray = SampleApp::Start("app", "gray");
  TlsGatewayProc g = Start(At(base.port) + At(gray.port, "{ lane: gray }"),
                           "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n"
                           "      match:\n        - headers: { x-env: gray }\n");
  CurlResult dyed = Curl({"--http1.1", "-k", "-H", "x-env: gray", "--resolve",
                          Resolve("a.test", g.port), HttpsUrl("a.test", g.port, "/")});
  EXPECT_TRUE(Has(dyed, "< HTTP/1.1 200")) << dyed.out;
  EXPECT_TRUE(Has(dyed, "\"lane\":\"gray\"")) << dyed.out;
  CurlResult plain = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                           HttpsUrl("a.test", g.port, "/")});
  EXPECT_TRUE(Has(plain, "< HTTP/1.1 200")) << plain.out;
  EXPECT_TRUE(Has(plain, "\"lane\":\"\"")) << plain.out;
}

// A client that connects and stalls in the handshake (here: half a TLS
// record header) holds nothing past timeouts.headerRead.
TEST_F(TlsHttp1, ClientStallingInTheHandshakeIsDroppedAfterTheTimeout) {
  SampleApp app = SampleApp::Start("app");
  TlsGatewayProc g = Start(At(app.port), "timeouts: { headerRead: 500ms }\n");
  TestConnection c(g.port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(std::string("\x16\x03\x01", 3)));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.IsClosedByPeer(300ms));  // not before the timeout
  EXPECT_TRUE(c.IsClosedByPeer(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  // The gateway still serves others.
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_TRUE(Has(r, "< HTTP/1.1 200")) << r.out;
}

}  // namespace
}  // namespace graymesh::test
