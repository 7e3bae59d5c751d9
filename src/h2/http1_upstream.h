// An HTTP/2 request stream forwarded as an HTTP/1.1 request (services with
// `protocol: http1`, and `auto` for everything but gRPC; docs/http.md).
//
// It uses what the HTTP/1.1 session uses and nothing of its own: the
// endpoint chooser (proxy/chooser.h: lanes, retries on another endpoint),
// the worker's pooled keep-alive connections of the service
// (ServiceState::TakeIdle/PutIdle, shared with HTTP/1.1 clients), one
// report per attempt (ServiceState::Report through ProxyStream::Finish:
// balancer, outlier ejection, drain marks, counters) and the strict
// HTTP/1.1 parser (http/parser.h) for the response, so a response the
// HTTP/1.1 path refuses as malformed or smuggling is a 502 here too.
//
// The request: `:method :path HTTP/1.1`, `:authority` as Host, the regular
// fields as the stream carries them (lane headers already rewritten),
// cookies joined, `te`, `expect` and hop-by-hop fields dropped; the body is
// streamed as it arrives, with the client's content-length or chunked.
// Request trailers are not sent. The response: interim (1xx) heads are
// dropped, 101 is a 502; the final head goes to the client with lower-case
// names, without hop-by-hop fields or those its Connection names; the body
// is streamed as DATA (chunked decoded), read from the upstream only while
// the stream's buffer holds less than one window; chunked trailers are
// dropped. A response cut off mid-body resets the client's stream.
//
// Timeouts: connect (timeouts.connect) and a stall while a body moves
// (timeouts.idle, either side) are deadlines the downstream connection's
// ticker checks (Check); the response head is the stream's own deadline
// (timeouts.response), counted from the end of the request body.
//
// Thread/lifetime: one worker thread. Held by its ProxyStream (`h1`) and by
// its own coroutines while they run; it holds the stream while it runs.
// Cancel() ends the coroutines (the connection is closed, never pooled).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "h2/stream.h"
#include "http/parser.h"
#include "net/client_stream.h"
#include "proxy/upstream_conn.h"

namespace graymesh::proxy {
class Worker;
}

namespace graymesh::h2 {

// Whether a stream that came in on a `listener` listener, to a service of
// `protocol`, goes upstream over HTTP/1.1: never for gRPC; `http1` always;
// `auto` except on a sidecar's inbound side, which keeps the protocol the
// request came in (docs/http.md, "Upstreams").
bool UsesHttp1(config::UpstreamProtocol protocol, bool grpc, config::ListenerKind listener);

class Http1Upstream : public std::enable_shared_from_this<Http1Upstream> {
 public:
  // REQUIRES: s->svc, s->lane, s->upstream_headers set (StartRequest), and
  // s->down the connection that will hear of the response.
  static void Start(const std::shared_ptr<ProxyStream>& s, proxy::Worker& worker);

  Http1Upstream(const std::shared_ptr<ProxyStream>& s, proxy::Worker& worker);
  ~Http1Upstream();

  // ---- From the downstream side ----
  // More request body bytes (or its end) wait in s.req_body.
  void ResumeRequest();
  // Response bytes were passed on to the client: read on if it was waiting.
  void Consumed();
  // The client's stream is gone or the proxy answered it: stop, close.
  void Cancel();
  // Ticker: closes the connection when the connect or a body has stalled.
  void Check(int64_t now_ms);
  // Whether request body bytes still go upstream (else they are dropped).
  bool TakesBody() const { return !cancelled_ && !body_done_; }

 private:
  enum class Outcome { kDone, kRetry, kResend, kFailed };
  asio::awaitable<void> Run(std::shared_ptr<Http1Upstream> self);
  asio::awaitable<Outcome> Attempt(bool last_try);
  asio::awaitable<void> SendBody(std::shared_ptr<Http1Upstream> self,
                                 std::shared_ptr<proxy::UpstreamConn> up, uint32_t attempt);
  // Reads more response bytes at the end of buf_; 0 on EOF or an error.
  asio::awaitable<size_t> ReadMore(net::ClientStream& up);
  void BuildHead();
  // Moves the parsed head to s_->resp_headers and tells the client side.
  void PassHead(const http::Parser& rp, bool bodiless);
  void Fail(int status, std::string reason);
  void CloseSocket();
  void ReturnStorage();

  std::shared_ptr<ProxyStream> s_;  // set while Run runs
  ProxyStream* stream_;             // for the downstream calls, valid while s_ or h1 holds
  proxy::Worker& worker_;
  config::Timeouts timeouts_;
  uint32_t retries_ = 0;
  uint32_t max_idle_ = 0;
  std::string head_;          // the request head (kept for a retry)
  bool chunked_ = false;      // the request body goes chunked
  bool idempotent_ = true;
  std::shared_ptr<proxy::UpstreamConn> up_;  // this attempt's connection
  uint32_t attempt_ = 0;
  bool reused_ = false;       // up_ came from the pool
  bool resent_ = false;       // once resent after a pooled connection closed
  bool wrote_ = false;        // the head left for this attempt
  bool body_done_ = false;    // the whole request body went upstream
  bool body_failed_ = false;  // writing the body failed
  bool cancelled_ = false;
  bool stalled_ = false;      // Check closed the connection: the upstream stalled
  bool client_stalled_ = false;  // ... the client sent no body bytes for timeouts.idle
  bool waiting_client_ = false;  // the body coroutine waits for client bytes
  int64_t phase_deadline_ms_ = 0;  // connect, response body read; 0 = none
  int64_t body_deadline_ms_ = 0;   // a request body write; 0 = none
  asio::steady_timer body_wake_;
  asio::steady_timer resp_wake_;
  std::unique_ptr<http::Parser> parser_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t wpos_ = 0;
  std::string chunk_;  // request body bytes being written, capacity reused
};

}  // namespace graymesh::h2
