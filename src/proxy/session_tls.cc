// The TLS end of a Session's client connection (gateway listeners with tls:).
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

}  // namespace graymesh::proxy
