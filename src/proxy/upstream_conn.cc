#include "proxy/upstream_conn.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <asio/buffer.hpp>

namespace graymesh::proxy {
namespace {

// What a TLS connection holds unread: records in OpenSSL's buffers or bytes
// the socket already gave the TLS engine. True when reading them found
// nothing but TLS housekeeping (session tickets, key updates).
bool TlsQuiet(net::TlsStream& tls, bool socket_readable) {
  SSL* ssl = tls.native_handle();
  if (!socket_readable && SSL_has_pending(ssl) == 0 && BIO_ctrl_pending(SSL_get_rbio(ssl)) == 0) {
    return true;  // nothing there: no syscall
  }
  char byte;
  asio::error_code ec;
  tls.read_some(asio::buffer(&byte, 1), ec);  // the socket is non-blocking
  return ec == asio::error::would_block;
}

}  // namespace

UpstreamConn::~UpstreamConn() {
  // OpenSSL marks the session of an SSL freed without a shutdown as not
  // resumable; the endpoint's SessionSlot holds that same session.
  if (stream.is_tls() && SSL_is_init_finished(stream.tls()->native_handle())) {
    SSL_set_shutdown(stream.tls()->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

bool UpstreamConn::Reusable() {
  if (!stream.lowest_layer().is_open()) return false;
  return !stream.is_tls() || TlsQuiet(*stream.tls(), false);
}

void Watch(const std::shared_ptr<UpstreamConn>& c) {
  if (c->watching) return;
  c->watching = true;
  c->stream.lowest_layer().async_wait(
      asio::socket_base::wait_read, [weak = std::weak_ptr<UpstreamConn>(c)](asio::error_code ec) {
        std::shared_ptr<UpstreamConn> conn = weak.lock();
        if (conn == nullptr) return;  // dropped (and closed) meanwhile
        conn->watching = false;
        // Cancelled (a deadline of the request using it), or readable while in
        // use: that is the response, which the request reads itself.
        if (ec || !conn->idle) return;
        if (conn->stream.is_tls() && TlsQuiet(*conn->stream.tls(), true)) {
          Watch(conn);
          return;
        }
        asio::error_code ignored;
        conn->stream.lowest_layer().close(ignored);  // the pool drops it when it meets it
      });
}

}  // namespace graymesh::proxy
