// A small HTTP/1.1 server on asio coroutines, for the sample app, the admin
// ports and the control plane API: keep-alive, pipelined requests answered in
// order (one at a time per connection), request bodies read to the end and
// hashed (and kept, up to a limit, when asked), responses streamed from a
// filler pattern, and a graceful stop. Not on the data path: the proxy has its
// own sessions.
//
// Thread-safety: none; everything runs on one io_context thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace graymesh::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

// FNV-1a 64 over `data`, continuing from `h`: cheap, streamable, and easy to
// recompute in a test, which is all an upload checksum needs.
uint64_t Fnv1a(uint64_t h, std::string_view data);

// Byte `i` of every generated body: 'a' + i % 26, so a test can check that a
// streamed body arrived intact and in order.
inline char PatternByte(uint64_t i) { return static_cast<char>('a' + i % 26); }

struct HttpRequest {
  std::string method;
  std::string target;  // as received
  std::string path;    // target without scheme/authority and query
  std::string query;   // after '?'
  int version_minor = 1;
  HeaderList headers;
  uint64_t body_bytes = 0;
  uint64_t body_fnv = kFnvOffset;  // FNV-1a 64 of the decoded body
  std::string body;                // decoded; empty unless max_body_bytes > 0
  std::string peer;                // client "ip:port"

  // First header with that name (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
  // Value of `key` in the query string, or "" (no percent-decoding needed here).
  std::string_view QueryParam(std::string_view key) const;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // A body shared by many replies (a control-plane snapshot sent to a
  // thousand watchers): written from, never copied. Used instead of `body`.
  std::shared_ptr<const std::string> shared_body;
  HeaderList headers;  // extra response headers
  // When set, the body is this many pattern bytes, written in pieces so it is
  // never held in memory; `chunked` picks chunked framing over a length.
  std::optional<uint64_t> stream_bytes;
  bool chunked = false;
};

using HttpHandler = std::function<asio::awaitable<HttpReply>(const HttpRequest&)>;

struct HttpServerOptions {
  // Request bodies up to this many bytes are kept in HttpRequest::body; a
  // longer one is answered 413 without calling the handler. 0 keeps no body
  // and sets no limit (bodies are only counted and hashed).
  uint64_t max_body_bytes = 0;
  // A request head must arrive whole within this, counted from the accept
  // for a connection's first request and from the first byte for later
  // ones; else the connection is closed (slowloris).
  std::chrono::milliseconds header_read_timeout{10'000};
  // Longest wait for the next request on a kept-alive connection, and for
  // any progress while a body is read or a reply written. The handler's own
  // time (a long poll) is not counted.
  std::chrono::milliseconds idle_timeout{60'000};
  // Open connections at most; one more is answered 503 and closed at once.
  // 0 = no cap.
  size_t max_connections = 0;
};

class HttpServer {
 public:
  // Binds and listens at once, so port() is known before Start().
  HttpServer(asio::io_context& io, const asio::ip::tcp::endpoint& listen, HttpHandler handler,
             HttpServerOptions options = {});
  ~HttpServer();

  uint16_t port() const { return port_; }
  void Start();
  // Stops accepting and closes idle connections; busy ones answer with
  // `connection: close` and close after their response.
  void Shutdown();
  // Connections still open (for the drain wait).
  size_t open_connections() const;

 private:
  struct Registry;
  struct Conn;
  asio::awaitable<void> AcceptLoop();
  // Over max_connections: a canned 503 written without waiting, then close.
  void Refuse(asio::ip::tcp::socket& sock);
  // Closes `conn` unless re-armed or disarmed within `d`.
  void Arm(Conn& conn, std::chrono::milliseconds d);
  asio::awaitable<void> Serve(std::shared_ptr<Conn> conn);
  asio::awaitable<bool> WriteReply(Conn& conn, const HttpRequest& req, const HttpReply& reply,
                                   bool keep_alive, bool head);
  // Answers 413 and reads what the client still sends, so it gets to read
  // the answer instead of a reset.
  asio::awaitable<void> RefuseBody(Conn& conn, std::vector<char>& buf);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  HttpHandler handler_;
  HttpServerOptions options_;
  // Shared with every connection's coroutine frame, which may outlive the
  // Server when the io_context is stopped by force.
  std::shared_ptr<Registry> registry_;
};

}  // namespace graymesh::net
