// The TLS handshake of a new upstream connection (services with `tls:`),
// shared by HTTP/1.1 clients' attempts (Session) and HTTP/2 clients' ones
// (h2::Http1Upstream).
//
// Thread/lifetime: on the worker thread that owns `conn` and `ep`; both and
// `tls` (held by the pinned snapshot) outlive the returned awaitable.
#pragma once

#include <asio/awaitable.hpp>
#include <string>

#include "proxy/upstream.h"
#include "proxy/upstream_conn.h"
#include "tls/client_context.h"

namespace graymesh::proxy {

// Wraps `conn`'s connected socket in TLS and handshakes, verifying the
// service's settings and resuming the endpoint's last session when it has
// one. "" on success, else why it failed ("tls: certificate verify failed
// (...)"). The caller's connect timeout bounds it (closing the socket ends it).
asio::awaitable<std::string> StartUpstreamTls(UpstreamConn& conn, const tls::ClientContext& tls,
                                              EndpointState& ep);

}  // namespace graymesh::proxy
