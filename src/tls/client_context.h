// TLS to upstream endpoints (services[].tls, ServicePolicy spec.tls): the
// client SSL_CTX of a service, and the per-connection setup of the name sent
// (SNI) and verified.
//
// Verification is always on: the peer's chain must lead to a root of `ca`
// (the system store, /etc/ssl/certs, when none is given) and its certificate
// must name the server: `sni` when set, else the endpoint's host when that is
// a name. An endpoint given as an IP with no `sni` sends no SNI and its
// certificate must carry that IP (subjectAltName iPAddress). TLS 1.2 and
// later; ALPN is not sent (HTTP/1.1).
//
// Thread/lifetime: a ClientContext is built when a snapshot is compiled, off
// the request path, and is not changed after; every worker makes its
// connections from it (SSL_new on one SSL_CTX from several threads is safe).
// The snapshot that holds it outlives the connections made from it (a
// request pins its snapshot; pooled connections keep their own reference on
// the SSL_CTX through their SSL).
#pragma once

#include <openssl/ssl.h>

#include <asio/error_code.hpp>
#include <asio/ssl/context.hpp>
#include <string>
#include <string_view>

#include "config/config.h"

namespace graymesh::tls {

class ClientContext {
 public:
  // Throws std::runtime_error naming the CA file and OpenSSL's reason when
  // it cannot be loaded.
  explicit ClientContext(const config::UpstreamTls& cfg);

  asio::ssl::context& context() const { return ctx_; }
  const std::string& sni() const { return sni_; }

 private:
  mutable asio::ssl::context ctx_;  // only SSL_new reads it after construction
  std::string sni_;
};

// Before the handshake of a connection to an endpoint whose configured host
// is `host`: sets the SNI and the name (or IP) the certificate must carry.
// False when OpenSSL refuses (out of memory, a name it cannot take).
bool PrepareClient(SSL* ssl, const ClientContext& ctx, std::string_view host);

// Why a client handshake failed, for the error reply and the log, e.g.
// "tls: certificate verify failed (hostname mismatch)".
std::string HandshakeFailure(const asio::error_code& ec, SSL* ssl);

}  // namespace graymesh::tls
