// TLS at a real gateway: self-signed certificates made with openssl in the
// test, curl --http2 over https as the client, a real HTTP/2 upstream.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "h2/h2_peers.h"
#include "h2/tls_fixture.h"
#include "proxy/gateway_fixture.h"
#include "support/ports.h"
#include "support/process.h"
#include <unistd.h>

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

class TlsGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestTempDir() + "/tls-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    MakeCert(dir_, "default", "default.test");
    MakeCert(dir_, "b", "b.test");
    up_ = NodeH2Server::Start("up1");
  }
  std::string dir_;
  NodeH2Server up_;
};

TEST_F(TlsGateway, Http2OverTlsWithAlpn) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  CurlResult r = Curl({"--http2", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/hello")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "ALPN: server accepted h2")) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "CN=default.test")) << r.out;  // no SNI entry for a.test
  EXPECT_TRUE(Has(r, "\nup1\n")) << r.out;
}

TEST_F(TlsGateway, SniSelectsTheCertificate) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  CurlResult r = Curl({"--http2", "-k", "--resolve", Resolve("b.test", g.port),
                       HttpsUrl("b.test", g.port, "/hello")});
  EXPECT_TRUE(Has(r, "CN=b.test")) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
}

TEST_F(TlsGateway, TlsBelow12IsRefused) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  CurlResult r = Curl({"--http2", "-k", "--tlsv1.0", "--tls-max", "1.1", "--resolve",
                       Resolve("a.test", g.port), HttpsUrl("a.test", g.port, "/hello")});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_FALSE(Has(r, "< HTTP/2 200")) << r.out;
}

// A client that offers only protocols the gateway does not speak is refused
// at the handshake (no_application_protocol), not met with a broken exchange.
TEST_F(TlsGateway, UnknownAlpnIsRefusedAtTheHandshake) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  const std::string cmd = "openssl s_client -connect 127.0.0.1:" + std::to_string(g.port) +
                          " -alpn spdy/3 </dev/null 2>&1";
  CurlResult r;
  r.out = CommandOutput(cmd, &r.exit_code);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "no application protocol")) << r.out;
}

// New certificate files are taken for new connections; the gateway keeps
// running and serving.
TEST_F(TlsGateway, ChangedCertificateFilesAreReloaded) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  CurlResult before = Curl({"--http2", "-k", "--resolve", Resolve("a.test", g.port),
                            HttpsUrl("a.test", g.port, "/hello")});
  EXPECT_TRUE(Has(before, "CN=default.test")) << before.out;
  std::this_thread::sleep_for(1100ms);  // a newer mtime (seconds)
  MakeCert(dir_, "default", "renewed.test");
  std::this_thread::sleep_for(1100ms);  // past the once-a-second check
  CurlResult after = Curl({"--http2", "-k", "--resolve", Resolve("a.test", g.port),
                           HttpsUrl("a.test", g.port, "/hello")});
  EXPECT_TRUE(Has(after, "CN=renewed.test")) << after.out;
  EXPECT_TRUE(Has(after, "< HTTP/2 200")) << after.out;
}

}  // namespace
}  // namespace graymesh::test
