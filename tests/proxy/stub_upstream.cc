#include "proxy/stub_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;

StubUpstream::StubUpstream(Mode mode, std::chrono::milliseconds idle_close)
    : mode_(mode), idle_close_(idle_close) {
  listen_fd_ = ListenOnLoopback(&port_);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

StubUpstream::~StubUpstream() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& t : conns_) t.join();
}

void StubUpstream::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    ++connections_;
    conns_.emplace_back([this, fd] { Serve(fd); });
  }
}

namespace {

bool SendSlowChunked(int fd) {
  std::string head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0) return false;
  const std::string chunk = "400\r\n" + std::string(1024, 'x') + "\r\n";
  for (int i = 0; i < StubUpstream::kSlowChunks; ++i) {
    std::this_thread::sleep_for(10ms);
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) return false;
  }
  return ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL) == 5;
}

}  // namespace

// Reads request heads (bodies are not used by these tests) and answers each.
void StubUpstream::Serve(int fd) {
  std::string buf;
  int on_this_connection = 0;
  char chunk[4096];
  while (!stop_) {
    int wait_ms = idle_close_.count() > 0 ? int(idle_close_.count()) : 50;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r == 0) {
      if (idle_close_.count() > 0 && buf.empty()) break;  // idle too long: close
      continue;
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buf.append(chunk, size_t(n));
    size_t end = buf.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    buf.erase(0, end + 4);
    ++requests_;
    if (mode_ == Mode::kCloseAfterRequest) break;
    if (mode_ == Mode::kCloseSecondRequest && ++on_this_connection == 2) break;
    if (mode_ == Mode::kSlowChunked) {
      if (!SendSlowChunked(fd)) break;
      continue;
    }
    if (mode_ == Mode::kDraining) {
      std::string reply =
          "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nx-graymesh-draining: 1\r\n\r\nok\n";
      if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) break;
      continue;  // keeps the connection open: the caller must stop using it by itself
    }
    std::string reply = mode_ == Mode::kGarbage
                            ? "this is not http\r\n\r\n"
                            : "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n";
    if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) break;
  }
  ::close(fd);
}

}  // namespace graymesh::test
