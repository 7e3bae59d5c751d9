// An HTTP/1.1 request to a `protocol: http2` service: sent as one stream on
// the worker's pooled HTTP/2 upstream connections (h2/upstream_connection.h,
// shared with HTTP/2 clients), through h2/from_http1.h. Same thread and
// lifetime contract as session.h; the ProxyStream lives for this request and
// points back at the Http1Client on this frame until every way out has
// cleared that pointer (the guard below).
//
// Request: the head BuildUpstreamHead wrote (lanes, x-forwarded-for and
// hop-by-hop handling as for HTTP/1.1 upstreams) as HTTP/2 fields; the body,
// content-length or chunked, de-chunked into DATA as it arrives, read from
// the client only while less than one stream window waits upstream.
// Response: status line and fields (no hop-by-hop, no draining mark), the
// upstream's content-length when it gave one, else chunked (HTTP/1.0
// clients: close-delimited); HTTP/2 trailers go out as chunked trailers and
// are dropped when the body is not chunked.
// Failures: a stream the upstream refused (GOAWAY, REFUSED_STREAM, no
// connection) is sent again; a reset before the response head is retried
// (upstream.retries) when the request is idempotent and its body was kept,
// else 502 with the HTTP/2 error; the client leaving resets the upstream
// stream (CANCEL).
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <charconv>

#include "h2/from_http1.h"
#include "h2/limits.h"
#include "h2/upstream_connection.h"
#include "http/headers.h"
#include "http/reply.h"
#include "proxy/chooser.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// Client body bytes read ahead of what the upstream stream took.
constexpr size_t kBodyAhead = 64 * 1024;
constexpr size_t kOutChunk = 64 * 1024;
// Decoding chunked request bodies: a slice this small cannot hold more
// chunks than BodyPieces keeps (each chunk takes at least 6 bytes).
constexpr size_t kDecodeSlice = 6 * http::BodyPieces::kMax;

void AppendHex(std::string* out, size_t n) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n, 16);
  out->append(digits, end).append("\r\n");
}

}  // namespace

bool Session::ForwardsOverHttp2(const Request& rq) const {
  return h2::Http1ClientUsesHttp2(worker_.upstreams().service(rq.service)->info().protocol);
}

asio::awaitable<void> Session::ForwardH2(Request& rq) {
  const config::Config& cfg = this->cfg();
  settings_ = {.timeouts = cfg.timeouts,
               .max_body_bytes = cfg.limits.max_body_bytes,
               .max_idle_per_endpoint = cfg.upstream.max_idle_per_endpoint,
               .retries = cfg.upstream.retries};
  const config::Timeouts& t = settings_.timeouts;
  WorkerStats& stats = worker_.stats();
  std::shared_ptr<ServiceState> svc = worker_.upstreams().service(rq.service);
  const bool fallback = snap().FallbackToBase(rq.lane);
  EndpointChooser chooser(*svc, rq.lane, fallback);

  h2::Http1Client bridge(worker_.io());
  auto s = std::make_shared<h2::ProxyStream>();
  s->down = &bridge;
  s->svc = svc;
  s->worker = &worker_;
  s->lane = std::string(rq.lane);
  if (!h2::HeadersFromHttp1(out_, client_.is_tls() ? "https" : "http", &s->upstream_headers)) {
    co_await SendError(502, "request head not convertible to HTTP/2");
    co_return;
  }
  // Every way out: the stream forgets this frame, an open upstream stream is
  // reset (the client is gone or was answered), the attempt is reported.
  struct Guard {
    h2::ProxyStream& s;
    ~Guard() {
      s.down = nullptr;
      if (s.up != nullptr && s.up_id >= 0) s.up->Cancel(s);
      s.Finish();
    }
  } guard{*s};

  // The body: a parser of its own (the session's has read past the bytes
  // that came with the head without decoding them), fed from the head on.
  http::Parser body_parser(http::MessageKind::kRequest);
  {
    size_t used = 0;
    body_parser.FeedHead(in_.data(), 0, rq.head_end, &used);
  }
  in_.Consume(rq.head_end);
  rq.consumed = true;
  rq.body_seen = 0;  // counted again below, as decoded
  bool body_done = body_parser.body_done();
  const bool chunked_in = body_parser.chunked();
  // Decodes what is in in_ into s->req_body; false on a malformed body.
  auto feed = [&]() -> bool {
    while (!body_done && in_.readable() > 0) {
      http::BodyPieces pieces;
      size_t used = 0;
      const size_t slice = chunked_in ? std::min(in_.readable(), kDecodeSlice) : in_.readable();
      http::ParseStatus st = body_parser.FeedBody(in_.read_ptr(), slice, &used,
                                                  chunked_in ? &pieces : nullptr);
      if (st == http::ParseStatus::kError) return false;
      if (chunked_in) {
        for (int i = 0; i < pieces.count; ++i) {
          s->req_body.Append(reinterpret_cast<const uint8_t*>(pieces.piece[i].data()),
                             pieces.piece[i].size());
        }
      } else {
        s->req_body.Append(reinterpret_cast<const uint8_t*>(in_.read_ptr()), used);
      }
      rq.body_seen += used;
      in_.Consume(used);
      body_done = st == http::ParseStatus::kBodyComplete;
      if (used == 0) break;
    }
    s->req_eof = body_done;
    return true;
  };
  if (!feed()) {
    std::string reason = std::string("malformed request body: ") + body_parser.error();
    co_await SendError(400, reason);
    co_return;
  }
  if (!body_done && rq.expect_continue && !rq.http10) {
    co_await asio::async_write(client_, asio::buffer(http::kContinue), kNoThrow);
  }

  // ---- Attempts ----
  Choice choice;
  int attempt = 0;
  auto attach = [&]() -> bool {
    choice = chooser.Next(worker_.HealthNow());
    if (choice.host < 0) return false;
    s->choice = choice;
    svc->OnStart(choice);
    s->counted = true;
    s->attempt_started_ms = worker_.HealthNow();
    s->status = 0;
    s->resp_started = false;
    const EndpointInfo& ep = *svc->endpoint(choice.host).info;
    rq.lane_served = ep.lane;
    rq.endpoint = ep.address_text;
    bridge.ResetAttempt();
    auto conn = h2::UpstreamPool::ForThisThread().Get(worker_.io(), svc->endpoint(choice.host),
                                                      svc->info().tls, t.connect, stats);
    if (!conn->Submit(s)) bridge.OnUpstreamClosed(s, NGHTTP2_REFUSED_STREAM, true);
    return true;
  };
  if (!attach()) {
    std::string reason = chooser.Refusal(worker_.HealthNow());
    co_await SendError(503, reason);
    co_return;
  }

  // One loop for both directions: an HTTP/2 upstream may answer (and
  // stream its answer) while the request body still comes (an echo).
  // `deadline`: before the head, timeouts.response from the body's end or
  // timeouts.idle while it comes; after it, timeouts.idle without progress.
  int64_t deadline = Worker::NowMs() + (body_done ? t.response : t.idle).count();
  bool head_sent = false;
  bool chunked = false, bodiless = false;
  std::string out;
  for (;;) {
    if (!bridge.head()) {
      if (bridge.closed()) {
        const bool refused = bridge.refused();
        const uint32_t code = bridge.code();
        const bool replay = s->replayable && (refused || (rq.idempotent && body_done));
        const bool again = refused ? s->refused < h2::kMaxRefusedResends
                                   : attempt < int(settings_.retries);
        if (replay && again) {
          if (refused) {
            ++s->refused;  // never processed upstream: not one of upstream.retries
            if (!s->up_failure.empty()) chooser.Failed(choice);  // its endpoint is down
          } else {
            ++attempt;
            chooser.Failed(choice);
          }
          // A connection that never came up counts against its endpoint.
          s->Finish(refused ? s->RefusedOutcome() : health::Outcome::kReset);
          s->up.reset();
          s->req_body.Prepend(s->req_replay);
          s->req_replay.clear();
          stats.upstream_rq_retry.Inc();
          if (attach()) continue;
          std::string reason = chooser.Refusal(worker_.HealthNow());
          co_await SendError(503, reason);
          co_return;
        }
        const bool failed_connection = refused && !s->up_failure.empty();
        s->Finish(failed_connection ? s->RefusedOutcome() : health::Outcome::kReset);
        close_after_ = close_after_ || !body_done;
        // Built before the co_await (GCC 12 mis-frees temporaries inside
        // a co_await's arguments; session.cc, Forward).
        std::string reason =
            failed_connection ? "upstream " + rq.endpoint + " " + s->up_failure
            : refused ? "upstream " + rq.endpoint + " unreachable or refused the HTTP/2 stream"
                      : "upstream " + rq.endpoint + " reset the stream (HTTP/2 error " +
                            std::string(nghttp2_http2_strerror(code)) + ")";
        // As for HTTP/1.1 upstreams: a connection that never came up is 502
        // (504 on a timeout) with the reason.
        const int status = !failed_connection ? (refused ? 503 : 502)
                           : s->up_outcome == health::Outcome::kTimeout ? 504
                                                                        : 502;
        co_await SendError(status, reason);
        co_return;
      }
      if (Worker::NowMs() >= deadline) {
        close_after_ = true;
        if (!body_done && s->req_body.size() < kBodyAhead) {  // the client stalled
          s->Finish(health::Outcome::kAborted);
          co_await SendError(408, "request body not received in time");
          co_return;
        }
        s->Finish(health::Outcome::kTimeout);
        std::string reason = body_done ? "upstream " + rq.endpoint + " response timeout"
                                       : "upstream " + rq.endpoint +
                                             " did not take the request body in time";
        co_await SendError(504, reason);
        co_return;
      }
    } else {
      // ---- Response: head, then the body as it comes ----
      out.clear();
      if (!head_sent) {
        head_sent = true;
        const int status = s->status;
        replied_status_ = status;
        bodiless = rq.method == HTTP_HEAD || status == 204 || status == 304;
        const bool empty = s->resp_eof && s->resp_body.size() == 0;
        bool has_length = false;
        for (const h2::Header& h : s->resp_headers) {
          if (h.name == "content-length") has_length = true;
          if (h.name == kDrainingHeader && http::Trim(h.value) == "1") s->draining = true;
        }
        chunked = !bodiless && !has_length && !(empty && s->resp_trailers.empty()) && !rq.http10;
        if (!bodiless && !has_length && !chunked && !empty) close_after_ = true;  // HTTP/1.0
        if (!rq.keep_alive || worker_.draining()) close_after_ = true;
        // Answered before the whole body came: the rest is not read once
        // the answer ended, so the connection closes (as on the HTTP/1.1 path).
        if (!body_done && s->resp_eof) close_after_ = true;
        out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
        out.append(http::StatusText(status)).append("\r\n");
        for (const h2::Header& h : s->resp_headers) {
          if (h.name == kDrainingHeader || http::IsHopByHop(h.name)) continue;
          out.append(h.name).append(": ").append(h.value).append("\r\n");
        }
        s->resp_headers.clear();
        if (chunked) {
          out.append("transfer-encoding: chunked\r\n");
        } else if (!bodiless && !has_length && empty && status >= 200) {
          out.append("content-length: 0\r\n");
        }
        if (close_after_) out.append("connection: close\r\n");
        if (worker_.announces_drain() && listener_.cfg.kind == config::ListenerKind::kInbound) {
          out.append(kDrainingHeader).append(": 1\r\n");
        }
        out.append("\r\n");
      }
      size_t n = 0;
      if (const size_t avail = s->resp_body.size(); avail > 0) {
        const size_t take = std::min(avail, kOutChunk);
        if (bodiless) {
          std::string drop(take, '\0');  // a HEAD response's DATA (none expected) goes nowhere
          n = s->resp_body.Take(reinterpret_cast<uint8_t*>(drop.data()), take);
        } else {
          if (chunked) AppendHex(&out, take);
          const size_t body_at = out.size();
          out.resize(body_at + take);
          n = s->resp_body.Take(reinterpret_cast<uint8_t*>(out.data() + body_at), take);
          out.resize(body_at + n);
          if (chunked) out.append("\r\n");
        }
      }
      const bool end = s->resp_eof && s->resp_body.size() == 0;
      if (end && chunked) {
        out.append("0\r\n");
        for (const h2::Header& h : s->resp_trailers) {
          if (http::IsHopByHop(h.name)) continue;
          out.append(h.name).append(": ").append(h.value).append("\r\n");
        }
        out.append("\r\n");
      }
      if (!out.empty()) {
        SetDeadline(Timeout::kStream, t.idle);
        auto [ec, w] = co_await asio::async_write(client_, asio::buffer(out), kNoThrow);
        ClearDeadline();
        if (ec) {
          close_after_ = true;  // the client left: the guard resets the upstream stream
          co_return;
        }
        deadline = Worker::NowMs() + t.idle.count();
      }
      if (n > 0 && s->up != nullptr) s->up->Consumed(*s, n);
      if (end) {
        // The rest of a body the upstream did not wait for is not read: the
        // connection closes (said in the head when the answer came whole).
        if (!body_done) close_after_ = true;
        stats.downstream_rq_completed.Inc();
        co_return;  // an upstream stream still open (answered early) is reset by the guard
      }
      if (s->resp_body.size() > 0) continue;
      if (bridge.closed() && !s->resp_eof) {
        close_after_ = true;  // cut off mid-body: the client sees a short response
        co_return;
      }
      if (Worker::NowMs() >= deadline) {
        close_after_ = true;  // the upstream (or the client's reading) stalled mid-body
        co_return;
      }
    }

    // ---- More request body, while less than kBodyAhead waits upstream ----
    const bool want_body = !body_done && s->req_body.size() < kBodyAhead;
    if (want_body) {
      in_.Compact();
      if (in_.writable() < 8 * 1024) in_.Grow(in_.capacity() + 16 * 1024);
      asio::error_code rec;
      size_t got = client_.read_some(asio::buffer(in_.write_ptr(), in_.writable()), rec);
      if (rec != asio::error::would_block) {
        if (rec || got == 0) {
          close_after_ = true;  // the client left mid-body: the guard resets the stream
          co_return;
        }
        in_.Commit(got);
        if (!feed()) {
          close_after_ = true;
          if (head_sent) co_return;
          std::string reason = std::string("malformed request body: ") + body_parser.error();
          co_await SendError(400, reason);
          co_return;
        }
        if (settings_.max_body_bytes != 0 && rq.body_seen > settings_.max_body_bytes) {
          close_after_ = true;
          if (head_sent) co_return;
          co_await SendError(413, "request body larger than the limit");
          co_return;
        }
        deadline = Worker::NowMs() + (body_done && !bridge.head() ? t.response : t.idle).count();
        if (s->up != nullptr) s->up->ResumeRequest(*s);
        continue;
      }
    }
    // ---- Nothing to do: wait for the client (when its body is wanted) or
    // the upstream side, whichever comes first ----
    if (bridge.TakeEvent()) continue;
    bridge.timer().expires_after(
        std::chrono::milliseconds(std::max<int64_t>(0, deadline - Worker::NowMs())));
    if (want_body) {
      co_await asio::experimental::make_parallel_group(
          client_.lowest_layer().async_wait(asio::socket_base::wait_read,
                                            asio::experimental::deferred),
          bridge.timer().async_wait(asio::experimental::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    } else {
      co_await bridge.timer().async_wait(kNoThrow);
    }
    bridge.TakeEvent();
  }
}

}  // namespace graymesh::proxy
