// An HTTP/2 connection to one upstream endpoint, multiplexing the streams of
// many client requests, and the per-worker pool of them (one set per
// endpoint address). A GOAWAY from the upstream is a drain signal: no new
// stream goes on the connection, streams it accepted finish, and the ones
// it did not (id above last-stream-id, closed REFUSED_STREAM) are handed
// back to be retried elsewhere.
//
// Services with `tls:` are reached over TLS with ALPN "h2": the handshake
// (verified as for HTTP/1.1, tls/client_context.h; session resumed per
// endpoint) runs under the connect timeout, and a server that does not
// select h2 fails the connection. A connection that never came up fails its
// streams as refused (nothing was sent), saying why and what it tells of the
// endpoint (ProxyStream::up_failure, up_outcome).
//
// Thread/lifetime: one worker thread. The pool holds connections by
// shared_ptr; so do the ProxyStreams using them. A connection without a
// stream for upstream.idleTimeout is closed by the worker's sweep.
#pragma once

#include <asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "h2/connection.h"
#include "h2/stream.h"
#include "proxy/stats.h"
#include "proxy/upstream.h"
#include "tls/client_context.h"

namespace graymesh::h2 {

class UpstreamConnection : public Connection {
 public:
  // `tls` null: cleartext (h2c, prior knowledge). Else the connection holds
  // it and `session` (the endpoint's, for resumption); `host` is the
  // endpoint's configured host (the name verified when the service sets no
  // sni).
  UpstreamConnection(asio::ip::tcp::socket socket, asio::ip::tcp::endpoint address,
                     std::shared_ptr<const tls::ClientContext> tls = nullptr,
                     std::shared_ptr<tls::SessionSlot> session = nullptr, std::string host = "");
  // A TLS connection is freed as shut down, so OpenSSL keeps its session
  // resumable (the endpoint's SessionSlot holds that same session).
  ~UpstreamConnection() override;
  // Starts connecting; requests submitted meanwhile wait in the session.
  void Connect(config::Millis timeout);

  // Whether a new stream may go here.
  bool Usable() const;
  // Opens the upstream stream for `s` (headers s->upstream_headers, body
  // from s->req_body). False when the session refused it.
  bool Submit(const std::shared_ptr<ProxyStream>& s);
  // More request bytes (or the end) are waiting in s.
  void ResumeRequest(ProxyStream& s);
  // The client's side is gone: reset the upstream stream.
  void Cancel(ProxyStream& s);
  // `n` response bytes of `s` were passed on to the client.
  void Consumed(ProxyStream& s, size_t n);
  size_t streams() const { return streams_.size(); }
  // When its last stream ended (or it was made), on the worker's clock.
  int64_t idle_since_ms() const { return idle_since_ms_; }

 private:
  friend struct UpstreamCallbacks;
  asio::awaitable<void> ConnectAndRun(std::shared_ptr<UpstreamConnection> self,
                                      config::Millis timeout);
  // The TLS handshake on the connected socket; "" or why it failed.
  asio::awaitable<std::string> Handshake(asio::steady_timer& timer);
  void OnClosed() override;
  // `failure`: why the connection never came up ("" once it had).
  void FailAll(uint32_t code, const std::string& failure = "",
               health::Outcome outcome = health::Outcome::kAborted);

  asio::ip::tcp::endpoint address_;
  std::shared_ptr<const tls::ClientContext> tls_context_;
  std::shared_ptr<tls::SessionSlot> tls_session_;
  std::string host_;
  std::unordered_map<int32_t, std::shared_ptr<ProxyStream>> streams_;
  bool connecting_ = true;
  bool failed_ = false;
  bool goaway_ = false;
  int64_t idle_since_ms_ = 0;
};

// This thread's upstream HTTP/2 connections (each worker is one thread, so
// workers share none).
class UpstreamPool {
 public:
  static UpstreamPool& ForThisThread();
  // A connection to endpoint `ep` with room for one more stream, opened on
  // `io` when there is none; over TLS when `tls` is set (the service's
  // `tls:`). Connections are kept per address and TLS context, so a
  // service's new settings never reuse a connection made under the old.
  std::shared_ptr<UpstreamConnection> Get(asio::io_context& io, proxy::EndpointState& ep,
                                          const std::shared_ptr<const tls::ClientContext>& tls,
                                          config::Millis connect_timeout,
                                          proxy::WorkerStats& stats);
  // Closes (GOAWAY NO_ERROR) connections without a stream since before
  // `cutoff_ms` (upstream.idleTimeout, as for HTTP/1.1's idle pool).
  void SweepIdle(int64_t cutoff_ms);

 private:
  std::unordered_map<std::string, std::vector<std::shared_ptr<UpstreamConnection>>> by_address_;
};

}  // namespace graymesh::h2
