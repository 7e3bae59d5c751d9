#include "proxy/recording_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/headers.h"
#include "http/parser.h"
#include "support/ports.h"

namespace graymesh::test {
namespace {

// Chunked bodies are fed in windows this small so BodyPieces never overflows
// (a chunk costs at least 6 raw bytes).
constexpr size_t kChunkedWindow = 150;

}  // namespace

std::string RecordingUpstream::Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (http::IEquals(n, name)) return v;
  }
  return "<none>";
}

int RecordingUpstream::Request::Count(std::string_view name) const {
  return int(std::count_if(headers.begin(), headers.end(),
                           [&](const auto& h) { return http::IEquals(h.first, name); }));
}

RecordingUpstream::Reply RecordingUpstream::AnswerNaming(const Request& rq) {
  std::string body = "answer to: " + rq.method + " " + rq.target;
  std::string head =
      "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n";
  return {.bytes = rq.method == "HEAD" ? head : head + body};
}

RecordingUpstream::RecordingUpstream(Script script) : script_(std::move(script)) {
  listen_fd_ = ListenOnLoopback(&port_);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

RecordingUpstream::~RecordingUpstream() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& t : conns_) t.join();
}

std::vector<RecordingUpstream::Request> RecordingUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::string RecordingUpstream::raw() const {
  std::lock_guard lock(mu_);
  return raw_;
}

bool RecordingUpstream::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void RecordingUpstream::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    int index = ++connections_;
    conns_.emplace_back([this, fd, index] { Serve(fd, index); });
  }
}

void RecordingUpstream::Serve(int fd, int index) {
  http::Parser parser(http::MessageKind::kRequest);
  std::string buf;
  // Appends what the peer sends next; false once it closed or the stub stops.
  auto read_more = [&]() -> bool {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 50);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;
      if (r < 0) return false;
      char chunk[16 * 1024];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      {
        std::lock_guard lock(mu_);
        raw_.append(chunk, size_t(n));
      }
      buf.append(chunk, size_t(n));
      return true;
    }
    return false;
  };

  for (;;) {
    // ---- Head; it starts at buf[0] ----
    size_t parsed = 0;
    http::ParseStatus st = http::ParseStatus::kNeedMore;
    while (st == http::ParseStatus::kNeedMore) {
      if (parsed < buf.size()) {
        size_t used = 0;
        st = parser.FeedHead(buf.data(), parsed, buf.size(), &used);
        parsed += used;
      } else if (!read_more()) {
        ::close(fd);
        return;
      }
    }
    if (st == http::ParseStatus::kError) break;
    Request rq;
    rq.connection = index;
    rq.method = llhttp_method_name(parser.method());
    rq.target = std::string(parser.target().In(buf.data()));
    rq.version = "HTTP/" + std::to_string(parser.version_major()) + "." +
                 std::to_string(parser.version_minor());
    for (const http::HeaderSlice& h : parser.headers()) {
      rq.headers.emplace_back(h.name.In(buf.data()), h.value.In(buf.data()));
    }
    rq.head = buf.substr(0, parsed);
    buf.erase(0, parsed);
    Reply reply = script_(rq);

    // ---- Body ----
    if (!reply.before_body) {
      size_t pos = 0;
      bool broken = false;
      while (!parser.body_done()) {
        if (pos == buf.size()) {
          buf.clear();
          pos = 0;
          if (!read_more()) {
            broken = true;
            break;
          }
        }
        size_t len = buf.size() - pos;
        if (parser.chunked()) len = std::min(len, kChunkedWindow);
        http::BodyPieces pieces;
        size_t used = 0;
        st = parser.FeedBody(buf.data() + pos, len, &used, &pieces);
        pos += used;
        for (int i = 0; i < pieces.count; ++i) rq.body.append(pieces.piece[i]);
        if (st == http::ParseStatus::kError) {
          broken = true;
          break;
        }
      }
      if (broken) break;
      buf.erase(0, pos);
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(rq);
    }
    cv_.notify_all();

    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    if (!reply.bytes.empty() &&
        ::send(fd, reply.bytes.data(), reply.bytes.size(), MSG_NOSIGNAL) < 0) {
      break;
    }
    if (reply.before_body) {
      // Lingering close, as servers do after an early answer: stop sending,
      // drain what still comes for a while, so the answer is not lost to a reset.
      ::shutdown(fd, SHUT_WR);
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (std::chrono::steady_clock::now() < until && read_more()) buf.clear();
      break;
    }
    if (reply.close) break;
    parser.NextMessage();
  }
  ::close(fd);
}

}  // namespace graymesh::test
