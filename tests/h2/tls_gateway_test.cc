// TLS at a real gateway: self-signed certificates made with openssl in the
// test, curl --http2 over https as the client, a real HTTP/2 upstream.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"
#include "support/ports.h"
#include "support/process.h"
#include <unistd.h>

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// A self-signed certificate for `cn` at dir/NAME.{crt,key}.
void MakeCert(const std::string& dir, const std::string& name, const std::string& cn) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + cn +
                          " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name +
                          ".crt >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

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

// Gateway::Start makes a plain `ingress` listener; these tests need TLS on
// it, so they write the whole configuration.

struct TlsGatewayProc {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;
};

TlsGatewayProc StartTlsGateway(const std::string& dir, uint16_t upstream) {
  TlsGatewayProc g;
  g.port = FreePort();
  const uint16_t admin = FreePort();
  const std::string cfg = WriteTempFile(
      "tls-gateway.yaml",
      "workers: 1\nlisteners:\n  - name: ingress\n    kind: gateway\n    address: 127.0.0.1:" +
          std::to_string(g.port) + "\n    tls:\n      cert: " + dir + "/default.crt\n      key: " +
          dir + "/default.key\n      sni:\n        - { serverName: b.test, cert: " + dir +
          "/b.crt, key: " + dir + "/b.key }\n"
          "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
          "    protocol: http2\n    endpoints:\n      - address: 127.0.0.1:" +
          std::to_string(upstream) + "\n");
  g.proc = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"gateway", "--config", cfg, "--admin",
                                              "127.0.0.1:" + std::to_string(admin)});
  EXPECT_TRUE(WaitForPort(g.port, 5s)) << g.proc->Log();
  return g;
}

std::string HttpsUrl(const std::string& host, uint16_t port, const std::string& path) {
  return "https://" + host + ":" + std::to_string(port) + path;
}

std::string Resolve(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port) + ":127.0.0.1";
}

bool Has(const CurlResult& r, const std::string& text) {
  return r.out.find(text) != std::string::npos;
}

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

// HTTP/1.1 over TLS is not served yet: the handshake fails (ALPN) instead
// of a broken exchange.
TEST_F(TlsGateway, Http1OverTlsIsRefusedAtTheHandshake) {
  TlsGatewayProc g = StartTlsGateway(dir_, up_.port);
  CurlResult r = Curl({"--http1.1", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/hello")});
  EXPECT_NE(r.exit_code, 0) << r.out;
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
