#include "proxy/session.h"
#include "proxy/upstream_tls.h"

#include <asio/bind_allocator.hpp>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <tuple>

#include "http/headers.h"
#include "http/reply.h"
#include "lane/propagation.h"
#include "proxy/chooser.h"
#include "proxy/target.h"

namespace graymesh::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// Gives the idle wait its memory from the session (Session::WaitSlot).
template <typename T>
struct SlotAllocator {
  using value_type = T;
  explicit SlotAllocator(Session::WaitSlot* slot) : slot(slot) {}
  template <typename U>
  SlotAllocator(const SlotAllocator<U>& other) : slot(other.slot) {}  // NOLINT: rebinding
  T* allocate(size_t n) { return static_cast<T*>(slot->Allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t) { slot->Deallocate(p); }
  friend bool operator==(SlotAllocator a, SlotAllocator b) { return a.slot == b.slot; }
  Session::WaitSlot* slot;
};
constexpr size_t kBodyChunk = 16 * 1024;
constexpr size_t kMaxResponseHead = 64 * 1024;

bool Idempotent(llhttp_method_t m) {
  return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE ||
         m == HTTP_PUT || m == HTTP_DELETE;
}

// Re-initialises a parser in place, llhttp state included: NextMessage()
// only carries on after a complete message, not after an error, an upgrade
// or a message cut short.
void Renew(http::Parser& p, http::MessageKind kind) {
  std::destroy_at(&p);
  std::construct_at(&p, kind);
}

// True when the bytes the upstream has sent so far start an interim (1xx)
// response: it still expects the rest of the request body.
bool InterimResponseWaiting(asio::ip::tcp::socket& up) {
  char b[12];
  ssize_t n = ::recv(up.native_handle(), b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
  return n >= 10 && std::memcmp(b, "HTTP/1.", 7) == 0 && b[9] == '1';
}

// A draining sidecar marks its responses (docs/design.md, lossless offline):
// its callers stop choosing it at once, without waiting for the registry.
bool SaysDraining(const http::Parser& rp, const char* base) {
  for (const http::HeaderSlice& h : rp.headers()) {
    std::string_view name = h.name.In(base);
    if (name.size() == kDrainingHeader.size() && http::IEquals(name, kDrainingHeader)) {
      return http::Trim(h.value.In(base)) == "1";
    }
  }
  return false;
}

std::string_view StripPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(1, close - 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

}  // namespace

Session::Session(Worker& worker, const ListenerInfo& listener, net::ClientStream client)
    : worker_(worker),
      listener_(listener),
      client_(std::move(client)),
      in_(0),
      up_in_(0) {
  asio::error_code ec;
  client_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ec);
  client_.lowest_layer().non_blocking(true, ec);  // StreamBody takes what is there without waiting
  auto remote = client_.lowest_layer().remote_endpoint(ec);
  if (!ec) client_ip_ = remote.address().to_string();
  worker_.Register(this);
  worker_.stats().downstream_cx_total.Inc();
  worker_.stats().downstream_cx_active.Add(1);
}

Session::~Session() {
  worker_.Unregister(this);
  worker_.stats().downstream_cx_active.Add(-1);
}

void Session::SetDeadline(Timeout kind, config::Millis after) {
  timeout_ = kind;
  deadline_ms_ = Worker::NowMs() + after.count();
}

void Session::CheckDeadline(int64_t now_ms) {
  if (timeout_ == Timeout::kNone || now_ms < deadline_ms_) return;
  expired_ = timeout_;
  timeout_ = Timeout::kNone;
  asio::error_code ignored;
  client_.cancel(ignored);
  if (upstream_ != nullptr) upstream_->cancel(ignored);
}

void Session::CloseIfIdle() {
  if (!idle_) return;
  expired_ = Timeout::kIdle;
  asio::error_code ignored;
  client_.cancel(ignored);
}

asio::awaitable<void> Session::Run() {
  // A response written before the drain began did not say `connection:
  // close`, so its client may send another request at once: it is served (the
  // next response says close) until this side's idle connections are being
  // closed (Worker::CloseSide closes the ones left idle).
  while (!close_after_) {
    in_.Compact();
    if (in_.readable() == 0) {
      // Idle: waiting here, not in ReadHead, keeps only this frame and a
      // small one alive, and no buffer; the first bytes bring one.
      expired_ = Timeout::kNone;
      idle_ = true;
      SetDeadline(Timeout::kIdle, worker_.config().timeouts.idle);
      // Over TLS, bytes may already sit decrypted in the stream: a read
      // comes first, and its would_block means the engine needs more.
      bool wait = !client_.is_tls();
      FirstBytes got = FirstBytes::kNone;
      while (got == FirstBytes::kNone) {
        if (wait) {
          auto [ec] = co_await client_.lowest_layer().async_wait(asio::socket_base::wait_read,
            asio::bind_allocator(SlotAllocator<void>(&wait_slot_), kNoThrow));
          if (ec) break;  // cancelled: idle timeout or drain
        }
        wait = true;
        got = ReadFirstBytes();
      }
      if (got != FirstBytes::kRead) break;
      idle_ = false;
    }
    if (!co_await ReadHead()) break;
    if (worker_.closing(SideOf(listener_.cfg))) close_after_ = true;
  }
  if (client_.is_tls()) co_await CloseTls();
  asio::error_code ignored;
  client_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  client_.lowest_layer().close(ignored);
}

asio::awaitable<void> Session::Refuse(int status, std::string_view reason) {
  close_after_ = true;
  co_await SendError(status, reason);
}

http::Parser& Session::ResponseParser() {
  if (resp_parser_ == nullptr) {
    resp_parser_ = worker_.response_parsers().Take(
        [] { return std::make_unique<http::Parser>(http::MessageKind::kResponse); });
  }
  // A new one, a pooled one or the last attempt's: each may have stopped anywhere.
  Renew(*resp_parser_, http::MessageKind::kResponse);
  return *resp_parser_;
}

void Session::TakeRequestBuffer() {
  if (in_.capacity() == 0) {
    in_.Adopt(worker_.request_buffers().Take(), worker_.request_buffers().size());
  }
}

void Session::ReturnRequestBuffer() {
  if (in_.capacity() == 0 || in_.readable() > 0) return;  // pipelined bytes stay
  size_t capacity = 0;
  std::unique_ptr<char[]> bytes = in_.Release(&capacity);
  worker_.request_buffers().Give(std::move(bytes), capacity);
}

void* Session::WaitSlot::Allocate(size_t n) {
  if (used_ || n > sizeof(bytes_)) return ::operator new(n);
  used_ = true;
  return bytes_;
}

void Session::WaitSlot::Deallocate(void* p) {
  if (p == bytes_) used_ = false;
  else ::operator delete(p);
}

Session::FirstBytes Session::ReadFirstBytes() {
  TakeRequestBuffer();
  asio::error_code ec;
  size_t n = client_.read_some(asio::buffer(in_.write_ptr(), in_.writable()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ReturnRequestBuffer();
    return FirstBytes::kNone;
  }
  if (ec || n == 0) return FirstBytes::kClosed;
  in_.Commit(n);
  return FirstBytes::kRead;
}

void Session::SwapScratch(RequestScratch& s) {
  out_.swap(s.out);
  down_.swap(s.down);
  codings_.swap(s.codings);
  traceparent_.swap(s.traceparent);
  carried_.swap(s.carried);
  baggage_buf_.swap(s.baggage_buf);
  restored_.swap(s.restored);
  iov_.swap(s.iov);
  view_headers_.swap(s.view_headers);
}

void Session::TakeScratch() {
  if (scratch_ != nullptr) return;
  scratch_ = worker_.request_scratch().Take([] { return std::make_unique<RequestScratch>(); });
  SwapScratch(*scratch_);
}

void Session::ReturnScratch() {
  if (scratch_ == nullptr) return;
  SwapScratch(*scratch_);
  worker_.request_scratch().Give(std::move(scratch_));
}

void Session::ReturnResponseStorage() {
  if (resp_parser_ != nullptr) worker_.response_parsers().Give(std::move(resp_parser_));
  if (up_in_.capacity() > 0) {
    size_t capacity = 0;
    std::unique_ptr<char[]> bytes = up_in_.Release(&capacity);
    worker_.response_buffers().Give(std::move(bytes), capacity);
  }
}

asio::awaitable<void> Session::SendError(int status, std::string_view reason) {
  worker_.stats().CountError(status);
  replied_status_ = status;
  close_after_ = close_after_ || status == 400 || status == 408 || status == 413 || status == 431;
  // From the drain on, the proxy's own replies say what relayed ones say
  // (relay.cc, BuildDownstreamHead): close, and on the inbound side, draining.
  if (worker_.draining()) close_after_ = true;
  const bool draining_mark =
      worker_.announces_drain() && listener_.cfg.kind == config::ListenerKind::kInbound;
  std::string reply = http::ErrorReply(status, reason, close_after_, draining_mark);
  SetDeadline(Timeout::kStream, cfg().timeouts.idle);
  auto [ec, n] = co_await asio::async_write(client_, asio::buffer(reply), kNoThrow);
  if (ec) close_after_ = true;
}

int Session::HeadError() {
  switch (req_parser_.error_status()) {
    case 431:
      reply_reason_ = "too many request headers";
      return 431;
    case 505:
      reply_reason_ = std::string(req_parser_.error()) + ": the proxy speaks HTTP/1.1 and HTTP/1.0";
      return 505;
    default:
      reply_reason_ = std::string("malformed request: ") + req_parser_.error();
      return 400;
  }
}

// Reads and interprets one request head, whose first bytes are in in_, then
// forwards the request. Returns false when the connection should close.
asio::awaitable<bool> Session::ReadHead() {
  // Copies, not a reference: a new snapshot may replace the configuration
  // while this connection waits for its next request.
  const config::Timeouts timeouts = worker_.config().timeouts;
  const size_t max_head = worker_.config().limits.max_header_bytes;
  expired_ = Timeout::kNone;
  req_parser_.NextMessage();
  size_t parsed = 0;
  SetDeadline(Timeout::kHeader, timeouts.header_read);

  for (;;) {
    if (in_.wpos() > parsed) {
      size_t used = 0;
      http::ParseStatus st = req_parser_.FeedHead(in_.data(), parsed, in_.wpos(), &used);
      parsed += used;
      if (st == http::ParseStatus::kHeadComplete) break;
      if (st == http::ParseStatus::kError) {
        const int status = HeadError();
        co_await SendError(status, reply_reason_);
        co_return false;
      }
      if (parsed > max_head) {
        co_await SendError(431, "request head larger than the limit");
        co_return false;
      }
    }
    if (in_.writable() == 0) {
      in_.Grow(std::max(in_.capacity() * 2, max_head + 1024));
    }
    auto [ec, n] = co_await client_.async_read_some(
        asio::buffer(in_.write_ptr(), in_.writable()), kNoThrow);
    if (ec || n == 0) {
      if (expired_ == Timeout::kHeader) {
        co_await SendError(408, "request head not received in time");
      }
      co_return false;
    }
    in_.Commit(n);
  }
  ClearDeadline();
  worker_.stats().downstream_rq_total.Inc();
  if (worker_.draining()) worker_.NoteDrainingRequest(listener_.cfg);  // not quiet yet

  Request rq;
  rq.head_end = parsed;
  replied_status_ = 0;
  const auto started = worker_.recorder().Begin();
  pinned_ = worker_.upstreams().snapshot_ptr();
  TakeScratch();
  co_await Handle(rq);
  RecordRequest(rq, started);
  pinned_.reset();
  ReturnScratch();
  ReturnResponseStorage();
  // llhttp stops for good after a request with Upgrade; the proxy ignored the
  // upgrade, so the next request gets a fresh parser.
  if (rq.upgrade) Renew(req_parser_, http::MessageKind::kRequest);
  if (!rq.consumed) {
    // Answered without forwarding: skip the request, or close when part of
    // its body is still on the wire.
    in_.Consume(rq.head_end + rq.body_buffered);
    if (!rq.body_in_hand) close_after_ = true;
  }
  // Between requests the connection holds no header slots and, unless
  // pipelined bytes wait in it, no buffer.
  req_parser_.NextMessage();
  ReturnRequestBuffer();
  co_return !close_after_;
}

asio::awaitable<void> Session::Handle(Request& rq) {
  const config::Config& cfg = this->cfg();
  const size_t parsed = rq.head_end;
  // ---- Interpret the head: one pass over the headers ----
  const char* base = in_.data();
  rq.method = req_parser_.method();
  if (rq.method == HTTP_CONNECT) {
    co_await Refuse(501, "CONNECT is not supported: the proxy forwards HTTP requests, it opens "
                         "no tunnels");
    co_return;
  }
  rq.http10 = req_parser_.version_minor() == 0;
  rq.keep_alive = req_parser_.keep_alive() && !rq.http10;
  rq.idempotent = Idempotent(rq.method);
  std::string_view host;
  bool too_many_connection_lines = false;
  const std::vector<std::string>& lane_aliases = cfg.node.lane_headers;
  for (const http::HeaderSlice& h : req_parser_.headers()) {
    std::string_view name = h.name.In(base);
    std::string_view value = http::Trim(h.value.In(base));
    if (!lane_aliases.empty() && rq.header_lane.empty()) {
      for (const std::string& alias : lane_aliases) {
        if (http::IEquals(name, alias)) rq.header_lane = value;
      }
    }
    switch (name.size()) {
      case 4:
        if (http::IEquals(name, "host")) host = value, ++rq.host_lines;
        break;
      case 6:
        if (http::IEquals(name, "expect") && http::IEquals(value, "100-continue")) {
          rq.expect_continue = true;
        }
        break;
      case 10:
        if (http::IEquals(name, "connection")) {
          if (rq.connection_lines == kMaxConnectionLines) {
            too_many_connection_lines = true;
          } else {
            rq.connection[rq.connection_lines++] = value;
          }
        }
        break;
      case 7:
        if (http::IEquals(name, "baggage")) {
          rq.baggage = value;
        } else if (http::IEquals(name, "upgrade")) {
          rq.upgrade = true;
        }
        break;
      case 11:
        if (http::IEquals(name, "traceparent")) rq.traceparent = value;
        break;
      case 15:
        if (http::IEquals(name, "x-forwarded-for")) {
          rq.xff = value;
        } else if (http::IEquals(name, lane::kLaneHeader)) {
          rq.header_lane = value;
        }
        break;
      default:
        break;
    }
  }
  if (too_many_connection_lines) {
    co_await Refuse(400, "more than " + std::to_string(kMaxConnectionLines) +
                             " Connection header lines");
    co_return;
  }
  rq.connection_lists_headers = ListsHeaders(rq.ConnectionLines());
  if (const char* bad = ResolveTarget(rq, host); bad != nullptr) {
    co_await Refuse(400, bad);
    co_return;
  }

  if (req_parser_.has_content_length() && cfg.limits.max_body_bytes != 0 &&
      req_parser_.content_length() > cfg.limits.max_body_bytes) {
    co_await SendError(413, "request body larger than the limit");
    close_after_ = true;
    co_return;
  }

  // ---- Body bytes that came with the head ----
  if (!req_parser_.body_done()) {
    size_t used = 0;
    http::ParseStatus st = req_parser_.FeedBody(in_.data() + parsed, in_.wpos() - parsed, &used,
                                                nullptr);
    if (st == http::ParseStatus::kError) {
      co_await SendError(400, std::string("malformed request body: ") + req_parser_.error());
      close_after_ = true;
    co_return;
    }
    rq.body_buffered = used;
    rq.body_seen = used;
    rq.body_in_hand = st == http::ParseStatus::kBodyComplete;
    if (cfg.limits.max_body_bytes != 0 && rq.body_seen > cfg.limits.max_body_bytes) {
      co_await SendError(413, "request body larger than the limit");
      close_after_ = true;
    co_return;
    }
  }

  // ---- Choose the service ----
  const Snapshot& snap = this->snap();
  std::string_view service_host = StripPort(rq.authority);
  switch (listener_.cfg.kind) {
    case config::ListenerKind::kGateway: {
      std::string_view path = rq.target.substr(0, rq.target.find_first_of("?#"));
      // absolute-form without a path, or OPTIONS *: routed as the root
      if (path.empty() || path == "*") path = "/";
      rq.service = snap.MatchRoute(service_host, path);
      if (rq.service < 0) {
        co_await SendError(404, "no route for this host and path");
        co_return;
      }
      break;
    }
    case config::ListenerKind::kOutbound:
      rq.service = snap.FindService(service_host);
      if (rq.service < 0) {
        co_await SendError(404, "unknown service '" + std::string(service_host) + "'");
        co_return;
      }
      break;
    case config::ListenerKind::kInbound:
      rq.service = snap.FindService(listener_.cfg.service);
      break;
    case config::ListenerKind::kTcp:
      break;  // served by TcpSession
  }

  if (rq.service < 0) {
    co_await SendError(503, "service not configured");
    co_return;
  }
  if (!rq.keep_alive) close_after_ = true;
  DecideLane(rq);
  NoteForRecord(rq);
  BuildUpstreamHead(rq);
  co_await Forward(rq);
}

const char* Session::ResolveTarget(Request& rq, std::string_view host) {
  std::string_view target = req_parser_.target().In(in_.data());
  rq.target = target;
  rq.authority = host;
  AbsoluteTarget abs;
  bool absolute = false;
  if (!target.empty() && target.front() == '/') {
    // origin-form: Host names the authority
  } else if (SplitAbsoluteForm(target, &abs)) {
    // RFC 9112 §3.2.2: the target's authority wins over Host and replaces it.
    if (!ValidAuthority(abs.authority)) {
      return "the authority in the request-target is empty or invalid";
    }
    rq.authority = abs.authority;
    rq.target = abs.rest;
    absolute = true;
  } else if (!(target == "*" && rq.method == HTTP_OPTIONS)) {
    return "the request-target is neither a path nor an http(s) URI";
  }
  if (rq.host_lines > 1) return "more than one Host header";
  if (rq.host_lines == 0) {
    if (!rq.http10) return "HTTP/1.1 request without Host";
    return nullptr;
  }
  // An empty Host is what a client sends with absolute-form when it has no
  // better value; with origin-form the request would name no authority.
  if (host.empty() ? !absolute : !ValidAuthority(host)) {
    return host.empty() ? "empty Host header" : "invalid Host header";
  }
  return nullptr;
}

asio::awaitable<void> Session::Forward(Request& rq) {
  if (ForwardsOverHttp2(rq)) co_return co_await ForwardH2(rq);
  const config::Config& cfg = this->cfg();
  settings_ = {.timeouts = cfg.timeouts,
               .max_body_bytes = cfg.limits.max_body_bytes,
               .max_idle_per_endpoint = cfg.upstream.max_idle_per_endpoint,
               .retries = cfg.upstream.retries};
  // The service state of the pinned snapshot: the worker may have moved on to
  // a newer one since the head was read only if a co_await came between.
  std::shared_ptr<ServiceState> svc = worker_.upstreams().service(rq.service);
  const bool fallback = snap().FallbackToBase(rq.lane);
  EndpointChooser chooser(*svc, rq.lane, fallback);
  for (int attempt = 0;; ++attempt) {
    Choice choice = chooser.Next(worker_.HealthNow());
    if (choice.host < 0) {
      // Built before the co_await: GCC 12 mis-frees temporaries of an
      // expression inside a co_await's arguments.
      std::string reason = chooser.Refusal(worker_.HealthNow());
      co_await SendError(503, reason);
      co_return;
    }
    bool last_try = attempt >= int(settings_.retries);
    Outcome outcome = co_await TryEndpoint(rq, *svc, choice, last_try);
    if (outcome == Outcome::kReply) {
      co_await SendError(reply_status_, reply_reason_);
      co_return;
    }
    if (outcome != Outcome::kRetry && outcome != Outcome::kResend) co_return;
    worker_.stats().upstream_rq_retry.Inc();
    chooser.Failed(choice);
    if (outcome == Outcome::kResend) --attempt;  // the same attempt, on a fresh connection
  }
}

// One attempt on one endpoint. Replies with an error itself, except when it
// returns kRetry (nothing reached the client and the request may be resent).
asio::awaitable<Session::Outcome> Session::TryEndpoint(Request& rq, ServiceState& svc,
                                                       Choice choice, bool last_try) {
  const int host = choice.host;
  const RequestSettings& cfg = settings_;
  WorkerStats& stats = worker_.stats();
  svc.OnStart(choice);
  // Every way out of this attempt reports its result, once.
  struct Finish {
    Worker& w;
    ServiceState& s;
    Choice c;
    net::ClientStream** up;
    int64_t started_ms;
    health::AttemptResult result{.outcome = health::Outcome::kAborted};
    ~Finish() {
      const int64_t now = w.HealthNow();
      if (result.latency_ms == 0) result.latency_ms = now - started_ms;
      s.Report(c, result, now, w.stats());
      *up = nullptr;
    }
  } finish{worker_, svc, choice, &upstream_, worker_.HealthNow()};
  auto outcome = [&](health::Outcome o) { finish.result.outcome = o; };

  // Resending is safe when the request never reached the upstream, or when
  // it is idempotent and its whole body is still in hand.
  const bool resendable = rq.idempotent && rq.body_in_hand;
  // Plain functions, not coroutines: the reply is sent by Forward (kReply),
  // so this frame holds no awaitable or reason string per way out (it was
  // 1.6 KB with them; frames are pooled per size class, session_frames.h).
  auto fail = [&](bool retryable, int status, std::string reason) {
    if (retryable && !last_try) return Outcome::kRetry;
    reply_status_ = status;
    reply_reason_ = std::move(reason);
    return Outcome::kReply;
  };

  std::shared_ptr<UpstreamConn> conn;
  uint64_t stale = 0;
  bool reused = !rq.resent && svc.TakeIdle(host, &conn, &stale);  // a resend connects anew
  if (!reused) conn = std::make_shared<UpstreamConn>(worker_.io());
  net::ClientStream& up = conn->stream;
  upstream_ = &up;
  // Once, on a fresh connection, outside upstream.retries: a reused connection
  // the upstream closed before a byte of response (its idle close raced our
  // request; RFC 9112 §9.3.1; docs/lifecycle.md, "Resending"). Any method when
  // the write itself failed (the peer had closed: it never read the request);
  // after the request was written, only an idempotent one, since the peer may
  // have read and acted on it before it closed or died.
  auto resend_stale = [&](bool written) {
    const bool ok = reused && rq.body_in_hand && !rq.resent && (!written || rq.idempotent);
    if (ok) rq.resent = true;
    return ok;
  };
  stats.upstream_cx_stale.Inc(stale);
  const EndpointInfo& ep = *svc.endpoint(host).info;
  rq.lane_served = ep.lane;
  rq.endpoint = ep.address_text;
  if (reused) {
    stats.upstream_cx_reused.Inc();
  } else {
    // The connect timeout bounds the TLS handshake too; a failed handshake
    // or verification is a connect failure (retried, counted against the
    // endpoint).
    SetDeadline(Timeout::kConnect, cfg.timeouts.connect);
    auto [ec] = co_await up.lowest_layer().async_connect(ep.address, kNoThrow);
    std::string tls_failure;
    if (!ec) {
      asio::error_code ignored;
      up.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
      if (svc.info().tls != nullptr) {
        tls_failure = co_await StartUpstreamTls(*conn, *svc.info().tls, svc.endpoint(host));
      }
    }
    ClearDeadline();
    if (ec || !tls_failure.empty()) {
      if (expired_ == Timeout::kConnect) {
        outcome(health::Outcome::kTimeout);
        expired_ = Timeout::kNone;
        co_return fail(true, 504, "upstream connect timeout to " + ep.address_text);
      }
      outcome(health::Outcome::kConnectFail);
      std::string reason = "upstream ";
      if (ec) {
        reason.append("connect to ").append(ep.address_text).append(" failed: ");
        reason.append(ec.message());
      } else {
        reason.append(ep.address_text).append(" ").append(tls_failure);
      }
      co_return fail(true, 502, std::move(reason));
    }
    stats.upstream_cx_total.Inc();
  }

  // ---- Request: head and the body bytes already here, in one write ----
  SetDeadline(Timeout::kStream, cfg.timeouts.idle);
  std::array<asio::const_buffer, 2> head_and_body{
      asio::buffer(out_), asio::buffer(in_.data() + rq.head_end, rq.body_buffered)};
  // A pooled connection the upstream closed just as it was taken says nothing
  // of the endpoint (keep-alive races its idle timeout): not counted against it.
  const health::Outcome lost = reused ? health::Outcome::kAborted : health::Outcome::kReset;
  asio::error_code sent_ec;
  if (size_t sent = up.write_now(head_and_body, sent_ec);
      !sent_ec && sent < asio::buffer_size(head_and_body)) {
    std::tie(sent_ec, std::ignore) =
        co_await asio::async_write(up, net::Unwritten(head_and_body, sent), kNoThrow);
  }
  if (const asio::error_code& ec = sent_ec; ec) {
    outcome(lost);
    if (resend_stale(false)) co_return Outcome::kResend;
    co_return fail(resendable, 502,
                   "upstream " + ep.address_text + " reset while sending: " + ec.message());
  }
  if (!rq.consumed) {  // a retry resends the same bytes: they left in_ once
    in_.Consume(rq.head_end + rq.body_buffered);
    rq.consumed = true;
  }

  // ---- The rest of a streamed body ----
  // An upstream may answer before the body has all arrived (413, 401...):
  // that answer goes to the client, and the connection closes after it.
  bool body_cut = false;
  if (!rq.body_in_hand) {
    BodyEnd end = co_await StreamBody(rq, up);
    if (end == BodyEnd::kFailed) co_return Outcome::kFailed;
    if (end == BodyEnd::kEarly) {
      body_cut = true;
      close_after_ = true;
    }
  }

  // ---- Response head; interim (1xx) responses are dropped ----
  // A fresh parser each attempt: the last one may have stopped anywhere.
  http::Parser& rp = ResponseParser();
  if (up_in_.capacity() == 0) {
    up_in_.Adopt(worker_.response_buffers().Take(), worker_.response_buffers().size());
  }
  up_in_.Clear();
  rp.SetHeadRequest(rq.method == HTTP_HEAD);
  SetDeadline(Timeout::kResponse, cfg.timeouts.response);
  // A response the proxy cannot frame leaves nothing trustworthy on either
  // connection: both close (the upstream one is simply not pooled).
  auto protocol_error = [&](std::string reason) {
    outcome(health::Outcome::kReset);  // a broken response says as much as a reset
    close_after_ = true;
    return fail(false, 502, std::move(reason));
  };
  size_t parsed = 0;
  for (bool have_head = false; !have_head;) {
    while (parsed < up_in_.wpos()) {
      size_t used = 0;
      http::ParseStatus st = rp.FeedHead(up_in_.data(), parsed, up_in_.wpos(), &used);
      parsed += used;
      if (st == http::ParseStatus::kError) {
        co_return protocol_error(std::string("malformed upstream response: ") + rp.error());
      }
      if (st == http::ParseStatus::kNeedMore) break;
      int code = rp.status_code();
      if (code == 101) co_return protocol_error("protocol upgrade is not supported");
      if (code >= 200) {
        have_head = true;
        break;
      }
      rp.NextMessage();
      rp.SetHeadRequest(rq.method == HTTP_HEAD);
    }
    if (have_head) break;
    if (up_in_.writable() == 0) {
      if (up_in_.capacity() >= kMaxResponseHead) {
        co_return protocol_error("upstream response head too large");
      }
      up_in_.Grow(up_in_.capacity() * 2);
    }
    auto [ec, n] = co_await up.async_read_some(
        asio::buffer(up_in_.write_ptr(), up_in_.writable()), kNoThrow);
    if (ec || n == 0) {
      if (expired_ == Timeout::kResponse) {
        outcome(health::Outcome::kTimeout);
        expired_ = Timeout::kNone;
        close_after_ = true;
        co_return fail(false, 504, "upstream " + ep.address_text + " response timeout");
      }
      if (up_in_.wpos() > 0) {
        co_return protocol_error("upstream " + ep.address_text + " closed mid-head");
      }
      outcome(body_cut ? health::Outcome::kReset : lost);
      if (body_cut) {
        co_return fail(false, 502,
                       "upstream " + ep.address_text + " reset while receiving the body");
      }
      if (resend_stale(true)) co_return Outcome::kResend;
      co_return fail(resendable, 502,
                     "upstream " + ep.address_text + " closed before responding");
    }
    up_in_.Commit(n);
  }
  ClearDeadline();
  finish.result = {.outcome = health::Outcome::kOk,
                   .status = uint16_t(rp.status_code()),
                   .latency_ms = std::max<int64_t>(1, worker_.HealthNow() - finish.started_ms),
                   .draining = SaysDraining(rp, up_in_.data())};

  bool reusable = false;
  replied_status_ = rp.status_code();
  bool ok = co_await RelayResponse(rq, up, parsed, &reusable);
  // A draining endpoint closes this connection itself; it is not pooled.
  if (ok && reusable && !body_cut && !finish.result.draining) {
    svc.PutIdle(host, std::move(conn), Worker::NowMs(), cfg.max_idle_per_endpoint);
  }
  co_return ok ? Outcome::kDone : Outcome::kFailed;
}

asio::awaitable<Session::BodyEnd> Session::StreamBody(Request& rq, net::ClientStream& up) {
  const config::Millis idle = settings_.timeouts.idle;
  const uint64_t max_body = settings_.max_body_bytes;
  if (rq.expect_continue && !rq.http10) {
    co_await asio::async_write(client_, asio::buffer(http::kContinue), kNoThrow);
  }
  // Off once the upstream sent an interim response. Over TLS the upstream's
  // early answer is not looked for (its bytes would have to go through the
  // TLS layer first): the body is sent on, and a write that fails ends it.
  bool watch_upstream = !up.is_tls();
  for (;;) {
    in_.Compact();
    if (in_.writable() < kBodyChunk / 2) in_.Grow(in_.capacity() + kBodyChunk);
    SetDeadline(Timeout::kStream, idle);
    // Fast path: what the client has already sent, without a wait.
    asio::error_code rec;
    size_t n = client_.read_some(asio::buffer(in_.write_ptr(), in_.writable()), rec);
    if (rec == asio::error::would_block) {
      if (watch_upstream) {
        Ready ready = co_await WaitForEither(up);
        if (ready == Ready::kNeither) {  // cancelled: the stream deadline passed
          close_after_ = true;
          co_return BodyEnd::kFailed;
        }
        if (ready == Ready::kUpstream) {
          if (!InterimResponseWaiting(up.lowest_layer())) co_return BodyEnd::kEarly;
          watch_upstream = false;
        }
      }
      auto [ec, m] = co_await client_.async_read_some(
          asio::buffer(in_.write_ptr(), in_.writable()), kNoThrow);
      rec = ec;
      n = m;
    }
    if (rec || n == 0) {
      close_after_ = true;  // the client left mid-body: nothing to answer
      co_return BodyEnd::kFailed;
    }
    in_.Commit(n);
    size_t used = 0;
    http::ParseStatus st = req_parser_.FeedBody(in_.read_ptr(), in_.readable(), &used, nullptr);
    if (st == http::ParseStatus::kError) {
      co_await SendError(400, std::string("malformed request body: ") + req_parser_.error());
      co_return BodyEnd::kFailed;
    }
    rq.body_seen += used;
    if (max_body != 0 && rq.body_seen > max_body) {
      co_await SendError(413, "request body larger than the limit");
      co_return BodyEnd::kFailed;
    }
    auto [wec, wn] = co_await asio::async_write(up, asio::buffer(in_.read_ptr(), used), kNoThrow);
    in_.Consume(used);
    // An upstream that stopped reading may have answered before it closed.
    if (wec) co_return BodyEnd::kEarly;
    if (st == http::ParseStatus::kBodyComplete) co_return BodyEnd::kSent;
  }
}

// Slow path only (the client is slower than the proxy): one wait on both
// sockets, the other cancelled when one is ready.
asio::awaitable<Session::Ready> Session::WaitForEither(net::ClientStream& up) {
  auto [order, client_ec, up_ec] =
      co_await asio::experimental::make_parallel_group(
          client_.lowest_layer().async_wait(asio::socket_base::wait_read, asio::experimental::deferred),
          up.lowest_layer().async_wait(asio::socket_base::wait_read, asio::experimental::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  if (order[0] == 0) co_return client_ec ? Ready::kNeither : Ready::kClient;
  co_return up_ec ? Ready::kNeither : Ready::kUpstream;
}

}  // namespace graymesh::proxy
