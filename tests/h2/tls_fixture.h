// A real gateway whose `ingress` listener terminates TLS, with self-signed
// certificates made by the openssl command line, for the TLS tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "support/process.h"

namespace graymesh::test {

// A self-signed certificate for `cn` at dir/NAME.{crt,key}.
void MakeCert(const std::string& dir, const std::string& name, const std::string& cn);

struct TlsGatewayProc {
  uint16_t port = 0;
  uint16_t admin = 0;
  std::string config_path;
  std::unique_ptr<ChildProcess> proc;
};

// `rest`: the routes/services/lanes/timeouts sections. The listener uses
// dir/default.{crt,key}, and dir/b.{crt,key} for SNI b.test.
TlsGatewayProc StartTlsGateway(const std::string& dir, const std::string& rest);
// One service `app` (HTTP/2) at 127.0.0.1:upstream behind it.
TlsGatewayProc StartTlsGateway(const std::string& dir, uint16_t upstream);

std::string HttpsUrl(const std::string& host, uint16_t port, const std::string& path);
// curl --resolve HOST:PORT:127.0.0.1
std::string Resolve(const std::string& host, uint16_t port);

}  // namespace graymesh::test

namespace graymesh::test {

// A blocking TLS client on 127.0.0.1 (OpenSSL, no verification), for tests
// that keep one connection open across something (a reload).
class TlsTestClient {
 public:
  TlsTestClient(uint16_t port, const std::string& sni, const std::string& alpn = "http/1.1");
  ~TlsTestClient();
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  // The handshake succeeded.
  bool ok() const { return ssl_ != nullptr; }
  // The CN of the certificate the server showed.
  std::string PeerCommonName() const;
  bool Send(const std::string& bytes);
  // Reads until `marker` arrived, the peer closed, or `timeout`.
  std::string ReadUntil(const std::string& marker, std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  void* ctx_ = nullptr;  // SSL_CTX
  void* ssl_ = nullptr;  // SSL
};

}  // namespace graymesh::test
