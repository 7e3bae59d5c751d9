// TLS to upstream endpoints (services[].tls, ServicePolicy spec.tls): the
// client SSL_CTX of a service, and the per-connection setup of the name sent
// (SNI) and verified.
//
// Verification is always on: the peer's chain must lead to a root of `ca`
// (the system store, /etc/ssl/certs, when none is given) and its certificate
// must name the server: `sni` when set, else the endpoint's host when that is
// a name. An endpoint given as an IP with no `sni` sends no SNI and its
// certificate must carry that IP (subjectAltName iPAddress). TLS 1.2 and
// later; ALPN is not sent for HTTP/1.1, HTTP/2 connections offer "h2"
// (h2/upstream_connection.h). Sessions are resumed per endpoint
// (SessionSlot).
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

// The TLS session an endpoint last gave this worker, offered on the next
// connection's handshake so it resumes instead of doing a full one. Filled
// from the server's tickets (TLS 1.3 sends them after the handshake) as the
// connection reads them. One per endpoint per worker per snapshot: a new
// snapshot (maybe a new CA or name) starts with none, so a resumed session
// was always verified under the settings in force.
//
// Thread/lifetime: one worker's; every connection using it holds it (the SSL
// points at it), so it outlives them.
class SessionSlot {
 public:
  SessionSlot() = default;
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;
  ~SessionSlot();
  SSL_SESSION* get() const { return session_; }
  void Set(SSL_SESSION* owned);  // takes the reference

 private:
  SSL_SESSION* session_ = nullptr;
};

// Offers `slot`'s session to `ssl` and has the tickets it receives stored
// there. REQUIRES: `slot` outlives `ssl` (the connection holds it).
void UseSessionSlot(SSL* ssl, SessionSlot* slot);

// Before the handshake of a connection to an endpoint whose configured host
// is `host`: sets the SNI and the name (or IP) the certificate must carry.
// False when OpenSSL refuses (out of memory, a name it cannot take).
bool PrepareClient(SSL* ssl, const ClientContext& ctx, std::string_view host);

// Why a client handshake failed, for the error reply and the log, e.g.
// "tls: certificate verify failed (hostname mismatch)".
std::string HandshakeFailure(const asio::error_code& ec, SSL* ssl);

}  // namespace graymesh::tls
