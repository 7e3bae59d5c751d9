#include "proxy/app_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/config.h"
#include "http/parser.h"
#include "net/listener.h"

namespace graymesh::proxy {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until `until`; false on timeout or error.
bool WaitFor(int fd, short events, Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  if (left.count() <= 0) return false;
  pollfd p{.fd = fd, .events = events, .revents = 0};
  return ::poll(&p, 1, int(left.count())) == 1;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

bool AppReady(const AppProbe& probe, std::string* why) {
  const Clock::time_point until = Clock::now() + probe.timeout;
  asio::ip::tcp::endpoint ep;
  try {
    const config::HostPort hp = config::ParseHostPort(probe.address);
    ep = net::Resolve(hp.host, hp.port);
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
  Fd fd(::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (::connect(fd.get(), ep.data(), ep.size()) != 0) {
    if (errno != EINPROGRESS) {
      *why = std::string("connect: ") + std::strerror(errno);
      return false;
    }
    if (!WaitFor(fd.get(), POLLOUT, until)) {
      *why = "connect: timed out";
      return false;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      *why = std::string("connect: ") + std::strerror(err);
      return false;
    }
  }
  if (probe.path.empty()) return true;

  const std::string request = "GET " + probe.path + " HTTP/1.1\r\nhost: " + probe.address +
                              "\r\nuser-agent: graymesh-ready-probe\r\nconnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
    } else if (n < 0 && errno == EAGAIN && WaitFor(fd.get(), POLLOUT, until)) {
      continue;
    } else {
      *why = "GET " + probe.path + ": cannot send";
      return false;
    }
  }
  // Only the head matters: the status says ready or not.
  http::Parser parser(http::MessageKind::kResponse);
  std::string buf;
  size_t parsed = 0;
  char chunk[4096];
  for (;;) {
    if (buf.size() > 64 * 1024) {
      *why = "GET " + probe.path + ": response head too large";
      return false;
    }
    ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EAGAIN) {
      if (!WaitFor(fd.get(), POLLIN, until)) {
        *why = "GET " + probe.path + ": no answer in " + std::to_string(probe.timeout.count()) +
               " ms";
        return false;
      }
      continue;
    }
    if (n <= 0) {
      *why = "GET " + probe.path + ": connection closed before a response";
      return false;
    }
    buf.append(chunk, size_t(n));
    size_t used = 0;
    const http::ParseStatus st = parser.FeedHead(buf.data(), parsed, buf.size(), &used);
    parsed += used;
    if (st == http::ParseStatus::kError) {
      *why = "GET " + probe.path + ": malformed response";
      return false;
    }
    if (st != http::ParseStatus::kHeadComplete) continue;
    if (parser.status_code() >= 100 && parser.status_code() < 200) {  // interim: read on
      parser.NextMessage();
      buf.erase(0, parsed);
      parsed = 0;
      continue;
    }
    const int status = parser.status_code();
    if (status >= 200 && status < 300) return true;
    *why = "GET " + probe.path + ": " + std::to_string(status);
    return false;
  }
}

}  // namespace graymesh::proxy
