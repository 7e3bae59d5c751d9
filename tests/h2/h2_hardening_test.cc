// HTTP/2 hardening at a real gateway: rapid reset (CVE-2023-44487) and
// CONTINUATION floods end the connection with GOAWAY ENHANCE_YOUR_CALM, and
// the upstream GOAWAY drain loses no stream the upstream did not accept. A
// draining sidecar's HTTP/2 side: graceful GOAWAY, streams in flight finish,
// every response (its own error replies too) says x-graymesh-draining.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"
#include "support/ports.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// A raw client session on a blocking loopback socket.
class RawClient {
 public:
  explicit RawClient(uint16_t port, size_t max_send_header_block = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &OnFrame);
    nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &OnClose);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    if (max_send_header_block != 0) {
      nghttp2_option_set_max_send_header_block_length(opt, max_send_header_block);
    }
    nghttp2_session_client_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() {
    nghttp2_session_del(session_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }
  nghttp2_session* session() { return session_; }

  int32_t Get(const std::string& path, const std::string& extra_value = "") {
    std::string method = "GET", scheme = "http", authority = "gw", big = "x-big";
    std::vector<nghttp2_nv> nv = {Nv(":method", method), Nv(":scheme", scheme),
                                  Nv(":authority", authority), Nv(":path", path)};
    if (!extra_value.empty()) nv.push_back(Nv(big, extra_value));
    return nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), nullptr, nullptr);
  }
  // Sends what the session has queued; false when the peer closed.
  bool Flush() {
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) return true;
      if (::send(fd_, data, size_t(n), MSG_NOSIGNAL) != n) return false;
    }
  }
  // Reads until a GOAWAY arrived, the peer closed, or `timeout`.
  void ReadUntilGoaway(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!goaway_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      uint8_t buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return;
      if (nghttp2_session_mem_recv(session_, buf, size_t(n)) < 0) return;
      Flush();
    }
  }
  // Reads until `n` streams have closed, the peer closed, or `timeout`.
  void ReadUntilClosed(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (closed_.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      uint8_t buf[16384];
      ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0) return;
      raw_.append(reinterpret_cast<const char*>(buf), size_t(got));
      if (nghttp2_session_mem_recv(session_, buf, size_t(got)) < 0) return;
      Flush();
    }
  }
  // Stream id -> :status of its response (absent: none arrived).
  const std::map<int32_t, int>& statuses() const { return status_; }
  // Stream id -> the error code it closed with.
  const std::map<int32_t, uint32_t>& closed() const { return closed_; }
  bool goaway() const { return goaway_; }
  uint32_t goaway_code() const { return goaway_code_; }
  // Last-stream-id of every GOAWAY frame ReadUntilClosed received, in
  // order, read from the bytes themselves: once a client session has no
  // stream left after a GOAWAY, nghttp2 no longer reports frames.
  std::vector<int32_t> goaway_last_ids() const {
    std::vector<int32_t> ids;
    auto byte = [&](size_t i) { return uint32_t(uint8_t(raw_[i])); };
    for (size_t at = 0; at + 9 <= raw_.size();) {
      const size_t len = byte(at) << 16 | byte(at + 1) << 8 | byte(at + 2);
      if (at + 9 + len > raw_.size()) break;
      if (byte(at + 3) == NGHTTP2_GOAWAY && len >= 8) {
        ids.push_back(int32_t((byte(at + 9) << 24 | byte(at + 10) << 16 | byte(at + 11) << 8 |
                               byte(at + 12)) & 0x7fffffff));
      }
      at += 9 + len;
    }
    return ids;
  }

 private:
  // Views, not copies: a literal name passed as `const std::string&` was a
  // temporary gone before nghttp2_submit_request read it (ASan:
  // stack-use-after-scope). Both must outlive the submit call.
  static nghttp2_nv Nv(std::string_view n, std::string_view v) {
    return {(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* f, void* user) {
    auto* self = static_cast<RawClient*>(user);
    if (f->hd.type == NGHTTP2_GOAWAY) {
      self->goaway_ = true;
      self->goaway_code_ = f->goaway.error_code;
    }
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nlen,
                      const uint8_t* value, size_t vlen, uint8_t, void* user) {
    if (std::string_view((const char*)name, nlen) == "x-graymesh-reason") {
      static_cast<RawClient*>(user)->reason_[f->hd.stream_id] = std::string((const char*)value, vlen);
    }
    if (std::string_view((const char*)name, nlen) == "x-graymesh-draining") {
      static_cast<RawClient*>(user)->draining_[f->hd.stream_id] =
          std::string((const char*)value, vlen);
    }
    if (std::string_view((const char*)name, nlen) == ":status") {
      static_cast<RawClient*>(user)->status_[f->hd.stream_id] =
          std::stoi(std::string((const char*)value, vlen));
    }
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    static_cast<RawClient*>(user)->closed_[id] = code;
    return 0;
  }

  std::map<int32_t, int> status_;
 public:
  std::map<int32_t, std::string> reason_;
  std::map<int32_t, std::string> draining_;  // stream id -> x-graymesh-draining
 private:
  std::map<int32_t, uint32_t> closed_;
  int fd_ = -1;
  bool connected_ = false;
  nghttp2_session* session_ = nullptr;
  bool goaway_ = false;
  uint32_t goaway_code_ = 0;
  std::string raw_;  // every byte ReadUntilClosed received
};

// 150 requests each cancelled at once: well under nghttp2's own RST_STREAM
// bucket (200), so only the proxy's early-reset counter stops it.
TEST(Http2Hardening, RapidResetEndsTheConnectionWithEnhanceYourCalm) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 150; ++i) {
    int32_t id = c.Get("/slow?ms=5000");
    ASSERT_GT(id, 0);
    // HEADERS on the wire first: nghttp2 drops a request reset before it left.
    if (!c.Flush()) break;
    nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    if (!c.Flush()) break;
  }
  c.ReadUntilGoaway(5s);
  ASSERT_TRUE(c.goaway());
  EXPECT_EQ(c.goaway_code(), uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

// A client that resets a few streams stays welcome.
TEST(Http2Hardening, OccasionalResetsAreFine) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 20; ++i) {
    int32_t id = c.Get("/slow?ms=5000");
    ASSERT_TRUE(c.Flush());
    nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  ASSERT_TRUE(c.Flush());
  c.ReadUntilGoaway(1s);
  EXPECT_FALSE(c.goaway());
}

// A header block spread over many CONTINUATION frames (each 16 KiB frame
// holds part of one huge field): the connection ends before the proxy
// buffers it all.
TEST(Http2Hardening, ContinuationFloodEndsTheConnection) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  RawClient c(gw.port, 1 << 20);
  ASSERT_TRUE(c.connected());
  // Random-looking bytes so HPACK/Huffman cannot shrink it into few frames.
  std::string value;
  uint32_t x = 12345;
  for (int i = 0; i < 400 * 1024; ++i) {
    x = x * 1103515245 + 12345;
    value.push_back(char('!' + (x >> 16) % 90));
  }
  ASSERT_GT(c.Get("/hello", value), 0);
  c.Flush();
  c.ReadUntilGoaway(5s);
  ASSERT_TRUE(c.goaway());
  EXPECT_NE(c.goaway_code(), uint32_t(NGHTTP2_NO_ERROR));
}

// The upstream sends GOAWAY now and then while 60 requests are in flight on
// one client connection: the streams it did not accept are sent again, on
// a new connection, so every request succeeds.
TEST(Http2Hardening, UpstreamGoawayUnderLoadLosesNoRequest) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Http2ServiceAt(up.port));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 60; ++i) ASSERT_GT(c.Get(i % 20 == 0 ? "/goaway" : "/slow?ms=50"), 0);
  ASSERT_TRUE(c.Flush());
  c.ReadUntilClosed(60, 10s);
  ASSERT_EQ(c.closed().size(), 60u);
  for (auto [id, code] : c.closed()) {
    EXPECT_EQ(code, 0u) << "stream " << id;
    auto st = c.statuses().find(id);
    ASSERT_NE(st, c.statuses().end()) << "stream " << id;
    EXPECT_EQ(st->second, 200) << "stream " << id << ": " << c.reason_[id];
  }
  EXPECT_GT(gw.Metric("upstream_cx_total"), 1u);  // the GOAWAYs closed connections
}

// Item: a draining sidecar's own HTTP/2 error replies lacked the draining
// mark. Its app is gone (the sidecar answers 502/503 itself): before the drain
// the reply has no mark; after SIGTERM, a caller connecting anew (the
// listener still accepts) gets the 502 with `x-graymesh-draining: 1`, then
// the graceful GOAWAY: a notice (2^31-1), then the last stream it took.
TEST(Http2SidecarDrain, ItsOwnErrorRepliesSayItIsDrainingAndGoawayFollows) {
  const RefusingPort app;
  Sidecar sc = Sidecar::Start("payment", app, "", {"--drain-quiet", "2s"});
  {
    RawClient before(sc.inbound);
    ASSERT_TRUE(before.connected());
    const int32_t id = before.Get("/x");
    ASSERT_TRUE(before.Flush());
    before.ReadUntilClosed(1, 5s);
    ASSERT_EQ(before.statuses().count(id), 1u) << sc.proc->Log();
    EXPECT_GE(before.statuses().at(id), 502) << before.reason_[id];
    EXPECT_EQ(before.draining_.count(id), 0u);
  }
  sc.proc->Signal(SIGTERM);
  std::this_thread::sleep_for(50ms);
  RawClient c(sc.inbound);
  ASSERT_TRUE(c.connected()) << "a draining sidecar still accepts callers";
  const int32_t id = c.Get("/x");
  ASSERT_TRUE(c.Flush());
  c.ReadUntilClosed(1, 5s);
  ASSERT_EQ(c.statuses().count(id), 1u) << sc.proc->Log();
  EXPECT_GE(c.statuses().at(id), 502) << c.reason_[id];
  EXPECT_EQ(c.draining_[id], "1") << "the proxy's own reply carries the mark";
  // Both GOAWAYs within a few ticks, NO_ERROR: the notice, then the real one.
  for (auto until = std::chrono::steady_clock::now() + 2s;
       c.goaway_last_ids().size() < 2 && std::chrono::steady_clock::now() < until;) {
    c.ReadUntilClosed(2, 100ms);
  }
  ASSERT_EQ(c.goaway_last_ids().size(), 2u)
      << "first last-stream-id " << (c.goaway_last_ids().empty() ? -1 : c.goaway_last_ids()[0]);
  EXPECT_EQ(c.goaway_code(), uint32_t(NGHTTP2_NO_ERROR));
  EXPECT_EQ(c.goaway_last_ids()[0], int32_t(0x7fffffff)) << "first a shutdown notice";
  EXPECT_EQ(c.goaway_last_ids()[1], id) << "then the last stream taken";
  sc.proc->Signal(SIGKILL);
}

// Streams in flight when the drain starts finish on their connection, with
// the mark; the GOAWAY names them as taken.
TEST(Http2SidecarDrain, StreamsInFlightFinishAfterTheGoaway) {
  NodeH2Server up = NodeH2Server::Start("app");
  Sidecar sc = Sidecar::Start("payment", up.port, "", {"--drain-quiet", "300ms"});
  RawClient c(sc.inbound);
  ASSERT_TRUE(c.connected());
  const int32_t slow = c.Get("/slow?ms=1200");
  ASSERT_TRUE(c.Flush());
  std::this_thread::sleep_for(300ms);
  sc.proc->Signal(SIGTERM);
  c.ReadUntilClosed(1, 5s);
  ASSERT_EQ(c.statuses().count(slow), 1u) << sc.proc->Log();
  EXPECT_EQ(c.statuses().at(slow), 200) << c.reason_[slow];
  EXPECT_EQ(c.closed().at(slow), 0u);
  EXPECT_EQ(c.draining_[slow], "1");
  ASSERT_FALSE(c.goaway_last_ids().empty());
  EXPECT_EQ(c.goaway_last_ids().back(), slow);
  EXPECT_EQ(sc.proc->Wait(5s), 0) << sc.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
