#include "proxy/upstream_tls.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>

namespace graymesh::proxy {

asio::awaitable<std::string> StartUpstreamTls(UpstreamConn& conn, const tls::ClientContext& tls,
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
