// An HTTP/1.1 client's request forwarded as one stream on the worker's
// pooled HTTP/2 upstream connections (h2/upstream_connection.h), for
// services with `protocol: http2` (docs/http.md, "Upstreams").
//
// The session (proxy/session_h2.cc) drives the exchange from its own
// coroutine; this side is what the upstream connection calls back into.
// Each callback only records what happened and wakes the session, which
// acts on it between its awaits, so nothing runs inside nghttp2's callbacks
// but bookkeeping.
//
// Thread/lifetime: one worker thread. Lives on the session's coroutine
// frame for one request; the ProxyStream points at it (`down`) until the
// session clears that pointer, which it does on every way out.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "h2/stream.h"

namespace graymesh::h2 {

// Whether an HTTP/1.1 client's request to a service of `protocol` goes
// upstream over HTTP/2: only when the service says `http2` (`auto` means
// HTTP/1.1 for HTTP/1.1 clients).
bool Http1ClientUsesHttp2(config::UpstreamProtocol protocol);

// The HTTP/2 header list of an HTTP/1.1 request head the proxy wrote
// ("METHOD target HTTP/1.1\r\nname: value\r\n...\r\n\r\n": proxy/relay.cc,
// BuildUpstreamHead, with lane headers and x-forwarded-for already in):
// pseudo-headers first (Host becomes :authority), names lower-case,
// transfer-encoding, te and connection-specific fields dropped. False when
// the head is not one the proxy writes.
bool HeadersFromHttp1(std::string_view head, std::string_view scheme, std::vector<Header>* out);

class Http1Client final : public StreamClient {
 public:
  explicit Http1Client(asio::io_context& io) : wake_(io) {}

  // ---- StreamClient: the upstream side of the stream ----
  void OnResponseHead(ProxyStream& s) override;
  void OnResponseData(ProxyStream&) override { Wake(); }
  void OnResponseEnd(ProxyStream&) override { Wake(); }
  void OnUpstreamClosed(const std::shared_ptr<ProxyStream>& s, uint32_t code,
                        bool refused) override;
  void Consumed(ProxyStream&, size_t) override { Wake(); }
  void OnUpstreamFailed(ProxyStream& s, int status, std::string_view reason) override;

  // ---- The session ----
  // Cancelled by every callback: the session waits on it (with its own
  // deadline) and looks at TakeEvent() before each wait.
  asio::steady_timer& timer() { return wake_; }
  // Forgets the upstream stream's close (a new attempt starts).
  void ResetAttempt() { closed_ = false, refused_ = false, code_ = 0; }

  bool head() const { return head_; }
  bool closed() const { return closed_; }
  bool refused() const { return refused_; }
  uint32_t code() const { return code_; }
  // Takes the pending event flag (what a Wait would have returned on).
  bool TakeEvent() {
    bool e = pending_;
    pending_ = false;
    return e;
  }

 private:
  void Wake();

  asio::steady_timer wake_;
  bool pending_ = false;
  bool head_ = false;
  bool closed_ = false;
  bool refused_ = false;
  uint32_t code_ = 0;
};

}  // namespace graymesh::h2
