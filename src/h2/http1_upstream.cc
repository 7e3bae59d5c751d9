#include "h2/http1_upstream.h"

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <cstdio>
#include <cstring>
#include <span>

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include "h2/downstream_connection.h"
#include "h2/limits.h"
#include "http/headers.h"
#include "proxy/chooser.h"
#include "proxy/hop_by_hop.h"
#include "proxy/session.h"
#include "proxy/upstream_tls.h"
#include "proxy/worker.h"

namespace graymesh::h2 {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// As for HTTP/1.1 clients (proxy/session.cc).
constexpr size_t kMaxResponseHead = 64 * 1024;
// Request body bytes written to the upstream at once.
constexpr size_t kBodyWrite = 64 * 1024;
// Chunked responses are decoded in slices this small, so one slice cannot
// hold more chunks than BodyPieces keeps (each chunk takes at least 6 bytes).
constexpr size_t kDecodeSlice = 6 * http::BodyPieces::kMax;

bool Idempotent(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
         m == "DELETE";
}

// Methods whose request has a body by definition: an empty one still says
// content-length: 0, since HTTP/1.1 servers may answer 411 otherwise.
bool ExpectsBody(std::string_view m) { return m == "POST" || m == "PUT" || m == "PATCH"; }

bool Clean(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void Renew(http::Parser& p) {
  std::destroy_at(&p);
  std::construct_at(&p, http::MessageKind::kResponse);
}

bool SaysDraining(const http::Parser& rp, const char* base) {
  for (const http::HeaderSlice& h : rp.headers()) {
    if (http::IEquals(h.name.In(base), proxy::kDrainingHeader)) {
      return http::Trim(h.value.In(base)) == "1";
    }
  }
  return false;
}

std::string Lower(std::string_view n) {
  std::string out(n);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c | 0x20);
  }
  return out;
}

}  // namespace

bool UsesHttp1(config::UpstreamProtocol protocol, bool grpc, config::ListenerKind listener) {
  if (grpc) return false;  // gRPC needs HTTP/2 (trailers)
  switch (protocol) {
    case config::UpstreamProtocol::kHttp1: return true;
    case config::UpstreamProtocol::kHttp2: return false;
    case config::UpstreamProtocol::kAuto: break;
  }
  // The caller's proxy already chose by the service's protocol; a sidecar
  // passes that choice on to its app.
  return listener != config::ListenerKind::kInbound;
}

void Http1Upstream::Start(const std::shared_ptr<ProxyStream>& s, proxy::Worker& worker) {
  auto x = std::make_shared<Http1Upstream>(s, worker);
  s->h1 = x;
  asio::co_spawn(worker.io(), x->Run(x), asio::detached);
}

Http1Upstream::Http1Upstream(const std::shared_ptr<ProxyStream>& s, proxy::Worker& worker)
    : s_(s),
      stream_(s.get()),
      worker_(worker),
      body_wake_(worker.io()),
      resp_wake_(worker.io()) {
  const config::Config& cfg = worker.config();
  timeouts_ = cfg.timeouts;
  retries_ = cfg.upstream.retries;
  max_idle_ = cfg.upstream.max_idle_per_endpoint;
  idempotent_ = Idempotent(s->method);
}

Http1Upstream::~Http1Upstream() { ReturnStorage(); }

void Http1Upstream::ReturnStorage() {
  if (parser_ != nullptr) worker_.response_parsers().Give(std::move(parser_));
  if (buf_ != nullptr) worker_.response_buffers().Give(std::move(buf_), cap_);
  cap_ = 0;
}

void Http1Upstream::ResumeRequest() { body_wake_.cancel(); }
void Http1Upstream::Consumed() { resp_wake_.cancel(); }

void Http1Upstream::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  CloseSocket();
  body_wake_.cancel();
  resp_wake_.cancel();
}

void Http1Upstream::CloseSocket() {
  if (up_ == nullptr) return;
  asio::error_code ignored;
  up_->stream.lowest_layer().close(ignored);
}

void Http1Upstream::Check(int64_t now_ms) {
  if (cancelled_) return;
  const bool read_late = phase_deadline_ms_ != 0 && now_ms >= phase_deadline_ms_;
  const bool write_late = body_deadline_ms_ != 0 && now_ms >= body_deadline_ms_;
  if (!read_late && !write_late) return;
  phase_deadline_ms_ = body_deadline_ms_ = 0;
  if (write_late && waiting_client_) {
    client_stalled_ = true;  // the request can never end: the upstream request is given up
  } else {
    stalled_ = true;
  }
  CloseSocket();
}

void Http1Upstream::BuildHead() {
  const ProxyStream& s = *s_;
  std::string_view authority, path = "/";
  bool has_length = false;
  std::string cookies;
  head_.clear();
  for (const Header& h : s.upstream_headers) {
    if (h.name == ":authority") authority = h.value;
    if (h.name == ":path" && !h.value.empty()) path = h.value;
  }
  head_.append(s.method).append(" ").append(path).append(" HTTP/1.1\r\nhost: ");
  head_.append(authority).append("\r\n");
  for (const Header& h : s.upstream_headers) {
    const std::string_view n = h.name;
    if (n.empty() || n[0] == ':' || n == "host" || n == "expect" || http::IsHopByHop(n)) continue;
    if (n == "cookie") {  // HTTP/2 may split it; HTTP/1.1 wants one line (RFC 9113 §8.2.3)
      if (!cookies.empty()) cookies.append("; ");
      cookies.append(h.value);
      continue;
    }
    if (n == "content-length") {
      if (has_length) continue;  // nghttp2 checked the values agree with the body
      has_length = true;
    }
    head_.append(n).append(": ").append(h.value).append("\r\n");
  }
  if (!cookies.empty()) head_.append("cookie: ").append(cookies).append("\r\n");
  const bool empty = s.req_eof && s.req_body.size() == 0;
  chunked_ = !has_length && !empty;
  if (chunked_) {
    head_.append("transfer-encoding: chunked\r\n");
  } else if (!has_length && ExpectsBody(s.method)) {
    head_.append("content-length: 0\r\n");
  }
  head_.append("\r\n");
  body_done_ = !chunked_ && empty;
}

asio::awaitable<void> Http1Upstream::Run(std::shared_ptr<Http1Upstream> self) {
  ProxyStream& s = *s_;
  for (const Header& h : s.upstream_headers) {
    if (!Clean(h.value)) {
      Fail(400, "header '" + h.name + "' holds CR, LF or NUL");
      s_.reset();
      co_return;
    }
  }
  BuildHead();
  proxy::ServiceState& svc = *s.svc;
  proxy::EndpointChooser chooser(svc, s.lane, svc.snapshot().FallbackToBase(s.lane));
  for (uint32_t attempt = 0;; ++attempt) {
    if (cancelled_) break;
    proxy::Choice choice = chooser.Next(worker_.HealthNow());
    if (choice.host < 0) {
      Fail(503, chooser.Refusal(worker_.HealthNow()));
      break;
    }
    s.choice = choice;
    s.exclude = choice.host;
    svc.OnStart(choice);
    s.counted = true;
    s.worker = &worker_;
    s.attempt_started_ms = worker_.HealthNow();
    Outcome o = co_await Attempt(attempt >= retries_);
    if (o != Outcome::kRetry && o != Outcome::kResend) break;
    worker_.stats().upstream_rq_retry.Inc();
    chooser.Failed(choice);
    if (o == Outcome::kResend) --attempt;  // the same attempt, on a fresh connection
    // The body bytes sent so far go again.
    s.req_body.Prepend(s.req_replay);
    s.req_replay.clear();
    body_done_ = false;
    if (!chunked_ && s.req_eof && s.req_body.size() == 0) body_done_ = true;
  }
  phase_deadline_ms_ = body_deadline_ms_ = 0;
  ReturnStorage();
  s_.reset();  // the stream may go now; it still holds this until it closes
}

void Http1Upstream::Fail(int status, std::string reason) {
  ProxyStream& s = *s_;
  if (s.down == nullptr) return;
  if (!s.resp_started) {
    s.down->OnUpstreamFailed(s, status, reason);
  } else {
    s.down->OnUpstreamClosed(s_, NGHTTP2_INTERNAL_ERROR, false);
  }
}

asio::awaitable<size_t> Http1Upstream::ReadMore(net::ClientStream& up) {
  auto [ec, n] = co_await up.async_read_some(asio::buffer(buf_.get() + wpos_, cap_ - wpos_),
                                             kNoThrow);
  if (ec) co_return 0;
  wpos_ += n;
  co_return n;
}

// One attempt on s.choice. Replies itself, except for kRetry and kResend.
asio::awaitable<Http1Upstream::Outcome> Http1Upstream::Attempt(bool last_try) {
  ProxyStream& s = *s_;
  proxy::ServiceState& svc = *s.svc;
  proxy::WorkerStats& stats = worker_.stats();
  const int host = s.choice.host;
  const proxy::EndpointInfo& ep = *svc.endpoint(host).info;
  const uint32_t attempt = ++attempt_;
  wrote_ = false;
  body_failed_ = false;
  stalled_ = false;
  client_stalled_ = false;
  std::shared_ptr<proxy::UpstreamConn> up;
  // Close the connection on every way out but the one that pools it.
  struct Closer {
    std::shared_ptr<proxy::UpstreamConn>& up;
    ~Closer() {
      asio::error_code ignored;
      if (up != nullptr) up->stream.lowest_layer().close(ignored);
    }
  } closer{up};

  // Resending is safe when the upstream never read the request, or when it
  // is idempotent and its body (what was sent of it) is still in hand.
  const bool resendable = idempotent_ && s.replayable;
  auto fail = [&](health::Outcome what, bool retryable, int status, std::string reason) {
    s.Finish(what);
    if (retryable && !last_try && !cancelled_) return Outcome::kRetry;
    Fail(status, std::move(reason));
    return Outcome::kFailed;
  };
  // A pooled connection the upstream closed before a byte of response:
  // once, on a fresh connection, outside upstream.retries (as for HTTP/1.1
  // clients, docs/lifecycle.md "Resending"); after the request was
  // written only when it is idempotent.
  auto resend_stale = [&](bool written) {
    const bool ok = reused_ && s.replayable && !resent_ && !cancelled_ &&
                    (!written || idempotent_);
    if (ok) {
      resent_ = true;
      s.Finish(health::Outcome::kAborted);  // says nothing of the endpoint
    }
    return ok;
  };

  uint64_t stale = 0;
  reused_ = !resent_ && svc.TakeIdle(host, &up, &stale);
  if (!reused_) up = std::make_shared<proxy::UpstreamConn>(worker_.io());
  up_ = up;  // the connection this attempt uses, for CloseSocket
  stats.upstream_cx_stale.Inc(stale);
  if (reused_) {
    stats.upstream_cx_reused.Inc();
  } else {
    // The connect timeout bounds the TLS handshake too (services with tls:);
    // a failed handshake or verification is a connect failure.
    phase_deadline_ms_ = proxy::Worker::NowMs() + timeouts_.connect.count();
    auto [ec] = co_await up->stream.lowest_layer().async_connect(ep.address, kNoThrow);
    std::string tls_failure;
    if (!ec && !cancelled_ && !stalled_ && svc.info().tls != nullptr) {
      tls_failure = co_await proxy::StartUpstreamTls(*up, *svc.info().tls, svc.endpoint(host));
    }
    phase_deadline_ms_ = 0;
    if (cancelled_) co_return Outcome::kFailed;
    if (!tls_failure.empty() && !stalled_) {
      std::string reason = "upstream " + ep.address_text + " " + tls_failure;
      co_return fail(health::Outcome::kConnectFail, true, 502, std::move(reason));
    }
    if (ec || stalled_) {
      if (stalled_) {
        co_return fail(health::Outcome::kTimeout, true, 504,
                       "upstream connect timeout to " + ep.address_text);
      }
      co_return fail(health::Outcome::kConnectFail, true, 502,
                     "upstream connect to " + ep.address_text + " failed: " + ec.message());
    }
    stats.upstream_cx_total.Inc();
    asio::error_code ignored;
    up->stream.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
  }

  // ---- Request head; the body follows from its own coroutine ----
  const health::Outcome lost = reused_ ? health::Outcome::kAborted : health::Outcome::kReset;
  phase_deadline_ms_ = proxy::Worker::NowMs() + timeouts_.idle.count();
  if (auto [ec, n] = co_await asio::async_write(up->stream, asio::buffer(head_), kNoThrow); ec) {
    phase_deadline_ms_ = 0;
    if (cancelled_) co_return Outcome::kFailed;
    if (resend_stale(false)) co_return Outcome::kResend;
    co_return fail(lost, true, 502,
                   "upstream " + ep.address_text + " reset while sending: " + ec.message());
  }
  wrote_ = true;
  if (!body_done_) {
    asio::co_spawn(worker_.io(), SendBody(shared_from_this(), up, attempt), asio::detached);
  }

  // ---- Response head; interim (1xx) responses are dropped ----
  if (parser_ == nullptr) {
    parser_ = worker_.response_parsers().Take(
        [] { return std::make_unique<http::Parser>(http::MessageKind::kResponse); });
  }
  http::Parser& rp = *parser_;
  Renew(rp);
  const bool head_request = s.method == "HEAD";
  rp.SetHeadRequest(head_request);
  if (buf_ == nullptr) {
    buf_ = worker_.response_buffers().Take();
    cap_ = worker_.response_buffers().size();
  }
  wpos_ = 0;
  // The response head is the stream's own deadline (timeouts.response); the
  // idle deadline holds only while the body is still being written.
  phase_deadline_ms_ = 0;
  auto protocol_error = [&](std::string reason) {
    // A broken response says as much as a reset; nothing is retried.
    return fail(health::Outcome::kReset, false, 502, std::move(reason));
  };
  size_t parsed = 0;
  for (bool have_head = false; !have_head;) {
    while (parsed < wpos_) {
      size_t used = 0;
      http::ParseStatus st = rp.FeedHead(buf_.get(), parsed, wpos_, &used);
      parsed += used;
      if (st == http::ParseStatus::kError) {
        co_return protocol_error(std::string("malformed upstream response: ") + rp.error());
      }
      if (st == http::ParseStatus::kNeedMore) break;
      if (rp.status_code() == 101) co_return protocol_error("protocol upgrade is not supported");
      if (rp.status_code() >= 200) {
        have_head = true;
        break;
      }
      rp.NextMessage();
      rp.SetHeadRequest(head_request);
    }
    if (have_head) break;
    if (wpos_ == cap_) {
      if (cap_ >= kMaxResponseHead) co_return protocol_error("upstream response head too large");
      // Slices are offsets: the head survives the move to a bigger buffer.
      auto bigger = std::unique_ptr<char[]>(new char[cap_ * 2]);
      std::memcpy(bigger.get(), buf_.get(), wpos_);
      buf_ = std::move(bigger);
      cap_ *= 2;
    }
    const size_t before = wpos_;
    const size_t n = co_await ReadMore(up->stream);
    if (cancelled_) co_return Outcome::kFailed;
    if (n == 0) {
      if (client_stalled_) {
        co_return fail(health::Outcome::kAborted, false, 408,
                       "the client sent no request body bytes within timeouts.idle");
      }
      if (stalled_) {
        co_return fail(health::Outcome::kTimeout, false, 504,
                       "upstream " + ep.address_text + " stopped reading the request body");
      }
      if (before > 0) co_return protocol_error("upstream " + ep.address_text + " closed mid-head");
      if (body_failed_ && !body_done_) {
        co_return fail(health::Outcome::kReset, false, 502,
                       "upstream " + ep.address_text + " reset while receiving the body");
      }
      if (resend_stale(true)) co_return Outcome::kResend;
      co_return fail(lost, resendable, 502,
                     "upstream " + ep.address_text + " closed before responding");
    }
  }

  // ---- The final head goes to the client ----
  const int status = rp.status_code();
  const bool bodiless = head_request || status == 204 || status == 304 || rp.body_done();
  const bool chunked = !bodiless && rp.chunked();
  const bool close_delimited = !bodiless && !chunked && !rp.has_content_length();
  const bool draining = SaysDraining(rp, buf_.get());
  s.status = status;
  s.draining = draining;
  PassHead(rp, bodiless);

  // ---- Body, as DATA, no more than one window ahead of the client ----
  size_t at = parsed;
  bool done = bodiless;
  bool broken = false;
  http::BodyPieces pieces;
  while (!done) {
    bool got = false;
    while (at < wpos_ && !done) {
      size_t used = 0;
      pieces.count = 0;
      const size_t avail = wpos_ - at;
      http::ParseStatus st = rp.FeedBody(buf_.get() + at, chunked ? std::min(avail, kDecodeSlice)
                                                                  : avail,
                                         &used, chunked ? &pieces : nullptr);
      if (st == http::ParseStatus::kError) {
        broken = true;
        break;
      }
      if (chunked) {
        for (int i = 0; i < pieces.count; ++i) {
          s.resp_body.Append(reinterpret_cast<const uint8_t*>(pieces.piece[i].data()),
                             pieces.piece[i].size());
          got = got || !pieces.piece[i].empty();
        }
      } else if (used > 0) {
        s.resp_body.Append(reinterpret_cast<const uint8_t*>(buf_.get() + at), used);
        got = true;
      }
      at += used;
      done = st == http::ParseStatus::kBodyComplete;
      if (used == 0 && !done) broken = true;  // never: the parser takes what it is fed
      if (broken) break;
    }
    if (broken) break;
    if (got && s.down != nullptr) s.down->OnResponseData(s);
    if (done) break;
    if (at < wpos_) continue;
    // Flow control: the client takes what is queued before more is read.
    while (s.resp_body.size() >= size_t(kStreamWindow) && !cancelled_) {
      resp_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await resp_wake_.async_wait(kNoThrow);
    }
    if (cancelled_) co_return Outcome::kFailed;
    at = wpos_ = 0;
    phase_deadline_ms_ = proxy::Worker::NowMs() + timeouts_.idle.count();
    const size_t n = co_await ReadMore(up->stream);
    phase_deadline_ms_ = 0;
    if (cancelled_) co_return Outcome::kFailed;
    if (n == 0) {
      if (!stalled_ && rp.FeedEof() == http::ParseStatus::kBodyComplete) {
        done = true;
        break;
      }
      broken = true;
      break;
    }
  }
  if (broken) {
    // Mid-response: the client's stream is reset, not ended as if complete.
    s.Finish();
    Fail(502, "");
    co_return Outcome::kFailed;
  }
  s.resp_eof = true;
  if (s.down != nullptr) s.down->OnResponseEnd(s);
  s.Finish();
  // Bytes after the end of the response are not the next one's; a request
  // whose body did not all go up leaves the connection mid-message.
  const bool reusable = rp.keep_alive() && !close_delimited && at == wpos_ && body_done_ &&
                        !draining && !cancelled_;
  if (reusable) {
    up_.reset();  // pooled: another request may take it; CloseSocket must not reach it
    svc.PutIdle(host, std::move(up), proxy::Worker::NowMs(), max_idle_);
  } else {
    body_done_ = true;  // client bytes still coming are dropped
    body_wake_.cancel();
  }
  co_return Outcome::kDone;
}

void Http1Upstream::PassHead(const http::Parser& rp, bool bodiless) {
  ProxyStream& s = *s_;
  const char* base = buf_.get();
  std::array<std::string_view, proxy::kMaxConnectionLines> connection{};
  size_t lines = 0;
  for (const http::HeaderSlice& h : rp.headers()) {
    if (http::IEquals(h.name.In(base), "connection") && lines < connection.size()) {
      connection[lines++] = h.value.In(base);
    }
  }
  const std::span<const std::string_view> conn{connection.data(), lines};
  const bool lists = proxy::ListsHeaders(conn);
  const int status = rp.status_code();
  s.resp_headers.clear();
  s.resp_headers.reserve(rp.headers().size());
  bool have_length = false;
  for (const http::HeaderSlice& h : rp.headers()) {
    const std::string_view name = h.name.In(base);
    if (http::IsHopByHop(name) || http::IEquals(name, proxy::kDrainingHeader)) continue;
    if (lists && proxy::DroppedByConnection(conn, name)) continue;
    if (http::IEquals(name, "content-length")) {
      // The parsed length, once; none for 204 or a chunked body.
      if (have_length || status == 204 || rp.chunked() || !rp.has_content_length()) continue;
      have_length = true;
      s.resp_headers.push_back({"content-length", std::to_string(rp.content_length())});
      continue;
    }
    s.resp_headers.push_back({Lower(name), std::string(http::Trim(h.value.In(base)))});
  }
  if (bodiless) s.resp_eof = true;
  if (s.down != nullptr) s.down->OnResponseHead(s);
}

asio::awaitable<void> Http1Upstream::SendBody(std::shared_ptr<Http1Upstream> self,
                                              std::shared_ptr<proxy::UpstreamConn> up,
                                              uint32_t attempt) {
  std::shared_ptr<ProxyStream> keep = s_;
  if (keep == nullptr) co_return;
  ProxyStream& s = *keep;
  // timeouts.response counts from the end of the request, as for HTTP/1.1
  // clients; meanwhile each wait for the client or the upstream is bounded
  // by timeouts.idle.
  if (!s.resp_started) s.deadline_ms = 0;
  for (;;) {
    if (cancelled_ || attempt != attempt_ || body_done_) co_return;
    size_t avail = s.req_body.size();
    if (avail == 0 && !s.req_eof) {
      body_deadline_ms_ = proxy::Worker::NowMs() + timeouts_.idle.count();
      waiting_client_ = true;
      body_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await body_wake_.async_wait(kNoThrow);
      if (attempt != attempt_) co_return;
      waiting_client_ = false;
      body_deadline_ms_ = 0;
      continue;
    }
    const size_t n = std::min(avail, kBodyWrite);
    chunk_.resize(n);
    s.req_body.Take(reinterpret_cast<uint8_t*>(chunk_.data()), n);
    if (n > 0 && s.replayable) {
      if (s.req_replay.size() + n <= kMaxReplayBytes) {
        s.req_replay.append(chunk_);
      } else {
        s.replayable = false;
        s.req_replay.clear();
      }
    }
    const bool last = s.req_eof && s.req_body.size() == 0;
    char size_line[24];
    size_t size_len = 0;
    std::array<asio::const_buffer, 4> iov;
    size_t parts = 0;
    if (chunked_ && n > 0) {
      size_len = size_t(std::snprintf(size_line, sizeof(size_line), "%zx\r\n", n));
      iov[parts++] = asio::buffer(size_line, size_len);
    }
    if (n > 0) iov[parts++] = asio::buffer(chunk_);
    if (chunked_ && n > 0) iov[parts++] = asio::buffer("\r\n", 2);
    if (chunked_ && last) iov[parts++] = asio::buffer("0\r\n\r\n", 5);  // trailers dropped
    body_deadline_ms_ = proxy::Worker::NowMs() + timeouts_.idle.count();
    auto [ec, w] = co_await asio::async_write(up->stream, std::span(iov.data(), parts), kNoThrow);
    if (attempt != attempt_) co_return;  // a later attempt took over
    body_deadline_ms_ = 0;
    if (ec) {
      // An upstream that stopped reading may still answer: the response side decides.
      body_failed_ = true;
      co_return;
    }
    if (n > 0 && s.down != nullptr) s.down->Consumed(s, n);
    if (last) {
      body_done_ = true;
      if (!s.resp_started) s.deadline_ms = proxy::Worker::NowMs() + timeouts_.response.count();
      co_return;
    }
  }
}

}  // namespace graymesh::h2
