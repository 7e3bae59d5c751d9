// A client's HTTP/2 connection (prior knowledge, or TLS with ALPN h2) on an
// HTTP listener: each request stream is routed like an HTTP/1.1 request
// (route / service, lane, endpoint) and joined to a stream on a pooled
// upstream HTTP/2 connection (h2/upstream_connection.h), or, for services
// spoken to over HTTP/1.1, sent as an HTTP/1.1 request on the worker's
// pooled HTTP/1.1 connections (h2/http1_upstream.h).
//
// Deadlines: one ticker per connection checks its streams every 100 ms (no
// timer per stream): response head within timeouts.response, the whole call
// within grpc-timeout when the client set one, idle connections closed after
// timeouts.idle, and a graceful GOAWAY when the worker drains (a notice,
// then the last stream id a tick later). A draining sidecar's inbound
// responses, its own error replies too, carry `x-graymesh-draining: 1`.
//
// Thread/lifetime: one worker thread. Held by shared_ptr (its I/O loops and
// ticker hold references); streams hold a raw back pointer that the
// connection clears when the stream closes.
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "h2/connection.h"
#include "h2/stream.h"
#include "proxy/worker.h"

namespace graymesh::h2 {

class DownstreamConnection : public Connection, public StreamClient {
 public:
  DownstreamConnection(proxy::Worker& worker, const proxy::ListenerInfo& listener,
                       asio::ip::tcp::socket socket);
  // Over TLS, ALPN h2, handshake done.
  DownstreamConnection(proxy::Worker& worker, const proxy::ListenerInfo& listener,
                       std::unique_ptr<TlsStream> tls);
  ~DownstreamConnection() override;
  void Start();

  // ---- From the upstream side of a stream ----
  void OnResponseHead(ProxyStream& s) override;
  void OnResponseData(ProxyStream& s) override;
  void OnResponseEnd(ProxyStream& s) override;
  // The upstream stream closed with `code`; `refused` when the upstream
  // never processed it (so it may be sent elsewhere).
  void OnUpstreamClosed(const std::shared_ptr<ProxyStream>& s, uint32_t code,
                        bool refused) override;
  // `n` request body bytes of `s` went upstream: the client may send more.
  void Consumed(ProxyStream& s, size_t n) override;
  // The HTTP/1.1 upstream gave up before a response head: the client gets
  // `status` with `reason` (a gRPC status for gRPC requests).
  void OnUpstreamFailed(ProxyStream& s, int status, std::string_view reason) override;

 private:
  friend struct DownstreamCallbacks;
  void Init();
  void OnClosed() override;
  asio::awaitable<void> Tick(std::shared_ptr<DownstreamConnection> self);
  // Routes a request whose head has arrived.
  void StartRequest(const std::shared_ptr<ProxyStream>& s);
  // Chooses an endpoint and opens the upstream stream (again, on a retry).
  void Attach(const std::shared_ptr<ProxyStream>& s);
  // Answers with a proxy-made error: a gRPC status for gRPC requests.
  void Reply(ProxyStream& s, int status, std::string_view reason);
  void SubmitResponse(ProxyStream& s, const std::vector<Header>& headers, bool with_body);
  void Resume(ProxyStream& s);
  // Counts a stream the client reset before its response began; true when
  // the client is over the rapid-reset limit.
  bool CountEarlyReset();

  proxy::Worker& worker_;
  const proxy::ListenerInfo& listener_;
  std::string client_ip_;
  bool trusted_ = false;
  std::unordered_map<int32_t, std::shared_ptr<ProxyStream>> streams_;
  int64_t last_active_ms_ = 0;
  int64_t reset_window_start_ms_ = 0;
  uint32_t early_resets_ = 0;
  bool shutdown_notice_sent_ = false;  // draining: GOAWAY with 2^31-1 sent
  bool goaway_sent_ = false;
};

}  // namespace graymesh::h2
