#include "h2/upstream_connection.h"

#include "proxy/worker.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <charconv>
#include <cstring>

#include "h2/downstream_connection.h"
#include "h2/limits.h"

namespace graymesh::h2 {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

ProxyStream* StreamOf(nghttp2_session* session, int32_t id) {
  return static_cast<ProxyStream*>(nghttp2_session_get_stream_user_data(session, id));
}

std::string_view View(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

}  // namespace

// nghttp2 client callbacks; user_data is the UpstreamConnection.
struct UpstreamCallbacks {
  static UpstreamConnection& Conn(void* user) { return *static_cast<UpstreamConnection*>(user); }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    ProxyStream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    const std::string_view n = View(name, namelen), v = View(value, valuelen);
    // After a final head, a header block is the trailers; after an interim
    // (1xx) one, status is back at 0 and the block is the next head.
    const bool trailers = s->status >= 200 && frame->headers.cat == NGHTTP2_HCAT_HEADERS;
    if (trailers) {
      if (n.empty() || n[0] != ':') s->resp_trailers.push_back({std::string(n), std::string(v)});
      return 0;
    }
    if (n == ":status") {
      int status = 0;
      std::from_chars(v.data(), v.data() + v.size(), status);
      s->status = status;
      s->resp_headers.clear();
    } else if (!n.empty() && n[0] != ':') {
      s->resp_headers.push_back({std::string(n), std::string(v)});
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    UpstreamConnection& c = Conn(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;
      return 0;
    }
    ProxyStream* s = frame->hd.stream_id != 0 ? StreamOf(session, frame->hd.stream_id) : nullptr;
    if (s == nullptr) return 0;
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (s->status < 200) {  // an interim (1xx) response: not passed on
        s->status = 0;
        s->resp_headers.clear();
        return 0;
      }
      if (end) s->resp_eof = true;
      if (s->down == nullptr) return 0;
      if (!s->resp_started) {
        s->down->OnResponseHead(*s);
      } else if (end) {
        s->down->OnResponseEnd(*s);
      }
    } else if (frame->hd.type == NGHTTP2_DATA && end) {
      s->resp_eof = true;
      if (s->down != nullptr) s->down->OnResponseEnd(*s);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t id, const uint8_t* data,
                         size_t len, void* user) {
    ProxyStream* s = StreamOf(session, id);
    if (s == nullptr || s->down == nullptr || s->up == nullptr) {
      // The client is gone or got a reply from the proxy: nobody takes them.
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->resp_body.Append(data, len);
    s->down->OnResponseData(*s);
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t id, uint32_t code, void* user) {
    UpstreamConnection& c = Conn(user);
    auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    std::shared_ptr<ProxyStream> s = std::move(it->second);
    c.streams_.erase(it);
    if (c.streams_.empty()) c.idle_since_ms_ = proxy::Worker::NowMs();
    s->up_id = -1;
    if (s->down != nullptr) s->down->OnUpstreamClosed(s, code, code == NGHTTP2_REFUSED_STREAM);
    return 0;
  }

  // The request body, as the client sends it.
  static ssize_t ReadBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user) {
    ProxyStream* s = static_cast<ProxyStream*>(source->ptr);
    const size_t n = s->req_body.Take(buf, length);
    if (n > 0 && s->replayable) {
      if (s->req_replay.size() + n <= kMaxReplayBytes) {
        s->req_replay.append(reinterpret_cast<const char*>(buf), n);
      } else {
        s->replayable = false;
        s->req_replay.clear();
      }
    }
    if (n > 0 && s->down != nullptr) s->down->Consumed(*s, n);
    if (s->req_body.size() == 0 && s->req_eof) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s->req_trailers.empty()) {
        std::vector<nghttp2_nv> nv = ToNv(s->req_trailers);
        if (nghttp2_submit_trailer(session, id, nv.data(), nv.size()) == 0) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      return ssize_t(n);
    }
    if (n == 0) {
      s->req_deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return ssize_t(n);
  }
};

UpstreamConnection::UpstreamConnection(asio::ip::tcp::socket socket,
                                       asio::ip::tcp::endpoint address,
                                       std::shared_ptr<const tls::ClientContext> tls,
                                       std::shared_ptr<tls::SessionSlot> session, std::string host)
    : Connection(std::move(socket)),
      address_(std::move(address)),
      tls_context_(std::move(tls)),
      tls_session_(std::move(session)),
      host_(std::move(host)) {
  idle_since_ms_ = proxy::Worker::NowMs();
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, &UpstreamCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &UpstreamCallbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &UpstreamCallbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &UpstreamCallbacks::OnStreamClose);
  nghttp2_option* opt = NewOptions();
  nghttp2_session_client_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

UpstreamConnection::~UpstreamConnection() {
  if (tls_ != nullptr && SSL_is_init_finished(tls_->native_handle())) {
    SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

void UpstreamConnection::Connect(config::Millis timeout) {
  auto self = std::static_pointer_cast<UpstreamConnection>(shared_from_this());
  asio::co_spawn(socket_.get_executor(), ConnectAndRun(self, timeout), asio::detached);
}

asio::awaitable<void> UpstreamConnection::ConnectAndRun(std::shared_ptr<UpstreamConnection> self,
                                                        config::Millis timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(socket_.get_executor());
  timer.expires_after(timeout);
  auto result = co_await (socket_.async_connect(address_, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  std::string failure;
  health::Outcome outcome = health::Outcome::kConnectFail;
  if (result.index() == 1) {
    failure = "connect timeout";
    outcome = health::Outcome::kTimeout;
  } else if (auto ec = std::get<0>(std::get<0>(result))) {
    failure = "connect failed: " + ec.message();
  } else {
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (tls_context_ != nullptr) {
      failure = co_await Handshake(timer);
      if (failure == "tls: handshake timeout") outcome = health::Outcome::kTimeout;
    }
  }
  connecting_ = false;
  if (!failure.empty()) {
    failed_ = true;
    asio::error_code ignored;
    tcp().close(ignored);
    FailAll(NGHTTP2_REFUSED_STREAM, failure, outcome);  // nothing was sent: safe elsewhere
    co_return;
  }
  StartIo();
}

asio::awaitable<std::string> UpstreamConnection::Handshake(asio::steady_timer& timer) {
  using namespace asio::experimental::awaitable_operators;
  auto stream = std::make_unique<TlsStream>(std::move(socket_), tls_context_->context());
  SSL* ssl = stream->native_handle();
  if (!tls::PrepareClient(ssl, *tls_context_, host_)) {
    tls_ = std::move(stream);  // closed by the caller
    co_return "tls: cannot set the server name \"" +
        (tls_context_->sni().empty() ? host_ : tls_context_->sni()) + "\"";
  }
  static constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl, kAlpnH2, sizeof(kAlpnH2));
  if (tls_session_ != nullptr) tls::UseSessionSlot(ssl, tls_session_.get());
  tls_ = std::move(stream);
  auto result = co_await (tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow) ||
                          timer.async_wait(kNoThrow));
  if (result.index() == 1) co_return "tls: handshake timeout";
  if (auto ec = std::get<0>(std::get<0>(result))) co_return tls::HandshakeFailure(ec, ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn_len != 2 || alpn[0] != 'h' || alpn[1] != '2') {
    co_return alpn_len == 0
        ? std::string("tls: the server did not select HTTP/2 (no ALPN protocol)")
        : "tls: the server selected ALPN \"" +
              std::string(reinterpret_cast<const char*>(alpn), alpn_len) + "\", not h2";
  }
  co_return "";
}

bool UpstreamConnection::Usable() const {
  if (failed_ || goaway_ || closed()) return false;
  const uint32_t remote_max = connecting_ ? kMaxConcurrentStreams
                                          : nghttp2_session_get_remote_settings(
                                                session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < remote_max;
}

bool UpstreamConnection::Submit(const std::shared_ptr<ProxyStream>& s) {
  // A new attempt: the last connection's failure, if any, is not this one's.
  s->up_failure.clear();
  s->up_outcome = health::Outcome::kAborted;
  s->up_reports = false;
  std::vector<nghttp2_nv> nv = ToNv(s->upstream_headers);
  nghttp2_data_provider body{};
  body.source.ptr = s.get();
  body.read_callback = &UpstreamCallbacks::ReadBody;
  const bool no_body = s->req_eof && s->req_body.size() == 0 && s->req_trailers.empty();
  int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                      no_body ? nullptr : &body, s.get());
  if (id < 0) return false;
  s->up = std::static_pointer_cast<UpstreamConnection>(shared_from_this());
  s->up_id = id;
  s->req_deferred = false;
  streams_.emplace(id, s);
  Signal();
  return true;
}

void UpstreamConnection::ResumeRequest(ProxyStream& s) {
  if (s.up_id < 0 || !s.req_deferred) return;
  s.req_deferred = false;
  nghttp2_session_resume_data(session_, s.up_id);
  Signal();
}

void UpstreamConnection::Cancel(ProxyStream& s) {
  if (s.up_id < 0) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.up_id, NGHTTP2_CANCEL);
  Signal();
}

void UpstreamConnection::Consumed(ProxyStream& s, size_t n) {
  if (s.up_id >= 0) {
    nghttp2_session_consume(session_, s.up_id, n);
  } else {
    nghttp2_session_consume_connection(session_, n);
  }
  Signal();
}

void UpstreamConnection::OnClosed() { FailAll(NGHTTP2_INTERNAL_ERROR); }

void UpstreamConnection::FailAll(uint32_t code, const std::string& failure,
                                 health::Outcome outcome) {
  auto streams = std::move(streams_);
  streams_.clear();
  bool first = true;
  for (auto& [id, s] : streams) {
    s->up.reset();
    s->up_id = -1;
    s->up_failure = failure;
    s->up_outcome = outcome;
    // One failed connection is one failure of the endpoint, however many
    // streams waited on it: the first stream still open reports it.
    s->up_reports = !failure.empty() && first && s->down != nullptr;
    if (s->up_reports) first = false;
    // A connection that never came up processed nothing.
    if (s->down != nullptr) s->down->OnUpstreamClosed(s, code, code == NGHTTP2_REFUSED_STREAM);
  }
}

UpstreamPool& UpstreamPool::ForThisThread() {
  thread_local UpstreamPool pool;
  return pool;
}

void UpstreamPool::SweepIdle(int64_t cutoff_ms) {
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    std::erase_if(it->second, [cutoff_ms](const std::shared_ptr<UpstreamConnection>& c) {
      if (c->closed()) return true;
      if (c->streams() != 0 || c->idle_since_ms() >= cutoff_ms) return false;
      c->Terminate(NGHTTP2_NO_ERROR);  // GOAWAY, then the connection closes
      return true;
    });
    it = it->second.empty() ? by_address_.erase(it) : std::next(it);
  }
}

std::shared_ptr<UpstreamConnection> UpstreamPool::Get(
    asio::io_context& io, proxy::EndpointState& ep,
    const std::shared_ptr<const tls::ClientContext>& tls, config::Millis connect_timeout,
    proxy::WorkerStats& stats) {
  const asio::ip::tcp::endpoint& address = ep.info->address;
  std::string key = address.address().to_string() + ":" + std::to_string(address.port());
  if (tls != nullptr) {
    // The connection holds its context, so the address cannot be reused by
    // another context while the connection is pooled; and it was verified
    // for one name, which another endpoint at the same address may not be.
    key += " tls " + std::to_string(reinterpret_cast<uintptr_t>(tls.get())) + " " +
           (tls->sni().empty() ? ep.info->host : tls->sni());
  }
  auto& conns = by_address_[key];
  std::erase_if(conns, [](const auto& c) { return c->closed() || (!c->Usable() && c->streams() == 0); });
  for (auto& c : conns) {
    if (c->Usable()) {
      stats.upstream_cx_reused.Inc();
      return c;
    }
  }
  stats.upstream_cx_total.Inc();
  std::shared_ptr<tls::SessionSlot> session;
  if (tls != nullptr) {
    if (ep.tls_session == nullptr) ep.tls_session = std::make_shared<tls::SessionSlot>();
    session = ep.tls_session;
  }
  auto c = std::make_shared<UpstreamConnection>(asio::ip::tcp::socket(io), address, tls,
                                                std::move(session), ep.info->host);
  c->Connect(connect_timeout);
  conns.push_back(c);
  return c;
}

}  // namespace graymesh::h2
