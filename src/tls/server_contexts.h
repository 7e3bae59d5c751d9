// TLS for a gateway listener (OpenSSL through asio::ssl): one SSL_CTX per
// certificate, the default one chosen unless the client's SNI names another,
// TLS 1.2 and later only, OpenSSL's default ciphers, ALPN "h2" or "http/1.1"
// (h2 when the client offers both; no ALPN at all is HTTP/1.1).
//
// Reload: the certificate and key files are re-read after SIGHUP
// (RequestReload) and when their modification time changes (checked at most
// once a second), both on the next accept of each worker. A handshake takes
// the contexts current at its start; connections already up keep theirs, so
// a reload drops none. A reload that fails (a bad or missing file, a key
// that does not match) keeps the contexts loaded before and logs why.
//
// Thread/lifetime: one ServerContexts per listener per worker thread
// (ForListener is thread_local), so nothing here is shared or locked.
#pragma once

#include <asio/ssl/context.hpp>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace graymesh::tls {

class ServerContexts {
 public:
  // Throws std::runtime_error with the file and OpenSSL's reason when a
  // certificate or key cannot be loaded.
  explicit ServerContexts(const config::Tls& cfg);

  // The default context (SNI switches from it during the handshake).
  // Reloads first when a file changed; a failed reload keeps the old ones
  // (and logs why).
  asio::ssl::context& Current(int64_t now_ms);

  // Every listener's contexts are re-read on their next accept. Any thread
  // (the signal handler's); one atomic increment.
  static void RequestReload();

  // This thread's contexts for `listener`, made on first use.
  static ServerContexts& ForListener(const std::string& listener, const config::Tls& cfg);

 private:
  struct Entry {
    std::string server_name;
    std::shared_ptr<asio::ssl::context> ctx;
  };
  void Load();
  std::time_t NewestMtime() const;
  static int OnServerName(SSL* ssl, int* alert, void* arg);

  config::Tls cfg_;
  std::vector<Entry> entries_;  // [0] the default
  std::time_t loaded_mtime_ = 0;
  uint64_t loaded_generation_ = 0;  // of RequestReload
  int64_t checked_ms_ = 0;
};

}  // namespace graymesh::tls
