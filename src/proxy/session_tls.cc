// The TLS ends of a Session: its client connection (gateway listeners with
// tls:) and its upstream connections (services with tls:).
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

// How long a closing connection waits for the client's close_notify: most
// clients close at once, and none is owed more.
constexpr config::Millis kCloseNotifyWait{1000};

}  // namespace

asio::awaitable<void> Session::CloseTls() {
  // A close-delimited response body ends with close_notify; without it a
  // TLS client cannot tell the end from a cut (RFC 8446 §6.1).
  SetDeadline(Timeout::kStream, std::min(kCloseNotifyWait, worker_.config().timeouts.idle));
  co_await client_.tls()->async_shutdown(asio::experimental::as_tuple(asio::use_awaitable));
  ClearDeadline();
}

asio::awaitable<std::string> Session::StartUpstreamTls(UpstreamConn& conn,
                                                       const tls::ClientContext& tls,
                                                       EndpointState& ep) {
  net::ClientStream& up = conn.stream;
  const std::string& host = ep.info->host;
  auto stream = std::make_unique<net::TlsStream>(std::move(up.lowest_layer()), tls.context());
  if (!tls::PrepareClient(stream->native_handle(), tls, host)) {
    co_return "tls: cannot set the server name \"" + (tls.sni().empty() ? host : tls.sni()) +
        "\"";
  }
  if (ep.tls_session == nullptr) ep.tls_session = std::make_shared<tls::SessionSlot>();
  conn.tls_session = ep.tls_session;
  tls::UseSessionSlot(stream->native_handle(), conn.tls_session.get());
  up = net::ClientStream(std::move(stream));
  auto [ec] = co_await up.tls()->async_handshake(asio::ssl::stream_base::client,
                                                 asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) co_return tls::HandshakeFailure(ec, up.tls()->native_handle());
  // The pool's liveness check reads what the TLS layer holds without waiting.
  asio::error_code ignored;
  up.lowest_layer().non_blocking(true, ignored);
  co_return "";
}

}  // namespace graymesh::proxy
