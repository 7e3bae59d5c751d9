#include "net/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>

#include "http/parser.h"

namespace graymesh::net {
namespace {

using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxIdle = 16;
constexpr size_t kMaxBody = 32 * 1024 * 1024;
constexpr size_t kChunkedWindow = 150;  // see server.cc: keeps BodyPieces from overflowing

// Closes a socket when the deadline passes, which fails whatever operation is
// pending on it. Disarmed on destruction, even if the timer already fired
// and its handler is queued.
class Deadline {
 public:
  Deadline(tcp::socket& sock, std::chrono::milliseconds timeout)
      : timer_(sock.get_executor()), state_(std::make_shared<State>(State{&sock, false})) {
    timer_.expires_after(timeout);
    timer_.async_wait([st = state_](std::error_code ec) {
      if (ec || st->sock == nullptr) return;
      st->fired = true;
      std::error_code ignored;
      st->sock->close(ignored);
    });
  }
  ~Deadline() { state_->sock = nullptr; }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    tcp::socket* sock;
    bool fired;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, std::string host, uint16_t port)
    : ex_(std::move(ex)), host_(std::move(host)), port_(port) {}

HttpClient::~HttpClient() = default;

asio::awaitable<std::unique_ptr<HttpClient::Socket>> HttpClient::Connect(
    std::chrono::milliseconds timeout, std::string* error) {
  if (endpoints_.empty()) {
    tcp::resolver resolver(ex_);
    auto [ec, results] = co_await resolver.async_resolve(host_, std::to_string(port_), kTuple);
    if (ec) {
      *error = fmt::format("resolve {}: {}", host_, ec.message());
      co_return nullptr;
    }
    endpoints_ = results;
  }
  auto sock = std::make_unique<Socket>(ex_);
  Deadline deadline(*sock, timeout);
  auto [ec, ep] = co_await asio::async_connect(*sock, endpoints_, kTuple);
  if (ec) {
    *error = deadline.fired() ? fmt::format("connect {}:{}: timeout", host_, port_)
                              : fmt::format("connect {}:{}: {}", host_, port_, ec.message());
    co_return nullptr;
  }
  sock->set_option(tcp::no_delay(true), ec);
  co_return sock;
}

asio::awaitable<HttpClient::Result> HttpClient::Get(std::string target,
                                                    const net::HeaderList& headers,
                                                    std::chrono::milliseconds timeout) {
  co_return co_await Request("GET", std::move(target), headers, "", timeout);
}

asio::awaitable<HttpClient::Result> HttpClient::Request(std::string method, std::string target,
                                                        const net::HeaderList& headers,
                                                        std::string body,
                                                        std::chrono::milliseconds timeout) {
  std::string request = fmt::format("{} {} HTTP/1.1\r\n", method, target);
  for (const auto& [n, v] : headers) request += fmt::format("{}: {}\r\n", n, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += fmt::format("content-length: {}\r\n", body.size());
  }
  request += "\r\n";
  request += body;
  const bool idempotent = method == "GET" || method == "HEAD" || method == "PUT" ||
                          method == "DELETE" || method == "OPTIONS";

  Result result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Socket> sock;
    bool reused = !idle_.empty();
    if (reused) {
      sock = std::move(idle_.back());
      idle_.pop_back();
    } else {
      sock = co_await Connect(timeout, &result.error);
      if (!sock) co_return result;
    }
    bool got_bytes = false;
    bool reusable = false;
    {
      Deadline deadline(*sock, timeout);
      result = co_await Exchange(*sock, request, &got_bytes, &reusable);
      if (deadline.fired()) {
        result = Result{0, "", fmt::format("timeout after {} ms", timeout.count())};
        co_return result;
      }
    }
    if (result.status != 0) {
      if (reusable && idle_.size() < kMaxIdle) idle_.push_back(std::move(sock));
      co_return result;
    }
    // A pooled connection the peer closed meanwhile: nothing was processed,
    // probably; "probably" is enough only for a request that may be repeated.
    if (!reused || got_bytes || !idempotent) co_return result;
  }
  co_return result;
}

asio::awaitable<HttpClient::Result> HttpClient::Exchange(Socket& sock, const std::string& request,
                                                         bool* got_bytes, bool* reusable) {
  Result r;
  auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), kTuple);
  if (wec) {
    r.error = fmt::format("write: {}", wec.message());
    co_return r;
  }
  http::Parser parser(http::MessageKind::kResponse);
  std::vector<char> buf(16 * 1024);
  size_t end = 0;     // bytes in buf
  size_t parsed = 0;  // head bytes fed
  auto read_more = [&]() -> asio::awaitable<std::error_code> {
    if (end == buf.size()) buf.resize(buf.size() * 2);
    auto [ec, n] =
        co_await sock.async_read_some(asio::buffer(buf.data() + end, buf.size() - end), kTuple);
    if (!ec && n == 0) ec = asio::error::eof;
    if (!ec) *got_bytes = true;
    end += n;
    co_return ec;
  };
  // Head, skipping interim 1xx responses.
  for (;;) {
    http::ParseStatus st = http::ParseStatus::kNeedMore;
    while (st == http::ParseStatus::kNeedMore) {
      if (parsed < end) {
        size_t used = 0;
        st = parser.FeedHead(buf.data(), parsed, end, &used);
        parsed += used;
        if (st != http::ParseStatus::kNeedMore) break;
      }
      if (end > 256 * 1024) {
        r.error = "response head too large";
        co_return r;
      }
      if (std::error_code ec = co_await read_more()) {
        r.error = fmt::format("read: {}", ec.message());
        co_return r;
      }
    }
    if (st == http::ParseStatus::kError) {
      r.error = fmt::format("bad response: {}", parser.error());
      co_return r;
    }
    int status = parser.status_code();
    if (status >= 200 || status == 101) break;
    // Drop the interim head; the final one starts at buf[0].
    buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(parsed));
    end -= parsed;
    parsed = 0;
    parser.NextMessage();
  }
  int status = parser.status_code();
  // Body.
  size_t pos = parsed;
  while (!parser.body_done()) {
    if (pos == end) {
      pos = end = 0;
      if (std::error_code ec = co_await read_more()) {
        if (ec == asio::error::eof && parser.FeedEof() == http::ParseStatus::kBodyComplete) break;
        r.error = fmt::format("read body: {}", ec.message());
        co_return r;
      }
    }
    size_t len = end - pos;
    if (parser.chunked()) len = std::min(len, kChunkedWindow);
    http::BodyPieces pieces;
    size_t used = 0;
    http::ParseStatus st = parser.FeedBody(buf.data() + pos, len, &used, &pieces);
    pos += used;
    for (int i = 0; i < pieces.count; ++i) r.body.append(pieces.piece[i]);
    if (st == http::ParseStatus::kError) {
      r.error = fmt::format("bad response body: {}", parser.error());
      co_return r;
    }
    if (r.body.size() > kMaxBody) {
      r.error = "response body too large";
      co_return r;
    }
  }
  r.status = status;
  // Extra bytes after a response would be a protocol error: do not reuse then.
  *reusable = parser.keep_alive() && pos == end;
  co_return r;
}

}  // namespace graymesh::net
