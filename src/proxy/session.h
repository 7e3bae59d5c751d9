// One client connection: reads requests (pipelined ones in order), chooses an
// upstream, forwards the request and streams the response back. A coroutine
// on its worker's thread; timeouts are deadlines the worker's ticker enforces
// by cancelling the sockets, so no timer is armed per request.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>
#include <array>

#include <llhttp.h>

#include "http/parser.h"
#include "lane/entrance.h"
#include "net/buffer.h"
#include "proxy/worker.h"

namespace graymesh::proxy {

class Session {
 public:
  Session(Worker& worker, const ListenerInfo& listener, asio::ip::tcp::socket socket);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> Run();

  // ---- Called by the worker's ticker ----
  // Cancels I/O once the deadline has passed.
  void CheckDeadline(int64_t now_ms);
  // Drain: a connection waiting for its next request closes now.
  void CloseIfIdle();

  Session* next = nullptr;  // worker's intrusive list
  Session* prev = nullptr;

 private:
  enum class Timeout { kNone, kIdle, kHeader, kConnect, kResponse, kStream };
  // What the upstream attempt came to.
  enum class Outcome { kDone, kRetry, kFailed };

  // What forwarding needs of a request head; views point into Session::in_,
  // which is left untouched until the head has been sent upstream.
  struct Request {
    llhttp_method_t method = HTTP_GET;
    std::string_view target;     // origin-form, as sent upstream
    std::string_view authority;  // proxy-form authority, else the Host header
    std::string_view connection;
    std::string_view xff;
    bool host_present = false;
    bool connection_lists_headers = false;  // Connection names headers to drop
    bool expect_continue = false;
    bool http10 = false;
    bool keep_alive = true;
    bool idempotent = true;
    size_t head_end = 0;       // offset in in_ where the body starts
    size_t body_buffered = 0;  // body bytes already in in_ after head_end
    bool body_in_hand = true;  // the whole body is in in_ (so a retry can resend it)
    uint64_t body_seen = 0;
    bool consumed = false;  // its bytes have left in_ (sent upstream)
    std::string_view header_lane;  // x-graymesh-lane (or an alias)
    std::string_view baggage;
    std::string_view traceparent;
    bool made_traceparent = false;  // made up here (the request was dyed): add it upstream
    bool rewrite_baggage = false;   // the baggage sent on is rebuilt (AppendLaneHeaders)
    std::string_view lane;  // the lane it travels in; "" = base
    int service = -1;
  };

  asio::awaitable<bool> ReadHead();
  // Interprets the parsed head, forwards or answers it, and leaves in_ at the
  // next request.
  asio::awaitable<void> Handle(Request& rq);
  asio::awaitable<void> Forward(Request& rq);
  asio::awaitable<Outcome> TryEndpoint(Request& rq, ServiceState& svc, Choice choice,
                                       bool last_try);
  // Streams the response whose head ends at `head_end` in up_in_. False when
  // the exchange broke off (the client connection must close).
  asio::awaitable<bool> RelayResponse(const Request& rq, asio::ip::tcp::socket& up,
                                      size_t head_end, bool* upstream_reusable);
  void BuildDownstreamHead(bool chunked_out);
  asio::awaitable<void> SendError(int status, std::string_view reason);
  void BuildUpstreamHead(const Request& rq);
  // ---- session_lane.cc ----
  // Applies the listener's trust, collects the carried values, sets rq.lane,
  // makes up a traceparent where one is needed, and teaches the loose-mode
  // map (lane and carried values).
  void DecideLane(Request& rq);
  // DESIGN.md §3: header, baggage, loose mode (`learnt`, a TraceLaneMap id),
  // entrance rules, node tag. `view` is built on first use.
  std::string_view ChooseLane(const Request& rq, uint8_t learnt, lane::RequestView* view,
                              bool* have_view);
  lane::RequestView MakeView(const Request& rq);
  // Whether BuildUpstreamHead leaves out this client header: lane headers
  // that are sent anew or come from an untrusted client.
  bool DropsLaneHeader(const Request& rq, std::string_view name) const;
  // Appends the headers that carry the lane, the carried values and the
  // caller to out_.
  void AppendLaneHeaders(const Request& rq);

  void SetDeadline(Timeout kind, config::Millis after);
  void ClearDeadline() { timeout_ = Timeout::kNone; }

  Worker& worker_;
  const ListenerInfo& listener_;
  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket* upstream_ = nullptr;  // the one in use, for cancel
  std::string client_ip_;

  net::Buffer in_;        // client bytes: request heads and bodies
  net::Buffer up_in_;     // upstream bytes: response heads and bodies
  std::string out_;       // the request head sent upstream (kept for a retry)
  std::string down_;      // the response head sent to the client
  std::vector<asio::const_buffer> iov_;  // gather list, capacity reused
  std::string traceparent_;              // one made up here, when needed
  std::string carried_;                  // carried baggage members sent on (lane/carried.h)
  std::string baggage_buf_;              // the client's baggage, when it had to be rewritten
  std::string restored_;                 // carried members restored by loose mode
  int8_t trusted_ = -1;                  // listener trust for this client; -1 = not yet known
  std::array<std::pair<std::string_view, std::string_view>, http::kMaxHeaders> view_headers_;
  http::Parser req_parser_{http::MessageKind::kRequest};
  http::Parser resp_parser_{http::MessageKind::kResponse};

  Timeout timeout_ = Timeout::kNone;
  Timeout expired_ = Timeout::kNone;
  int64_t deadline_ms_ = 0;
  bool idle_ = true;          // waiting for the first byte of a request
  bool close_after_ = false;  // close once the current response is sent
};

}  // namespace graymesh::proxy
