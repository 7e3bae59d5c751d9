#include "tls/client_context.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <asio/ip/address.hpp>
#include <asio/ssl/error.hpp>
#include <stdexcept>

namespace graymesh::tls {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// Where an SSL finds its SessionSlot.
int SlotIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// A ticket arrived: it replaces the endpoint's session. Returning 1 keeps
// the reference OpenSSL hands over.
int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionSlot*>(SSL_get_ex_data(ssl, SlotIndex()));
  if (slot == nullptr) return 0;
  slot->Set(session);
  return 1;
}

}  // namespace

SessionSlot::~SessionSlot() {
  if (session_ != nullptr) SSL_SESSION_free(session_);
}

void SessionSlot::Set(SSL_SESSION* owned) {
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = owned;
}

void UseSessionSlot(SSL* ssl, SessionSlot* slot) {
  SSL_set_ex_data(ssl, SlotIndex(), slot);
  if (slot->get() != nullptr) SSL_set_session(ssl, slot->get());
}

ClientContext::ClientContext(const config::UpstreamTls& cfg)
    : ctx_(asio::ssl::context::tls_client), sni_(cfg.sni) {
  SSL_CTX* raw = ctx_.native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  // Sessions go to the endpoint's SessionSlot, not to a cache in the
  // SSL_CTX that every worker would share (and lock).
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(raw, OnNewSession);
  if (cfg.ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(raw) != 1) {
      throw std::runtime_error("tls: the system CA store: " + OpenSslError());
    }
  } else if (SSL_CTX_load_verify_locations(raw, cfg.ca.c_str(), nullptr) != 1) {
    throw std::runtime_error("tls: CA file " + cfg.ca + ": " + OpenSslError());
  }
}

bool PrepareClient(SSL* ssl, const ClientContext& ctx, std::string_view host) {
  const std::string name(ctx.sni().empty() ? host : std::string_view(ctx.sni()));
  asio::error_code not_ip;
  asio::ip::make_address(name, not_ip);
  if (!not_ip) {
    // RFC 6066 §3: no IP literals in SNI; the certificate must name the IP.
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  }
  return SSL_set_tlsext_host_name(ssl, name.c_str()) == 1 && SSL_set1_host(ssl, name.c_str()) == 1;
}

std::string HandshakeFailure(const asio::error_code& ec, SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("tls: certificate verify failed (") +
           X509_verify_cert_error_string(verify) + ")";
  }
  if (ec == asio::ssl::error::stream_truncated) return "tls: the peer closed during the handshake";
  std::string why = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    // OpenSSL's reason strings; the library part (" (SSL routines)") says nothing.
    if (const size_t p = why.find(" ("); p != std::string::npos) why.erase(p);
  }
  return "tls: handshake failed: " + why;
}

}  // namespace graymesh::tls
