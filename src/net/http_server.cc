#include "net/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <cstring>
#include <set>

#include "http/headers.h"
#include "http/parser.h"
#include "http/reply.h"
#include "net/accept_backoff.h"

namespace graymesh::net {
namespace {

using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr size_t kReadSize = 16 * 1024;
constexpr size_t kMaxHead = 64 * 1024;
// A multiple of 26, so every full piece of the pattern is the same bytes.
constexpr size_t kPiece = 26 * 630;
// BodyPieces holds 32 pieces and a chunk costs at least 6 raw bytes, so
// feeding chunked bodies in windows this small can never overflow it.
constexpr size_t kChunkedWindow = 150;
// After a 413: how long and how much of the rest of the body is read and
// thrown away before the connection is closed.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 64ull << 20;

const std::string& PatternPiece() {
  static const std::string piece = [] {
    std::string s(kPiece, '\0');
    for (size_t i = 0; i < kPiece; ++i) s[i] = PatternByte(i);
    return s;
  }();
  return piece;
}

bool HasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// "http://host/x?y" -> "/x?y"; origin-form targets are returned as they are.
std::string_view OriginForm(std::string_view target) {
  size_t scheme = target.find("://");
  if (scheme == std::string_view::npos || target.starts_with('/')) return target;
  size_t slash = target.find('/', scheme + 3);
  return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
}

}  // namespace

uint64_t Fnv1a(uint64_t h, std::string_view data) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (http::IEquals(n, name)) return v;
  }
  return {};
}

std::string_view HttpRequest::QueryParam(std::string_view key) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == key) return eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

struct HttpServer::Registry {
  std::set<Conn*> conns;
  bool stopping = false;
};

struct HttpServer::Conn : std::enable_shared_from_this<Conn> {
  Conn(tcp::socket s, std::shared_ptr<Registry> r)
      : sock(std::move(s)), deadline(sock.get_executor()), registry(std::move(r)) {
    registry->conns.insert(this);
  }
  ~Conn() { registry->conns.erase(this); }
  tcp::socket sock;
  // One timer for every wait on the peer (head, idle, body, write): when it
  // fires the socket is closed, which ends the pending read or write.
  asio::steady_timer deadline;
  uint64_t armed = 0;  // generation: a handler queued before a re-arm does nothing
  std::shared_ptr<Registry> registry;
  bool idle = true;  // between requests, with no byte of the next one read
};

void HttpServer::Arm(Conn& conn, std::chrono::milliseconds d) {
  conn.deadline.expires_after(d);
  const uint64_t generation = ++conn.armed;
  conn.deadline.async_wait([weak = conn.weak_from_this(), generation](std::error_code ec) {
    auto c = weak.lock();
    if (ec || !c || c->armed != generation) return;
    std::error_code ignored;
    c->sock.close(ignored);
  });
}

void HttpServer::Refuse(tcp::socket& sock) {
  static const std::string kBusy =
      http::ErrorReply(503, "too many connections to this server", true);
  std::error_code ec;
  sock.non_blocking(true, ec);
  if (!ec) sock.write_some(asio::buffer(kBusy), ec);  // whatever fits; never waits
  sock.close(ec);
}

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& listen, HttpHandler handler,
                       HttpServerOptions options)
    : io_(io),
      acceptor_(io),
      handler_(std::move(handler)),
      options_(options),
      registry_(std::make_shared<Registry>()) {
  acceptor_.open(listen.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(listen);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

HttpServer::~HttpServer() = default;

void HttpServer::Start() { asio::co_spawn(io_, AcceptLoop(), asio::detached); }

void HttpServer::Shutdown() {
  registry_->stopping = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  for (Conn* c : registry_->conns) {
    if (c->idle) c->sock.close(ignored);
  }
}

size_t HttpServer::open_connections() const { return registry_->conns.size(); }

asio::awaitable<void> HttpServer::AcceptLoop() {
  AcceptBackoff backoff;
  asio::steady_timer pause(io_);
  while (!registry_->stopping) {
    auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      if (!AcceptBackoff::IsExhaustion(ec)) {
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      const auto wait = backoff.Next();
      if (backoff.failures() == 1) {
        spdlog::warn("accept: {}: pausing accepts ({}ms, up to {}ms) until descriptors free up",
                     ec.message(), wait.count(), AcceptBackoff::kMax.count());
      }
      pause.expires_after(wait);
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (backoff.failures() > 0) {
      spdlog::info("accept: working again after {} failures", backoff.failures());
    }
    backoff.Reset();
    if (options_.max_connections > 0 && registry_->conns.size() >= options_.max_connections) {
      Refuse(sock);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Conn>(std::move(sock), registry_);
    asio::co_spawn(io_, Serve(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Serve(std::shared_ptr<Conn> conn) {
  std::error_code ec;
  std::string peer;
  if (auto ep = conn->sock.remote_endpoint(ec); !ec) {
    peer = fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }
  http::Parser parser(http::MessageKind::kRequest);
  std::vector<char> buf(kReadSize);
  size_t begin = 0;  // start of unparsed bytes (a pipelined next request)
  size_t end = 0;
  bool first_request = true;
  // Reads more bytes at `end`, growing the buffer when full.
  auto read_more = [&]() -> asio::awaitable<bool> {
    if (end == buf.size()) buf.resize(buf.size() * 2);
    auto [rec, n] = co_await conn->sock.async_read_some(
        asio::buffer(buf.data() + end, buf.size() - end), kTuple);
    if (rec || n == 0) co_return false;
    end += n;
    co_return true;
  };
  for (;;) {
    // The next head always starts at buf[0]: its slices are offsets from there.
    std::memmove(buf.data(), buf.data() + begin, end - begin);
    end -= begin;
    begin = 0;
    conn->idle = (end == 0);
    if (registry_->stopping && conn->idle) break;

    // A head gets header_read_timeout from the accept or from its first
    // byte; before that byte a kept-alive connection gets idle_timeout.
    bool head_clock = first_request || !conn->idle;
    Arm(*conn, head_clock ? options_.header_read_timeout : options_.idle_timeout);
    first_request = false;
    size_t parsed = 0;
    http::ParseStatus st = http::ParseStatus::kNeedMore;
    while (st == http::ParseStatus::kNeedMore) {
      if (parsed < end) {
        size_t used = 0;
        st = parser.FeedHead(buf.data(), parsed, end, &used);
        parsed += used;
        if (st != http::ParseStatus::kNeedMore) break;
      }
      if (end >= kMaxHead) {
        co_await asio::async_write(
            conn->sock, asio::buffer(http::ErrorReply(431, "request head too large", true)),
            kTuple);
        co_return;
      }
      if (!co_await read_more()) co_return;  // peer closed, Shutdown() or a deadline closed us
      conn->idle = false;
      if (!head_clock) {
        head_clock = true;
        Arm(*conn, options_.header_read_timeout);
      }
    }
    if (st == http::ParseStatus::kError) {
      int status = parser.too_many_headers() ? 431 : 400;
      co_await asio::async_write(
          conn->sock, asio::buffer(http::ErrorReply(status, parser.error(), true)), kTuple);
      co_return;
    }

    HttpRequest req;
    req.method = llhttp_method_name(parser.method());
    req.target = std::string(parser.target().In(buf.data()));
    std::string_view origin = OriginForm(req.target);
    size_t q = origin.find('?');
    req.path = std::string(origin.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(origin.substr(q + 1));
    req.version_minor = parser.version_minor();
    req.peer = peer;
    for (const http::HeaderSlice& h : parser.headers()) {
      req.headers.emplace_back(h.name.In(buf.data()), h.value.In(buf.data()));
    }

    // Body: hashed as it streams by, the buffer reused for every read; kept
    // when the options ask for it.
    begin = parsed;
    const uint64_t limit = options_.max_body_bytes;
    if (limit > 0 && parser.has_content_length() && parser.content_length() > limit) {
      // Known too long: refuse before a 100 Continue invites the bytes.
      co_await RefuseBody(*conn, buf);
      co_return;
    }
    if (limit > 0 && parser.has_content_length()) req.body.reserve(parser.content_length());
    if (!parser.body_done()) {
      if (http::IEquals(req.Header("expect"), "100-continue") && begin == end) {
        auto [wec, n] =
            co_await asio::async_write(conn->sock, asio::buffer(http::kContinue), kTuple);
        if (wec) co_return;
      }
      for (;;) {
        if (begin == end) {
          begin = end = 0;
          Arm(*conn, options_.idle_timeout);  // a body must keep coming
          if (!co_await read_more()) co_return;  // requests are never close-delimited
        }
        size_t len = end - begin;
        if (parser.chunked()) len = std::min(len, kChunkedWindow);
        http::BodyPieces pieces;
        size_t used = 0;
        st = parser.FeedBody(buf.data() + begin, len, &used, &pieces);
        begin += used;
        for (int i = 0; i < pieces.count; ++i) {
          req.body_bytes += pieces.piece[i].size();
          req.body_fnv = Fnv1a(req.body_fnv, pieces.piece[i]);
          if (limit > 0 && req.body_bytes <= limit) req.body.append(pieces.piece[i]);
        }
        if (limit > 0 && req.body_bytes > limit) {  // chunked: found out on the way
          co_await RefuseBody(*conn, buf);
          co_return;
        }
        if (st == http::ParseStatus::kBodyComplete) break;
        if (st == http::ParseStatus::kError) {
          co_await asio::async_write(
              conn->sock, asio::buffer(http::ErrorReply(400, parser.error(), true)), kTuple);
          co_return;
        }
      }
    }
    bool keep_alive = parser.keep_alive();
    parser.NextMessage();

    // The handler's time is the server's (a long poll waits here), not the
    // client's: no deadline while it runs.
    conn->deadline.cancel();
    ++conn->armed;
    HttpReply reply = co_await handler_(req);
    Arm(*conn, options_.idle_timeout);  // the client must read the reply
    keep_alive = keep_alive && !registry_->stopping;
    if (!co_await WriteReply(*conn, req, reply, keep_alive, req.method == "HEAD")) co_return;
    if (!keep_alive) break;
  }
  conn->sock.shutdown(tcp::socket::shutdown_send, ec);
  conn->sock.close(ec);
}

asio::awaitable<void> HttpServer::RefuseBody(Conn& conn, std::vector<char>& buf) {
  const std::string reason =
      fmt::format("request body over the limit of {} bytes", options_.max_body_bytes);
  auto [ec, n] = co_await asio::async_write(
      conn.sock, asio::buffer(http::ErrorReply(413, reason, true)), kTuple);
  if (ec) co_return;
  conn.sock.shutdown(tcp::socket::shutdown_send, ec);
  // A client that writes its whole body before reading would get a reset,
  // and lose the 413, if we closed with its bytes unread: discard them for a
  // while (bounded, so a client cannot hold the connection forever).
  // `live` turns the timer's handler off once we are done, even if it was
  // already queued when we cancelled it.
  auto live = std::make_shared<bool>(true);
  asio::steady_timer deadline(conn.sock.get_executor());
  deadline.expires_after(kLingerTime);
  deadline.async_wait([&conn, live](std::error_code wec) {
    std::error_code ignored;
    if (!wec && *live) conn.sock.close(ignored);
  });
  for (uint64_t discarded = 0; discarded < kLingerBytes;) {
    std::tie(ec, n) = co_await conn.sock.async_read_some(asio::buffer(buf), kTuple);
    if (ec || n == 0) break;
    discarded += n;
  }
  *live = false;
  deadline.cancel();
  conn.sock.close(ec);
}

asio::awaitable<bool> HttpServer::WriteReply(Conn& conn, const HttpRequest& req,
                                             const HttpReply& reply, bool keep_alive, bool head) {
  bool has_body = HasBody(reply.status);
  const std::string& body = reply.shared_body ? *reply.shared_body : reply.body;
  uint64_t length = reply.stream_bytes ? *reply.stream_bytes : body.size();
  // HTTP/1.0 clients cannot read chunked framing: give them a length.
  bool chunked = has_body && reply.stream_bytes && reply.chunked && req.version_minor >= 1;
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", reply.status, http::StatusText(reply.status));
  if (has_body) {
    out += fmt::format("content-type: {}\r\n", reply.content_type);
    out += chunked ? std::string("transfer-encoding: chunked\r\n")
                   : fmt::format("content-length: {}\r\n", length);
  }
  for (const auto& [n, v] : reply.headers) out += fmt::format("{}: {}\r\n", n, v);
  if (!keep_alive) out += "connection: close\r\n";
  out += "\r\n";
  if (!has_body || head) {
    auto [ec, n] = co_await asio::async_write(conn.sock, asio::buffer(out), kTuple);
    co_return !ec;
  }
  if (!reply.stream_bytes) {
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out), asio::buffer(body)};
    auto [ec, n] = co_await asio::async_write(conn.sock, bufs, kTuple);
    co_return !ec;
  }
  auto [ec, n] = co_await asio::async_write(conn.sock, asio::buffer(out), kTuple);
  if (ec) co_return false;
  const std::string& piece = PatternPiece();
  for (uint64_t left = length; left > 0;) {
    size_t k = static_cast<size_t>(std::min<uint64_t>(left, kPiece));
    left -= k;
    std::string size_line = chunked ? fmt::format("{:x}\r\n", k) : std::string();
    std::array<asio::const_buffer, 3> bufs{asio::buffer(size_line), asio::buffer(piece.data(), k),
                                           asio::buffer(chunked ? "\r\n" : "", chunked ? 2 : 0)};
    Arm(conn, options_.idle_timeout);  // a long body: the client must keep reading
    std::tie(ec, n) = co_await asio::async_write(conn.sock, bufs, kTuple);
    if (ec) co_return false;
  }
  if (chunked) {
    std::tie(ec, n) = co_await asio::async_write(conn.sock, asio::buffer("0\r\n\r\n", 5), kTuple);
    if (ec) co_return false;
  }
  co_return true;
}

}  // namespace graymesh::net
