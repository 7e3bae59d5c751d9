#include "h2/tls_fixture.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "proxy/gateway_fixture.h"
#include "support/ports.h"

namespace graymesh::test {

using namespace std::chrono_literals;

void MakeCert(const std::string& dir, const std::string& name, const std::string& cn) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + cn +
                          " -addext subjectAltName=DNS:" + cn + ",IP:127.0.0.1 -keyout " + dir +
                          "/" + name + ".key -out " + dir + "/" + name + ".crt >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TlsGatewayProc StartTlsGateway(const std::string& dir, const std::string& rest) {
  TlsGatewayProc g;
  g.port = FreePort();
  g.admin = FreePort();
  g.config_path = WriteTempFile(
      "tls-gateway.yaml",
      "workers: 1\nlisteners:\n  - name: ingress\n    kind: gateway\n    address: 127.0.0.1:" +
          std::to_string(g.port) + "\n    tls:\n      cert: " + dir + "/default.crt\n      key: " +
          dir + "/default.key\n      sni:\n        - { serverName: b.test, cert: " + dir +
          "/b.crt, key: " + dir + "/b.key }\n" + rest);
  g.proc = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"gateway", "--config", g.config_path, "--admin",
                                              "127.0.0.1:" + std::to_string(g.admin)});
  EXPECT_TRUE(WaitForPort(g.port, 5s)) << g.proc->Log();
  EXPECT_TRUE(WaitForPort(g.admin, 5s)) << g.proc->Log();
  return g;
}

TlsGatewayProc StartTlsGateway(const std::string& dir, uint16_t upstream) {
  return StartTlsGateway(dir, "routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                              "  - name: app\n    protocol: http2\n    endpoints:\n"
                              "      - address: 127.0.0.1:" + std::to_string(upstream) + "\n");
}

std::string HttpsUrl(const std::string& host, uint16_t port, const std::string& path) {
  return "https://" + host + ":" + std::to_string(port) + path;
}

std::string Resolve(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port) + ":127.0.0.1";
}

}  // namespace graymesh::test

namespace graymesh::test {

TlsTestClient::TlsTestClient(uint16_t port, const std::string& sni, const std::string& alpn) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ctx_ = ctx;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd_);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  std::string wire(1, char(alpn.size()));
  wire += alpn;
  SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                      unsigned(wire.size()));
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    return;
  }
  ssl_ = ssl;
}

TlsTestClient::~TlsTestClient() {
  if (ssl_ != nullptr) SSL_free(static_cast<SSL*>(ssl_));
  if (ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
  if (fd_ >= 0) ::close(fd_);
}

std::string TlsTestClient::PeerCommonName() const {
  if (ssl_ == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(static_cast<SSL*>(ssl_));
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  return cn;
}

bool TlsTestClient::Send(const std::string& bytes) {
  return ssl_ != nullptr &&
         SSL_write(static_cast<SSL*>(ssl_), bytes.data(), int(bytes.size())) == int(bytes.size());
}

std::string TlsTestClient::ReadUntil(const std::string& marker,
                                     std::chrono::milliseconds timeout) {
  std::string got;
  if (ssl_ == nullptr) return got;
  SSL* ssl = static_cast<SSL*>(ssl_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.find(marker) == std::string::npos) {
    if (SSL_pending(ssl) == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) break;
    }
    char buf[4096];
    const int n = SSL_read(ssl, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  return got;
}

}  // namespace graymesh::test
