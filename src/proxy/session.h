// One client connection: reads requests (pipelined ones in order), chooses an
// upstream, forwards the request and streams the response back. A coroutine
// on its worker's thread; timeouts are deadlines the worker's ticker enforces
// by cancelling the sockets, so no timer is armed per request.
//
// What is forwarded is written from what was parsed: the request line, Host
// and the framing header (content-length from the parsed value, or the
// transfer-coding list) are the proxy's own, never the client's bytes, so the
// next hop reads exactly the message the proxy read; same for responses.
// After an upstream protocol error the client connection closes after the
// 502 and the upstream connection is dropped; each attempt starts with a
// fresh response parser.
//
// Memory: an idle keep-alive connection holds no buffer and no header slots.
// It waits for readability with no buffer; the request buffer comes from the
// worker's pool when the first bytes arrive and goes back once the request is
// done, unless pipelined bytes of the next one are in it (they stay, and are
// served first). The request parser takes its header slots per head
// (http/parser.h). The response parser and buffer come from the worker's
// pools when a request is forwarded and go back once its response is sent
// (ReturnResponseStorage).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <llhttp.h>

#include "http/parser.h"
#include "lane/entrance.h"
#include "net/buffer.h"
#include "net/client_stream.h"
#include "proxy/hop_by_hop.h"
#include "proxy/session_frames.h"
#include "proxy/worker.h"

namespace graymesh::proxy {

// On every response of a draining sidecar's inbound side; callers take the
// endpoint out of rotation when they see it, and do not pass it on.
inline constexpr std::string_view kDrainingHeader = "x-graymesh-draining";

// Fixed-size storage taken from the heap on first use, so requests no rule
// looks at do not need it; between requests it waits in the worker's pool
// (RequestScratch), not in an idle connection.
template <typename T, size_t N>
class LazyArray {
 public:
  T& operator[](size_t i) { return data()[i]; }
  T* data() {
    if (items_ == nullptr) items_ = std::make_unique<std::array<T, N>>();
    return items_->data();
  }
  void swap(std::unique_ptr<std::array<T, N>>& other) { items_.swap(other); }

 private:
  std::unique_ptr<std::array<T, N>> items_;
};

// What asio needs for a socket wait with an awaitable completion (measured:
// 192 bytes with GCC 12 and Asio 1.22 on x86-64), with some room to spare.
inline constexpr size_t kWaitSlotBytes = 224;

class Session {
 public:
  Session(Worker& worker, const ListenerInfo& listener, net::ClientStream client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> Run();

  // ---- Called by the worker's ticker ----
  // Cancels I/O once the deadline has passed.
  void CheckDeadline(int64_t now_ms);
  // Drain: a connection waiting for its next request closes now.
  void CloseIfIdle();

  const ListenerInfo& listener() const { return listener_; }

  // Memory for the wait an idle connection has pending: it lives as long as
  // the connection, so it is neither a heap block of its own per request nor
  // a larger block asio's per-thread recycling happens to have cached. A
  // request for more than it holds (or a second one) goes to the heap.
  class WaitSlot {
   public:
    void* Allocate(size_t n);
    void Deallocate(void* p);

   private:
    alignas(std::max_align_t) unsigned char bytes_[kWaitSlotBytes];
    bool used_ = false;
  };

  Session* next = nullptr;  // worker's intrusive list
  Session* prev = nullptr;

 private:
  enum class Timeout { kNone, kIdle, kHeader, kConnect, kResponse, kStream };
  // What the upstream attempt came to. kResend: a pooled connection closed
  // before any response byte; sent again on a fresh one, not counted as a retry.
  // kReply: it failed before anything reached the client, which gets
  // reply_status_ / reply_reason_ (sent by Forward, after the attempt's end).
  enum class Outcome { kDone, kRetry, kResend, kReply, kFailed };

  // What forwarding needs of a request head; views point into Session::in_,
  // which is left untouched until the head has been sent upstream.
  struct Request {
    llhttp_method_t method = HTTP_GET;
    std::string_view target;     // origin-form, as sent upstream ("" or "?q": "/" is added)
    std::string_view authority;  // absolute-form authority, else the Host header; sent as Host
    std::array<std::string_view, kMaxConnectionLines> connection{};  // Connection lines
    int connection_lines = 0;
    std::string_view xff;
    int host_lines = 0;
    bool connection_lists_headers = false;  // Connection names headers to drop
    bool upgrade = false;  // carried Upgrade (ignored): the parser is renewed after it
    bool expect_continue = false;
    bool http10 = false;
    bool keep_alive = true;
    bool idempotent = true;
    size_t head_end = 0;       // offset in in_ where the body starts
    size_t body_buffered = 0;  // body bytes already in in_ after head_end
    bool body_in_hand = true;  // the whole body is in in_ (so a retry can resend it)
    uint64_t body_seen = 0;
    bool consumed = false;  // its bytes have left in_ (sent upstream)
    bool resent = false;    // once resent after a pooled connection closed (kResend)
    std::string_view header_lane;  // x-graymesh-lane (or an alias)
    std::string_view baggage;
    std::string_view traceparent;
    bool made_traceparent = false;  // made up here (the request was dyed): add it upstream
    bool rewrite_baggage = false;   // the baggage sent on is rebuilt (AppendLaneHeaders)
    std::string_view lane;  // the lane it travels in; "" = base
    int service = -1;
    // ---- Kept for its record (session_record.cc): copies, as in_ moves ----
    std::string source, destination, lane_requested;
    std::string lane_served, endpoint;  // of the endpoint tried last
    std::string path;                   // only when the listener has an access log
    std::string trace_id;

    std::span<const std::string_view> ConnectionLines() const {
      return {connection.data(), size_t(connection_lines)};
    }
  };

  asio::awaitable<bool> ReadHead();
  // The status a malformed request head gets; its reason goes to reply_reason_.
  int HeadError();
  // Interprets the parsed head, forwards or answers it, and leaves in_ at the
  // next request.
  asio::awaitable<void> Handle(Request& rq);
  asio::awaitable<void> Forward(Request& rq);
  // ---- session_h2.cc: services with `protocol: http2` ----
  bool ForwardsOverHttp2(const Request& rq) const;
  asio::awaitable<void> ForwardH2(Request& rq);
  asio::awaitable<Outcome> TryEndpoint(Request& rq, ServiceState& svc, Choice choice,
                                       bool last_try);
  // The snapshot the request in hand uses (pinned_ while a request is being
  // handled, else the worker's current one).
  const Snapshot& snap() const { return pinned_ ? *pinned_ : *worker_.upstreams().snapshot(); }
  const config::Config& cfg() const { return snap().config(); }
  // Reads the rest of a streamed request body and sends it upstream. Stops
  // early, returning kEarly, when the upstream answers before the body ends.
  enum class BodyEnd { kSent, kEarly, kFailed };
  asio::awaitable<BodyEnd> StreamBody(Request& rq, net::ClientStream& up);
  // Waits until the client or the upstream has something to read (the
  // upstream: it answered while the body was still coming). kNeither when
  // the wait was cancelled (a deadline passed).
  enum class Ready { kClient, kUpstream, kNeither };
  asio::awaitable<Ready> WaitForEither(net::ClientStream& up);
  // Streams the response whose head ends at `head_end` in up_in_. False when
  // the exchange broke off (the client connection must close).
  asio::awaitable<bool> RelayResponse(const Request& rq, net::ClientStream& up,
                                      size_t head_end, bool* upstream_reusable);
  // How the body goes to the client: as received (its framing headers are
  // written from the parsed values), chunked decoded for HTTP/1.0, or none.
  enum class BodyOut { kAsIs, kDecoded, kNone };
  void BuildDownstreamHead(BodyOut body_out);
  // Feeds `avail` buffered response bytes from `at` to the response parser
  // and appends what goes to the client to iov_; `used`: bytes of this response.
  http::ParseStatus FeedResponseBody(size_t at, size_t avail, bool decode, size_t* used);
  // Answers a request the proxy refuses; the connection closes after it.
  asio::awaitable<void> Refuse(int status, std::string_view reason);
  // Interprets the request-target and Host (RFC 9112 §3.2): sets rq.target
  // and rq.authority, or returns the reason for a 400.
  const char* ResolveTarget(Request& rq, std::string_view host);
  // Once the client's socket is readable: reads the first bytes of a request
  // into in_, taken from the pool (given back on kNone: nothing was there).
  enum class FirstBytes { kRead, kNone, kClosed };
  FirstBytes ReadFirstBytes();
  void TakeRequestBuffer();
  // Swaps the pooled request strings in (out_, down_, ...) and back out.
  void TakeScratch();
  void ReturnScratch();
  void SwapScratch(RequestScratch& s);
  // Gives in_'s storage back to the worker's pool, unless bytes are in it.
  void ReturnRequestBuffer();
  http::Parser& ResponseParser();
  // Gives the response parser and buffer back to the worker's pools.
  void ReturnResponseStorage();
  asio::awaitable<void> SendError(int status, std::string_view reason);
  void BuildUpstreamHead(const Request& rq);
  // ---- session_lane.cc ----
  // Applies the listener's trust, collects the carried values, sets rq.lane,
  // makes up a traceparent where one is needed, and teaches the loose-mode
  // map (lane and carried values).
  void DecideLane(Request& rq);
  // docs/design.md, lane model: header, baggage, loose mode (`learnt`, a TraceLaneMap id),
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

  // ---- session_record.cc ----
  // Copies what the request's record needs once its service and lane are known.
  void NoteForRecord(Request& rq);
  // The one record of a finished request: metrics and access log.
  void RecordRequest(const Request& rq, RequestRecorder::Clock::time_point started);

  // Sends TLS close_notify (a close-delimited body ends there), waiting at
  // most the idle timeout for the peer's. In session_tls.cc.
  asio::awaitable<void> CloseTls();

  void SetDeadline(Timeout kind, config::Millis after);
  void ClearDeadline() { timeout_ = Timeout::kNone; }

  Worker& worker_;
  const ListenerInfo& listener_;
  net::ClientStream client_;  // a socket, or TLS over one (gateway listeners with tls:)
  net::ClientStream* upstream_ = nullptr;  // the one in use, for cancel
  std::string client_ip_;

  net::Buffer in_;        // client bytes: request heads and bodies (pooled, per request)
  net::Buffer up_in_;     // upstream bytes: response heads and bodies (pooled, per request)
  // Between requests these are empty: their capacity waits in the worker's
  // pool, in scratch_ while a request is handled (TakeScratch).
  std::unique_ptr<RequestScratch> scratch_;
  WaitSlot wait_slot_;
  std::string out_;       // the request head sent upstream (kept for a retry)
  std::string down_;      // the response head sent to the client
  std::string codings_;   // a Transfer-Encoding list being joined
  std::vector<asio::const_buffer> iov_;  // gather list
  std::string traceparent_;              // one made up here, when needed
  std::string carried_;                  // carried baggage members sent on (lane/carried.h)
  std::string baggage_buf_;              // the client's baggage, when it had to be rewritten
  std::string restored_;                 // carried members restored by loose mode
  int8_t trusted_ = -1;                  // listener trust for this client; -1 = not yet known
  LazyArray<std::pair<std::string_view, std::string_view>, http::kMaxHeaders> view_headers_;
  http::Parser req_parser_{http::MessageKind::kRequest};
  std::unique_ptr<http::Parser> resp_parser_;  // pooled, per request; renewed per attempt
  // Pinned from the head's interpretation until the response is sent: every
  // view into configuration (lane tags, endpoint infos, rules) a request holds
  // across a co_await points into this snapshot, which a swap cannot free.
  std::shared_ptr<const Snapshot> pinned_;

  // Configuration a forwarded request uses, copied when it starts: no
  // reference into a snapshot (which a reload may free) crosses a co_await.
  struct RequestSettings {
    config::Timeouts timeouts;
    uint64_t max_body_bytes = 0;
    uint32_t max_idle_per_endpoint = 0;
    uint32_t retries = 0;
  };
  RequestSettings settings_;

  Timeout timeout_ = Timeout::kNone;
  Timeout expired_ = Timeout::kNone;
  int64_t deadline_ms_ = 0;
  int replied_status_ = 0;    // status sent to the client for the current request; 0 = none
  int reply_status_ = 0;      // Outcome::kReply: the error reply Forward sends
  std::string reply_reason_;
  bool idle_ = true;          // waiting for the first byte of a request
  bool close_after_ = false;  // close once the current response is sent
};

}  // namespace graymesh::proxy
