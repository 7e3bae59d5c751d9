// A keep-alive HTTP/1.1 connection to an upstream endpoint, plain or TLS
// (net::ClientStream: a plain one is a socket held inline, no extra
// allocation or virtual call per read or write).
//
// Liveness while pooled: instead of probing the socket each time a request
// takes a connection (a recv(MSG_PEEK) that fails with EAGAIN on nearly every
// request), a pooled connection keeps one async wait for readability pending
// (Watch). An idle HTTP/1.1 connection has nothing to say: when the wait
// completes while the connection sits in the pool, the upstream closed it (or
// broke framing), and it is closed at once, freeing its descriptor; a TLS
// connection first lets the TLS layer read what came (a session ticket is
// fine, a close_notify or data is not). Taking a connection does not cancel
// the wait: the request's own reads queue behind it, so neither taking a
// connection nor starting to read its response costs a syscall; the wait is
// armed again (one epoll_ctl) when a connection goes back to the pool after
// it completed.
//
// Thread/lifetime: owned by one worker and used on its thread only. Held by
// shared_ptr (one allocation per connection, none per request) so the pending
// wait can hold a weak_ptr: a connection dropped from the pool is destroyed at
// once, which closes it and turns its wait into a no-op.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <memory>

#include "net/client_stream.h"
#include "tls/client_context.h"

namespace graymesh::proxy {

struct UpstreamConn {
  explicit UpstreamConn(asio::io_context& io) : stream(asio::ip::tcp::socket(io)) {}
  // Closes it. A TLS connection is closed without sending close_notify, but
  // counted as shut down so that OpenSSL keeps its session resumable.
  ~UpstreamConn();
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;

  // Whether it may carry another request: open, and (TLS) nothing left
  // unread in the TLS layer. Reads what the TLS layer holds, without waiting.
  bool Reusable();

  net::ClientStream stream;
  int64_t since_ms = 0;   // pooled since (worker clock)
  bool idle = false;      // in a pool, no request on it
  bool watching = false;  // the readability wait is pending
  std::shared_ptr<tls::SessionSlot> tls_session;  // TLS: where its tickets go
};

// Arms the readability wait unless it is pending already. REQUIRES: `c` is
// open and about to go idle.
void Watch(const std::shared_ptr<UpstreamConn>& c);

}  // namespace graymesh::proxy
