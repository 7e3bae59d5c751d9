#include "support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "http/headers.h"

namespace graymesh::test {
namespace {

using Clock = std::chrono::steady_clock;

// BodyPieces holds 32 pieces and a chunk costs at least 6 raw bytes, so
// chunked bodies fed in windows this small never overflow it.
constexpr size_t kChunkedWindow = 150;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

std::string Response::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (http::IEquals(n, name)) return v;
  }
  return "";
}

bool Response::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return http::IEquals(h.first, name); });
}

TestConnection::TestConnection(uint16_t port, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Non-blocking connect, so a full backlog cannot hang the test.
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      rc = 0;
    }
  }
  if (rc != 0) {
    close(fd);
    return;
  }
  // Blocking from here on, with a send timeout so a stuck peer cannot hang Send.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
}

TestConnection::~TestConnection() { Close(); }

void TestConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void TestConnection::ShutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

bool TestConnection::Send(std::string_view bytes) {
  while (fd_ >= 0 && !bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

TestConnection::Fill TestConnection::ReadMore(Clock::time_point deadline) {
  if (fd_ < 0) return Fill::kError;
  if (eof_) return Fill::kEof;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return Fill::kTimeout;
    if (rc < 0) return Fill::kError;
    char tmp[64 * 1024];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return Fill::kData;
    }
    eof_ = true;  // a reset counts as a close here
    return n == 0 ? Fill::kEof : Fill::kError;
  }
}

bool TestConnection::IsClosedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    switch (ReadMore(deadline)) {
      case Fill::kData:
        continue;
      case Fill::kTimeout:
        return false;
      case Fill::kEof:
      case Fill::kError:
        return true;
    }
  }
}

Response TestConnection::ReadResponse(std::chrono::milliseconds timeout, bool head_request) {
  auto deadline = Clock::now() + timeout;
  Response r;
  auto fail = [&](Fill f, const char* what) {
    r.error = std::string(what) + (f == Fill::kTimeout ? ": timeout"
                                   : f == Fill::kEof   ? ": connection closed"
                                                       : ": socket error");
    return r;
  };
  // Head. It always starts at buf_[0].
  parser_.SetHeadRequest(head_request);
  size_t parsed = 0;
  http::ParseStatus st = http::ParseStatus::kNeedMore;
  while (st == http::ParseStatus::kNeedMore) {
    if (parsed < buf_.size()) {
      size_t used = 0;
      st = parser_.FeedHead(buf_.data(), parsed, buf_.size(), &used);
      parsed += used;
      continue;
    }
    if (Fill f = ReadMore(deadline); f != Fill::kData) return fail(f, "reading head");
  }
  if (st == http::ParseStatus::kError) {
    r.error = std::string("bad response head: ") + parser_.error();
    return r;
  }
  r.status = parser_.status_code();
  for (const http::HeaderSlice& h : parser_.headers()) {
    r.headers.emplace_back(h.name.In(buf_.data()), h.value.In(buf_.data()));
  }
  buf_.erase(0, parsed);
  // Body.
  size_t pos = 0;
  while (!parser_.body_done()) {
    if (pos == buf_.size()) {
      buf_.clear();
      pos = 0;
      Fill f = ReadMore(deadline);
      if (f == Fill::kEof && parser_.FeedEof() == http::ParseStatus::kBodyComplete) break;
      if (f != Fill::kData) {
        int status = r.status;
        fail(f, "reading body");
        r.status = 0;
        r.error += " (status " + std::to_string(status) + ", " + std::to_string(r.body.size()) +
                   " body bytes)";
        return r;
      }
    }
    size_t len = buf_.size() - pos;
    if (parser_.chunked()) len = std::min(len, kChunkedWindow);
    http::BodyPieces pieces;
    size_t used = 0;
    st = parser_.FeedBody(buf_.data() + pos, len, &used, &pieces);
    pos += used;
    for (int i = 0; i < pieces.count; ++i) r.body.append(pieces.piece[i]);
    if (st == http::ParseStatus::kError) {
      r.status = 0;
      r.error = std::string("bad response body: ") + parser_.error();
      return r;
    }
  }
  r.closed_after = !parser_.keep_alive();
  buf_.erase(0, pos);
  parser_.NextMessage();
  return r;
}

Response HttpRequest(uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body, const HeaderList& headers,
                     std::chrono::milliseconds timeout) {
  TestConnection conn(port, timeout);
  if (!conn.connected()) {
    Response r;
    r.error = "cannot connect to 127.0.0.1:" + std::to_string(port);
    return r;
  }
  std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  bool has_host = false;
  bool has_framing = false;
  for (const auto& [n, v] : headers) {
    has_host = has_host || http::IEquals(n, "host");
    has_framing =
        has_framing || http::IEquals(n, "content-length") || http::IEquals(n, "transfer-encoding");
    req += n + ": " + v + "\r\n";
  }
  if (!has_host) req += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (!has_framing && (!body.empty() || method == "POST" || method == "PUT")) {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  // Head and body in one send when small; a large body streams after the head.
  if (body.size() < 64 * 1024) {
    req.append(body);
    body = {};
  }
  // A failed send may still have an early answer (e.g. 413) to read.
  bool sent = conn.Send(req) && conn.Send(body);
  Response r;
  do {
    r = conn.ReadResponse(timeout, method == "HEAD");
  } while (r.status >= 100 && r.status < 200 && r.status != 101);
  if (!sent && r.status == 0) r.error = "send failed; " + r.error;
  return r;
}

Response HttpGet(uint16_t port, std::string_view target, const HeaderList& headers,
                 std::chrono::milliseconds timeout) {
  return HttpRequest(port, "GET", target, {}, headers, timeout);
}

Response HttpPost(uint16_t port, std::string_view target, std::string_view body,
                  const HeaderList& headers, std::chrono::milliseconds timeout) {
  return HttpRequest(port, "POST", target, body, headers, timeout);
}

std::string Fnv1a64Hex(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace graymesh::test
