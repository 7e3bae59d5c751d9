#include "tls/server_contexts.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <stdexcept>
#include <string_view>
#include <strings.h>

namespace graymesh::tls {
namespace {

// ALPN: h2 when the client offers it, else http/1.1; a client that offers
// neither gets a no_application_protocol alert (RFC 7301 §3.2). A client
// that sends no ALPN is not asked (HTTP/1.1).
bool Offers(const unsigned char* in, unsigned int inlen, std::string_view proto,
            const unsigned char** out, unsigned char* outlen) {
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == proto) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return true;
    }
    i += 1 + n;
  }
  return false;
}

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  if (Offers(in, inlen, "h2", out, outlen) || Offers(in, inlen, "http/1.1", out, outlen)) {
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// Bumped by RequestReload; each ServerContexts compares it on accept.
std::atomic<uint64_t> reload_generation{0};

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

std::shared_ptr<asio::ssl::context> MakeContext(const config::TlsCert& c) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(raw, c.cert.c_str()) != 1) {
    throw std::runtime_error("tls: certificate " + c.cert + ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(raw, c.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("tls: key " + c.key + ": " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    throw std::runtime_error("tls: key " + c.key + " does not match " + c.cert);
  }
  SSL_CTX_set_alpn_select_cb(raw, &SelectAlpn, nullptr);
  return ctx;
}

}  // namespace

ServerContexts::ServerContexts(const config::Tls& cfg) : cfg_(cfg) { Load(); }

void ServerContexts::RequestReload() { reload_generation.fetch_add(1, std::memory_order_relaxed); }

void ServerContexts::Load() {
  const std::time_t mtime = NewestMtime();
  const uint64_t generation = reload_generation.load(std::memory_order_relaxed);
  std::vector<Entry> fresh;
  for (const config::TlsCert& c : cfg_.certs) fresh.push_back({c.server_name, MakeContext(c)});
  // SNI: the default context's callback may move the handshake to another.
  SSL_CTX_set_tlsext_servername_callback(fresh[0].ctx->native_handle(), &OnServerName);
  entries_ = std::move(fresh);
  SSL_CTX_set_tlsext_servername_arg(entries_[0].ctx->native_handle(), this);
  loaded_mtime_ = mtime;
  loaded_generation_ = generation;
}

std::time_t ServerContexts::NewestMtime() const {
  std::time_t newest = 0;
  for (const config::TlsCert& c : cfg_.certs) {
    for (const std::string* f : {&c.cert, &c.key}) {
      struct stat st {};
      if (::stat(f->c_str(), &st) == 0 && st.st_mtime > newest) newest = st.st_mtime;
    }
  }
  return newest;
}

int ServerContexts::OnServerName(SSL* ssl, int* alert, void* arg) {
  auto* self = static_cast<ServerContexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  for (size_t i = 1; i < self->entries_.size(); ++i) {
    if (strcasecmp(self->entries_[i].server_name.c_str(), name) == 0) {
      SSL_set_SSL_CTX(ssl, self->entries_[i].ctx->native_handle());
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

asio::ssl::context& ServerContexts::Current(int64_t now_ms) {
  const bool asked = reload_generation.load(std::memory_order_relaxed) != loaded_generation_;
  bool changed = false;
  if (!asked && now_ms - checked_ms_ >= 1000) {
    checked_ms_ = now_ms;
    changed = NewestMtime() != loaded_mtime_;
  }
  if (asked || changed) {
    try {
      Load();
      spdlog::info("tls: certificates reloaded ({})", asked ? "SIGHUP" : "files changed");
    } catch (const std::exception& e) {
      // Say it once, until the files change again or the next SIGHUP.
      loaded_mtime_ = NewestMtime();
      loaded_generation_ = reload_generation.load(std::memory_order_relaxed);
      spdlog::error("{}: keeping the certificates loaded before", e.what());
    }
  }
  return *entries_[0].ctx;
}

ServerContexts& ServerContexts::ForListener(const std::string& listener, const config::Tls& cfg) {
  thread_local std::map<std::string, std::unique_ptr<ServerContexts>> by_listener;
  auto& slot = by_listener[listener];
  if (slot == nullptr || !(slot->cfg_ == cfg)) slot = std::make_unique<ServerContexts>(cfg);
  return *slot;
}

}  // namespace graymesh::tls
