// One proxied HTTP/2 exchange: a stream on a downstream (client) connection
// joined to a stream on an upstream connection. Bytes wait here between the
// two sides; each side acknowledges (WINDOW_UPDATE) only what the other has
// taken, so flow control holds end to end and a stream buffers at most one
// window each way.
//
// Thread/lifetime: one worker thread. Held by shared_ptr from both
// connections' stream maps; each side drops its reference when its stream
// closes, after telling the other side.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "health/attempt.h"
#include "proxy/upstream.h"

namespace graymesh::proxy {
class Worker;
}

namespace graymesh::h2 {

class Http1Upstream;
class UpstreamConnection;
struct ProxyStream;

struct Header {
  std::string name;
  std::string value;
};

// The client side of a ProxyStream, told what its upstream side does: an
// HTTP/2 client's connection (h2/downstream_connection.h) or an HTTP/1.1
// client's session (h2/from_http1.h). Calls come on the worker's thread,
// from inside the upstream side's callbacks.
class StreamClient {
 public:
  virtual ~StreamClient() = default;
  virtual void OnResponseHead(ProxyStream& s) = 0;
  virtual void OnResponseData(ProxyStream& s) = 0;
  virtual void OnResponseEnd(ProxyStream& s) = 0;
  // The upstream stream closed with `code`; `refused` when the upstream
  // never processed it (so it may be sent elsewhere).
  virtual void OnUpstreamClosed(const std::shared_ptr<ProxyStream>& s, uint32_t code,
                                bool refused) = 0;
  // `n` request body bytes of `s` went upstream: the client may send more.
  virtual void Consumed(ProxyStream& s, size_t n) = 0;
  // The HTTP/1.1 upstream gave up before a response head: the client gets
  // `status` with `reason`.
  virtual void OnUpstreamFailed(ProxyStream& s, int status, std::string_view reason) = 0;
};

// Bytes received on one side, not yet taken by the other.
class BodyQueue {
 public:
  void Append(const uint8_t* p, size_t n) { buf_.append(reinterpret_cast<const char*>(p), n); }
  size_t size() const { return buf_.size() - off_; }
  // Puts bytes back in front (a request resent after a refused stream).
  void Prepend(std::string_view b) { buf_.insert(off_, b); }
  // Copies up to `n` bytes to `out` and drops them.
  size_t Take(uint8_t* out, size_t n);

 private:
  std::string buf_;
  size_t off_ = 0;
};

struct ProxyStream {
  StreamClient* down = nullptr;  // null once the client's stream closed
  int32_t down_id = 0;
  // The upstream connection; kept after the upstream stream closed (up_id
  // -1) so bytes still passed on are acknowledged on its connection window.
  // Null before the request is sent and after a proxy-made reply.
  std::shared_ptr<UpstreamConnection> up;
  int32_t up_id = -1;  // the upstream stream, -1 when not open
  // Instead of `up`: the request goes upstream over HTTP/1.1
  // (h2/http1_upstream.h). Set once, when the request starts.
  std::shared_ptr<Http1Upstream> h1;

  // ---- Request (client -> upstream) ----
  std::string method, scheme, authority, path;
  std::vector<Header> req_headers;  // regular fields as received, lower-case names
  size_t req_header_bytes = 0;
  bool req_too_large = false;  // decoded block over the limit: answered 431
  bool grpc = false;           // content-type application/grpc*
  std::vector<Header> upstream_headers;  // what goes upstream (built once)
  BodyQueue req_body;
  uint64_t req_body_seen = 0;  // DATA bytes received, for limits.maxBodyBytes
  bool req_eof = false;
  std::vector<Header> req_trailers;
  bool req_started = false;  // handed to the chooser
  bool req_deferred = false;  // upstream data source waits for bytes
  // Body bytes already sent upstream, kept while small so a stream the
  // upstream refused (GOAWAY, REFUSED_STREAM) can go to another endpoint.
  std::string req_replay;
  bool replayable = true;
  int refused = 0;  // resends after a refused stream
  // When the upstream connection never came up (connect, TLS, ALPN): why,
  // and what it says of the endpoint, for the reply and the report. Set with
  // a refused close, cleared when the stream is submitted again. One failed
  // connection is one failure of its endpoint, whatever number of streams
  // waited on it: only the first of them reports it (up_reports).
  std::string up_failure;
  health::Outcome up_outcome = health::Outcome::kAborted;
  bool up_reports = false;
  // What this stream's attempt tells endpoint health of a refusal.
  health::Outcome RefusedOutcome() const {
    return up_reports ? up_outcome : health::Outcome::kAborted;
  }
  int exclude = -1;  // the endpoint a retry avoids
  std::string lane;  // "" = base

  // ---- Response (upstream -> client) ----
  int status = 0;
  std::vector<Header> resp_headers;
  BodyQueue resp_body;
  bool resp_eof = false;
  std::vector<Header> resp_trailers;
  int head_grpc_status = -1;  // grpc-status of a trailers-only head (the head is moved on)
  bool resp_started = false;  // head submitted downstream
  bool resp_deferred = false;
  bool draining = false;  // the response said x-graymesh-draining: 1 (HTTP/1.1 upstreams)

  // ---- Upstream choice; holds the snapshot the request uses ----
  std::shared_ptr<proxy::ServiceState> svc;
  proxy::Choice choice;
  bool counted = false;  // OnStart called, a Report owed
  proxy::Worker* worker = nullptr;  // whose stats and health clock the report uses
  int64_t attempt_started_ms = 0;   // health clock, when the endpoint was chosen
  int64_t deadline_ms = 0;    // 0 = none
  bool grpc_deadline = false;  // the deadline came from grpc-timeout

  // Ends the attempt on `choice`: its result goes to the one place the
  // balancer, endpoint health and the counters read (ServiceState::Report).
  // A response head means kOk with its status; else `failed` says what
  // happened (kAborted when the client went away: nothing of the endpoint).
  void Finish(health::Outcome failed = health::Outcome::kAborted);
};

// A grpc-status value: 0..16 and beyond as sent, -1 when it is not a number.
int ParseGrpcStatus(std::string_view v);

// nghttp2 wants names and values as nghttp2_nv; views into `h` (which must
// outlive the submit call).
std::vector<nghttp2_nv> ToNv(const std::vector<Header>& h);

}  // namespace graymesh::h2
