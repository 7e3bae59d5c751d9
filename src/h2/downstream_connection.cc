#include "h2/downstream_connection.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <charconv>

#include "h2/grpc_status.h"
#include "h2/http1_upstream.h"
#include "h2/lane_headers.h"
#include "h2/limits.h"
#include "h2/upstream_connection.h"
#include "http/headers.h"
#include "lane/trust.h"

namespace graymesh::h2 {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kTick{100};

ProxyStream* StreamOf(nghttp2_session* session, int32_t id) {
  return static_cast<ProxyStream*>(nghttp2_session_get_stream_user_data(session, id));
}

std::string_view View(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

std::string_view StripPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(1, close - 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

// Response fields HTTP/2 forbids (RFC 9113 §8.2.2); an HTTP/2 upstream
// sends none, but the list is cheap insurance.
bool ConnectionSpecific(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade";
}

std::string Printable(std::string_view reason) {
  std::string out;
  for (unsigned char c : reason) out.push_back(c >= 0x20 && c < 0x7f ? char(c) : '?');
  return out;
}

}  // namespace

// nghttp2 server callbacks; user_data is the DownstreamConnection.
struct DownstreamCallbacks {
  static DownstreamConnection& Conn(void* user) {
    return *static_cast<DownstreamConnection*>(user);
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    DownstreamConnection& c = Conn(user);
    auto s = std::make_shared<ProxyStream>();
    s->down = &c;
    s->down_id = frame->hd.stream_id;
    nghttp2_session_set_stream_user_data(session, s->down_id, s.get());
    c.streams_.emplace(s->down_id, std::move(s));
    c.worker_.stats().downstream_rq_total.Inc();
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    ProxyStream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    DownstreamConnection& c = Conn(user);
    const std::string_view n = View(name, namelen), v = View(value, valuelen);
    // RFC 9113 §6.5.2 size: name + value + 32 per field, head and trailers.
    s->req_header_bytes += namelen + valuelen + 32;
    if (s->req_header_bytes > c.worker_.config().limits.max_header_bytes) {
      s->req_too_large = true;
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {  // trailers
      if (!n.empty() && n[0] != ':') s->req_trailers.push_back({std::string(n), std::string(v)});
      return 0;
    }
    if (n == ":method") {
      s->method = v;
    } else if (n == ":scheme") {
      s->scheme = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (!n.empty() && n[0] != ':') {
      if (n == "content-type" && IsGrpcContentType(v)) s->grpc = true;
      s->req_headers.push_back({std::string(n), std::string(v)});
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    DownstreamConnection& c = Conn(user);
    c.last_active_ms_ = proxy::Worker::NowMs();
    if (frame->hd.stream_id == 0) return 0;
    auto it = c.streams_.find(frame->hd.stream_id);
    if (it == c.streams_.end()) return 0;
    std::shared_ptr<ProxyStream> s = it->second;
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          s->req_eof = end;
          c.StartRequest(s);
          return 0;
        }
        s->req_eof = true;  // trailers end the request
        if (s->req_too_large && !s->resp_started) {
          c.Reply(*s, 431, "request trailers larger than the limit");
          return 0;
        }
        break;
      case NGHTTP2_DATA:
        if (!end) return 0;
        s->req_eof = true;
        break;
      case NGHTTP2_RST_STREAM:
        if (!s->resp_started && c.CountEarlyReset()) {
          spdlog::warn("h2: client {} reset {}+ streams before their response: GOAWAY",
                       c.client_ip_, kMaxEarlyResets);
          c.Terminate(NGHTTP2_ENHANCE_YOUR_CALM);
        }
        return 0;
      default:
        return 0;
    }
    if (s->h1 != nullptr) {
      s->h1->ResumeRequest();
    } else if (s->up != nullptr) {
      s->up->ResumeRequest(*s);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t id, const uint8_t* data,
                         size_t len, void* user) {
    ProxyStream* s = StreamOf(session, id);
    DownstreamConnection& c = Conn(user);
    const uint64_t max_body = c.worker_.config().limits.max_body_bytes;
    if (s != nullptr && max_body != 0 && (s->req_body_seen += len) > max_body) {
      nghttp2_session_consume(session, id, len);
      if (!s->resp_started) {
        s->Finish(health::Outcome::kAborted);  // the client's doing, not the endpoint's
        c.Reply(*s, 413, "request body larger than the limit");
      } else if (s->down != nullptr) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      }
      return 0;
    }
    const bool takes = s != nullptr && (s->h1 != nullptr ? s->h1->TakesBody()
                                                         : s->up != nullptr && s->up_id >= 0);
    if (!takes) {
      // Answered already, or its upstream stream ended: the bytes go nowhere.
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->req_body.Append(data, len);
    if (s->h1 != nullptr) {
      s->h1->ResumeRequest();
    } else {
      s->up->ResumeRequest(*s);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t id, uint32_t code, void* user) {
    DownstreamConnection& c = Conn(user);
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    std::shared_ptr<ProxyStream> s = std::move(it->second);
    c.streams_.erase(it);
    s->down = nullptr;
    if (s->up != nullptr && s->up_id >= 0) s->up->Cancel(*s);
    if (s->h1 != nullptr) s->h1->Cancel();
    s->Finish();
    if (code == NGHTTP2_NO_ERROR) c.worker_.stats().downstream_rq_completed.Inc();
    return 0;
  }

  // The response body, as the upstream sends it (or a proxy-made reply).
  static ssize_t ReadBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user) {
    ProxyStream* s = static_cast<ProxyStream*>(source->ptr);
    const size_t n = s->resp_body.Take(buf, length);
    if (n > 0 && s->up != nullptr) s->up->Consumed(*s, n);
    if (n > 0 && s->h1 != nullptr) s->h1->Consumed();
    if (s->resp_body.size() == 0 && s->resp_eof) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s->resp_trailers.empty()) {
        std::vector<nghttp2_nv> nv = ToNv(s->resp_trailers);
        if (nghttp2_submit_trailer(session, id, nv.data(), nv.size()) == 0) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      return ssize_t(n);
    }
    if (n == 0) {
      s->resp_deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return ssize_t(n);
  }
};

DownstreamConnection::DownstreamConnection(proxy::Worker& worker,
                                           const proxy::ListenerInfo& listener,
                                           asio::ip::tcp::socket socket)
    : Connection(std::move(socket)), worker_(worker), listener_(listener) {
  Init();
}

DownstreamConnection::DownstreamConnection(proxy::Worker& worker,
                                           const proxy::ListenerInfo& listener,
                                           std::unique_ptr<TlsStream> tls)
    : Connection(std::move(tls)), worker_(worker), listener_(listener) {
  Init();
}

void DownstreamConnection::Init() {
  asio::error_code ec;
  tcp().set_option(asio::ip::tcp::no_delay(true), ec);
  auto remote = tcp().remote_endpoint(ec);
  if (!ec) client_ip_ = remote.address().to_string();
  trusted_ = lane::TrustsClient(listener_.cfg.trust, listener_.cfg.kind, client_ip_);
  worker_.stats().downstream_cx_total.Inc();
  worker_.stats().downstream_cx_active.Add(1);
}

DownstreamConnection::~DownstreamConnection() { worker_.stats().downstream_cx_active.Add(-1); }

void DownstreamConnection::Start() {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &DownstreamCallbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, &DownstreamCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &DownstreamCallbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &DownstreamCallbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &DownstreamCallbacks::OnStreamClose);
  nghttp2_option* opt = NewOptions();
  nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, worker_.config().limits.max_header_bytes}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 3);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  last_active_ms_ = proxy::Worker::NowMs();
  StartIo();
  auto self = std::static_pointer_cast<DownstreamConnection>(shared_from_this());
  asio::co_spawn(tcp().get_executor(), Tick(self), asio::detached);
}

void DownstreamConnection::OnClosed() {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->down = nullptr;
    if (s->up != nullptr && s->up_id >= 0) s->up->Cancel(*s);
    if (s->h1 != nullptr) s->h1->Cancel();
    s->Finish();
  }
}

bool DownstreamConnection::CountEarlyReset() {
  const int64_t now = proxy::Worker::NowMs();
  if (now - reset_window_start_ms_ > kEarlyResetWindowMs) {
    reset_window_start_ms_ = now;
    early_resets_ = 0;
  }
  return ++early_resets_ > kMaxEarlyResets;
}

void DownstreamConnection::StartRequest(const std::shared_ptr<ProxyStream>& s) {
  s->req_started = true;
  if (s->req_too_large) return Reply(*s, 431, "request head larger than the limit");
  if (s->method == "CONNECT") {
    return Reply(*s, 501, "CONNECT is not supported: the proxy forwards HTTP requests, it opens "
                          "no tunnels");
  }
  const uint64_t max_body = worker_.config().limits.max_body_bytes;
  for (const Header& h : s->req_headers) {
    uint64_t length = 0;
    if (max_body != 0 && h.name == "content-length" &&
        std::from_chars(h.value.data(), h.value.data() + h.value.size(), length).ec ==
            std::errc() &&
        length > max_body) {
      return Reply(*s, 413, "request body larger than the limit");
    }
  }
  std::string authority = s->authority;
  if (authority.empty()) {
    for (const Header& h : s->req_headers) {
      if (h.name == "host") authority = h.value;
    }
  }
  const proxy::Snapshot& snap = *worker_.upstreams().snapshot();
  const std::string_view host = StripPort(authority);
  int service = -1;
  switch (listener_.cfg.kind) {
    case config::ListenerKind::kGateway: {
      std::string_view path = std::string_view(s->path).substr(0, s->path.find_first_of("?#"));
      if (path.empty() || path == "*") path = "/";
      service = snap.MatchRoute(host, path);
      if (service < 0) return Reply(*s, 404, "no route for this host and path");
      break;
    }
    case config::ListenerKind::kOutbound:
      service = snap.FindService(host);
      if (service < 0) return Reply(*s, 404, "unknown service '" + std::string(host) + "'");
      break;
    case config::ListenerKind::kInbound:
      service = snap.FindService(listener_.cfg.service);
      break;
    case config::ListenerKind::kTcp:
      break;
  }
  if (service < 0) return Reply(*s, 503, "service not configured");
  s->svc = worker_.upstreams().service(service);

  // Headers sent upstream: the pseudo-headers, then the client's fields
  // with their lane headers rewritten; Host travels as :authority.
  std::erase_if(s->req_headers, [](const Header& h) { return h.name == "host"; });
  LaneRequest lr{.method = s->method, .path = s->path, .client_ip = client_ip_,
                 .service = service, .trusted = trusted_};
  s->lane = DecideLane(worker_, listener_, lr, &s->req_headers);
  s->upstream_headers.reserve(s->req_headers.size() + 4);
  s->upstream_headers.push_back({":method", s->method});
  s->upstream_headers.push_back({":scheme", s->scheme.empty() ? "http" : s->scheme});
  s->upstream_headers.push_back({":authority", authority});
  s->upstream_headers.push_back({":path", s->path});
  for (Header& h : s->req_headers) s->upstream_headers.push_back(std::move(h));
  s->req_headers.clear();

  const config::Timeouts& t = worker_.config().timeouts;
  s->deadline_ms = proxy::Worker::NowMs() + t.response.count();
  if (s->grpc) {
    for (const Header& h : s->upstream_headers) {
      if (h.name != "grpc-timeout") continue;
      if (auto ms = ParseGrpcTimeout(h.value)) {
        s->deadline_ms = proxy::Worker::NowMs() + *ms;
        s->grpc_deadline = true;
      }
    }
  }
  if (UsesHttp1(s->svc->info().protocol, s->grpc, listener_.cfg.kind)) {
    Http1Upstream::Start(s, worker_);
    return;
  }
  Attach(s);
}

void DownstreamConnection::Attach(const std::shared_ptr<ProxyStream>& s) {
  proxy::ServiceState& svc = *s->svc;
  const proxy::Snapshot& snap = *worker_.upstreams().snapshot();
  const bool fallback = snap.FallbackToBase(s->lane);
  const int64_t now = worker_.HealthNow();
  proxy::Choice choice = svc.Pick(s->lane, fallback, s->exclude, now);
  if (choice.host < 0 && s->exclude >= 0) choice = svc.Pick(s->lane, fallback, -1, now);
  if (choice.host < 0) {
    // The same reasons as the HTTP/1.1 session gives.
    if (!s->lane.empty() && !fallback && !svc.HasLane(s->lane)) {
      return Reply(*s, 503, "service '" + svc.info().name + "' has no instance in lane '" +
                                s->lane + "' (fallback: none)");
    }
    if (svc.size() > 0 && !svc.HasBase() && (s->lane.empty() || fallback)) {
      return Reply(*s, 503, "service '" + svc.info().name + "' has no " +
                                (s->lane.empty() ? std::string("base instance")
                                                 : "instance in lane '" + s->lane +
                                                       "' and no base instance"));
    }
    return Reply(*s, 503, "no endpoint available for service '" + svc.info().name + "'");
  }
  s->choice = choice;
  s->exclude = choice.host;
  svc.OnStart(choice);
  s->counted = true;
  s->worker = &worker_;
  s->attempt_started_ms = now;
  std::shared_ptr<UpstreamConnection> conn = UpstreamPool::ForThisThread().Get(
      worker_.io(), svc.endpoint(choice.host), svc.info().tls, worker_.config().timeouts.connect,
      worker_.stats());
  if (!conn->Submit(s)) {
    return Reply(*s, 502, "upstream HTTP/2 session refused a new stream");
  }
}

void DownstreamConnection::OnUpstreamClosed(const std::shared_ptr<ProxyStream>& s, uint32_t code,
                                            bool refused) {
  if (s->resp_started && s->resp_eof) return;  // done; the rest drains to the client
  if (!s->resp_started && refused && s->replayable && s->refused < kMaxRefusedResends) {
    ++s->refused;
    // Never processed upstream (GOAWAY, REFUSED_STREAM, no connection):
    // send it again, to another endpoint where there is one. A connection
    // that never came up counts against its endpoint.
    s->Finish(s->RefusedOutcome());
    s->up.reset();
    s->req_body.Prepend(s->req_replay);
    s->req_replay.clear();
    worker_.stats().upstream_rq_retry.Inc();
    Attach(s);
    return;
  }
  if (!s->resp_started) {
    if (refused && !s->up_failure.empty()) {
      // As for HTTP/1.1 upstreams: 502 (504 on a timeout) with the reason.
      s->Finish(s->RefusedOutcome());
      const proxy::EndpointInfo& ep = *s->svc->endpoint(s->choice.host).info;
      return Reply(*s, s->up_outcome == health::Outcome::kTimeout ? 504 : 502,
                   "upstream " + ep.address_text + " " + s->up_failure);
    }
    if (refused) {
      return Reply(*s, 503, "upstream endpoint unreachable or refused the stream");
    }
    return Reply(*s, 502, "upstream reset the stream (HTTP/2 error " +
                              std::string(nghttp2_http2_strerror(code)) + ")");
  }
  // Mid-response: the client sees the stream end the way it ended upstream.
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->down_id,
                            code == NGHTTP2_NO_ERROR ? uint32_t(NGHTTP2_INTERNAL_ERROR) : code);
  Signal();
}

void DownstreamConnection::OnResponseHead(ProxyStream& s) {
  if (s.down == nullptr || s.resp_started) return;
  if (!s.grpc_deadline) s.deadline_ms = 0;
  std::vector<Header> head;
  head.reserve(s.resp_headers.size() + 1);
  head.push_back({":status", std::to_string(s.status)});
  for (Header& h : s.resp_headers) {
    if (h.name == "grpc-status") s.head_grpc_status = ParseGrpcStatus(h.value);  // trailers-only
    if (!ConnectionSpecific(h.name)) head.push_back(std::move(h));
  }
  s.resp_headers.clear();
  const bool with_body = !(s.resp_eof && s.resp_body.size() == 0 && s.resp_trailers.empty());
  SubmitResponse(s, head, with_body);
}

void DownstreamConnection::SubmitResponse(ProxyStream& s, const std::vector<Header>& headers,
                                          bool with_body) {
  std::vector<nghttp2_nv> nv = ToNv(headers);
  // A draining sidecar marks every inbound response, relayed or its own, as
  // HTTP/1.1 does (proxy::kDrainingHeader): consumers stop choosing it at once.
  if (worker_.announces_drain() && listener_.cfg.kind == config::ListenerKind::kInbound) {
    static constexpr std::string_view kName = "x-graymesh-draining", kValue = "1";
    nv.push_back({(uint8_t*)kName.data(), (uint8_t*)kValue.data(), kName.size(), kValue.size(),
                  NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE});
  }
  nghttp2_data_provider body{};
  body.source.ptr = &s;
  body.read_callback = &DownstreamCallbacks::ReadBody;
  s.resp_started = true;
  nghttp2_submit_response(session_, s.down_id, nv.data(), nv.size(), with_body ? &body : nullptr);
  Signal();
}

void DownstreamConnection::Resume(ProxyStream& s) {
  if (s.down == nullptr || !s.resp_started || !s.resp_deferred) return;
  s.resp_deferred = false;
  nghttp2_session_resume_data(session_, s.down_id);
  Signal();
}

void DownstreamConnection::OnResponseData(ProxyStream& s) { Resume(s); }
void DownstreamConnection::OnResponseEnd(ProxyStream& s) { Resume(s); }

void DownstreamConnection::Consumed(ProxyStream& s, size_t n) {
  if (s.down == nullptr) return;
  nghttp2_session_consume(session_, s.down_id, n);
  Signal();
}

void DownstreamConnection::OnUpstreamFailed(ProxyStream& s, int status, std::string_view reason) {
  Reply(s, status, reason);
}

void DownstreamConnection::Reply(ProxyStream& s, int status, std::string_view reason) {
  if (s.up != nullptr && s.up_id >= 0) s.up->Cancel(s);
  if (s.h1 != nullptr) s.h1->Cancel();
  s.up.reset();
  s.up_id = -1;
  s.Finish(status == 504 ? health::Outcome::kTimeout : health::Outcome::kReset);
  worker_.stats().CountError(status);
  if (s.down == nullptr || s.resp_started) return;
  const std::string clean = Printable(reason);
  std::vector<Header> head;
  if (s.grpc) {
    // gRPC clients read the status from trailers-only responses.
    head = {{":status", "200"},
            {"content-type", "application/grpc"},
            {"grpc-status", std::to_string(GrpcStatusFor(status))},
            {"grpc-message", PercentEncodeGrpcMessage(clean)},
            {"x-graymesh-reason", clean}};
    s.resp_eof = true;
    SubmitResponse(s, head, false);
    return;
  }
  std::string body = clean + "\n";
  head = {{":status", std::to_string(status)},
          {"content-type", "text/plain"},
          {"content-length", std::to_string(body.size())},
          {"x-graymesh-reason", clean}};
  s.resp_body.Append(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  s.resp_eof = true;
  SubmitResponse(s, head, true);
}

asio::awaitable<void> DownstreamConnection::Tick(std::shared_ptr<DownstreamConnection> self) {
  asio::steady_timer timer(tcp().get_executor());
  while (!closed()) {
    timer.expires_after(kTick);
    co_await timer.async_wait(kNoThrow);
    if (closed()) break;
    const int64_t now = proxy::Worker::NowMs();
    std::vector<std::shared_ptr<ProxyStream>> expired;
    for (auto& [id, s] : streams_) {
      if (s->h1 != nullptr) s->h1->Check(now);
      if (s->deadline_ms != 0 && now >= s->deadline_ms && !(s->resp_started && s->resp_eof)) {
        expired.push_back(s);
      }
    }
    for (auto& s : expired) {
      s->deadline_ms = 0;
      if (!s->resp_started) {
        Reply(*s, 504, s->grpc_deadline ? "upstream did not answer within grpc-timeout"
                                        : "upstream did not answer in time");
      } else if (s->grpc) {
        // Mid-call: what arrived goes out, then the status.
        if (s->up != nullptr && s->up_id >= 0) s->up->Cancel(*s);
        s->resp_trailers = {{"grpc-status", "4"},
                            {"grpc-message", "deadline exceeded at the proxy"}};
        s->resp_eof = true;
        Resume(*s);
      } else {
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->down_id, NGHTTP2_CANCEL);
        Signal();
      }
    }
    if (streams_.empty() && now - last_active_ms_ > worker_.config().timeouts.idle.count()) {
      Terminate(NGHTTP2_NO_ERROR);
    } else if (worker_.draining() && !shutdown_notice_sent_) {
      // Graceful GOAWAY (RFC 9113 §6.8): first a notice (last stream id
      // 2^31-1) so the client opens no new stream here, then, a tick later
      // (more than a loopback round trip), the GOAWAY naming the last stream
      // taken. A stream already on the wire when the notice left is served,
      // not refused; streams in flight finish; the connection closes when
      // they have.
      shutdown_notice_sent_ = true;
      nghttp2_submit_shutdown_notice(session_);
      Signal();
    } else if (worker_.draining() && !goaway_sent_) {
      goaway_sent_ = true;
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                            nullptr, 0);
      Signal();
    }
  }
}

}  // namespace graymesh::h2
