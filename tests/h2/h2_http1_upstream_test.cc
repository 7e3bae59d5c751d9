// HTTP/2 clients of HTTP/1.1 upstreams (h2/http1_upstream.h): a real
// gateway in front of `graymesh sample-app` and scripted HTTP/1.1 upstreams,
// with curl (prior knowledge, and ALPN h2 over TLS) and a raw nghttp2 client
// for the frames curl does not send on purpose (RST_STREAM mid-response, a
// body without content-length).
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include "h2/h2_peers.h"
#include "h2/tls_fixture.h"
#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/ports.h"
#include "support/proc_stats.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// `protocol` empty: the default (auto).
std::string ServiceAt(uint16_t port, const std::string& protocol = "",
                      const std::string& extra = "") {
  return "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n" +
         (protocol.empty() ? std::string() : "    protocol: " + protocol + "\n") +
         "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(port) + "\n" + extra;
}

uint64_t Fnv1a64(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string Hex16(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof(b), "%016llx", static_cast<unsigned long long>(v));
  return b;
}

// A raw client session on a blocking loopback socket.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &OnClose);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() {
    nghttp2_session_del(session_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }
  nghttp2_session* session() { return session_; }

  // A request; with `body`, a POST whose body goes without content-length.
  // With `hold`, only the first `hold` bytes of it are sent, and then none.
  int32_t Request(const std::string& path, const std::string* body = nullptr,
                  size_t hold = SIZE_MAX) {
    hold_ = hold;
    std::string_view method = body != nullptr ? "POST" : "GET";
    nghttp2_nv nv[] = {Nv(":method", method), Nv(":scheme", "http"), Nv(":authority", "gw"),
                       Nv(":path", path)};
    nghttp2_data_provider dp{};
    if (body != nullptr) {
      upload_ = *body;
      upload_at_ = 0;
      dp.read_callback = &ReadUpload;
    }
    return nghttp2_submit_request(session_, nullptr, nv, 4, body != nullptr ? &dp : nullptr,
                                  nullptr);
  }
  bool Flush() {
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) return true;
      if (::send(fd_, data, size_t(n), MSG_NOSIGNAL) != n) return false;
    }
  }
  // Reads until `done()` holds, the peer closed, or `timeout`.
  template <typename Pred>
  void ReadUntil(Pred done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      Flush();
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      uint8_t buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return;
      if (nghttp2_session_mem_recv(session_, buf, size_t(n)) < 0) return;
    }
    Flush();
  }
  std::map<int32_t, int> status;          // :status by stream
  std::map<int32_t, size_t> body_bytes;   // DATA received by stream
  std::map<int32_t, uint32_t> closed;     // close code by stream
  std::map<int32_t, std::string> body;    // DATA received by stream (first 64 KiB)

 private:
  static nghttp2_nv Nv(std::string_view n, std::string_view v) {
    return {(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nlen,
                      const uint8_t* value, size_t vlen, uint8_t, void* user) {
    if (std::string_view((const char*)name, nlen) == ":status") {
      static_cast<RawClient*>(user)->status[f->hd.stream_id] =
          std::stoi(std::string((const char*)value, vlen));
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<RawClient*>(user);
    self->body_bytes[id] += len;
    std::string& b = self->body[id];
    if (b.size() < 65536) b.append((const char*)data, std::min(len, 65536 - b.size()));
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    static_cast<RawClient*>(user)->closed[id] = code;
    return 0;
  }
  static ssize_t ReadUpload(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                            uint32_t* flags, nghttp2_data_source*, void* user) {
    auto* self = static_cast<RawClient*>(user);
    size_t n = std::min(length, std::min(self->upload_.size(), self->hold_) - self->upload_at_);
    if (n == 0 && self->upload_at_ < self->upload_.size()) return NGHTTP2_ERR_DEFERRED;
    std::memcpy(buf, self->upload_.data() + self->upload_at_, n);
    self->upload_at_ += n;
    if (self->upload_at_ == self->upload_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return ssize_t(n);
  }

  int fd_ = -1;
  bool connected_ = false;
  nghttp2_session* session_ = nullptr;
  std::string upload_;
  size_t upload_at_ = 0;
  size_t hold_ = SIZE_MAX;
};

// The common case behind a gateway: an app that speaks only HTTP/1.1, and
// a service that leaves `protocol` at its default.
TEST(Http2ToHttp1, PriorKnowledgeRequestReachesAnHttp1App) {
  SampleApp app = SampleApp::Start("plain");
  Gateway gw = Gateway::Start(ServiceAt(app.port));
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "cookie: a=1", "-H", "cookie: b=2",
                       Url(gw.port, "/echo?x=1")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "\"version\":\"HTTP/1.1\"")) << r.out;
  EXPECT_TRUE(Has(r, "\"target\":\"/echo?x=1\"")) << r.out;
  // :authority is the Host; the cookie fields are one line again.
  EXPECT_TRUE(Has(r, "[\"host\",\"127.0.0.1:" + std::to_string(gw.port) + "\"]")) << r.out;
  EXPECT_TRUE(Has(r, "[\"cookie\",\"a=1; b=2\"]")) << r.out;
  EXPECT_FALSE(Has(r, "\"te\"")) << r.out;
  // Response fields are lower-case for HTTP/2, without hop-by-hop ones.
  EXPECT_TRUE(Has(r, "< content-type: application/json")) << r.out;
  EXPECT_FALSE(Has(r, "< connection:")) << r.out;
  EXPECT_FALSE(Has(r, "< keep-alive:")) << r.out;

  CurlResult head = Curl({"--http2-prior-knowledge", "-I", Url(gw.port, "/bytes?n=1234")});
  EXPECT_EQ(head.exit_code, 0) << head.out;
  EXPECT_TRUE(Has(head, "< HTTP/2 200")) << head.out;
  EXPECT_TRUE(Has(head, "< content-length: 1234")) << head.out;
}

TEST(Http2ToHttp1, TlsWithAlpnH2ReachesAnHttp1App) {
  const std::string dir = TestTempDir() + "/h2h1-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  MakeCert(dir, "default", "default.test");
  MakeCert(dir, "b", "b.test");
  SampleApp app = SampleApp::Start("plain");
  TlsGatewayProc g = StartTlsGateway(dir, ServiceAt(app.port, "http1"));
  CurlResult r = Curl({"--http2", "-k", "--resolve", Resolve("a.test", g.port),
                       HttpsUrl("a.test", g.port, "/echo")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Has(r, "ALPN: server accepted h2")) << r.out;
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "\"version\":\"HTTP/1.1\"")) << r.out;
  EXPECT_TRUE(Has(r, "[\"host\",\"a.test:" + std::to_string(g.port) + "\"]")) << r.out;

  const std::string body = WriteTempFile("tls-up.bin", std::string(3 << 20, 'q'));
  CurlResult post = Curl({"--http2", "-k", "--resolve", Resolve("a.test", g.port),
                          "--data-binary", "@" + body, HttpsUrl("a.test", g.port, "/up")});
  EXPECT_TRUE(Has(post, "< HTTP/2 200")) << post.out.substr(0, 3000);
  EXPECT_TRUE(Has(post, "\"bodyBytes\":3145728")) << post.out.substr(0, 3000);
}

// 32 MiB each way, with a content-length and chunked: it arrives whole and
// in order, and the gateway's memory does not grow by anything near a body,
// since it reads from each side only what the other has taken.
TEST(Http2ToHttp1, LargeBodiesStreamBothWaysWithoutBuffering) {
  SampleApp app = SampleApp::Start("plain");
  Gateway gw = Gateway::Start(ServiceAt(app.port));
  CurlResult warm = Curl({"--http2-prior-knowledge", Url(gw.port, "/echo")});
  ASSERT_TRUE(Has(warm, "< HTTP/2 200")) << warm.out;
  const int64_t before = PeakRssKib(gw.proc->pid());

  std::string data(32 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char('a' + (i * 7 + i / 4096) % 26);
  const std::string file = WriteTempFile("big.bin", data);
  CurlResult up = Curl({"--http2-prior-knowledge", "--data-binary", "@" + file,
                        Url(gw.port, "/upload")});
  EXPECT_TRUE(Has(up, "< HTTP/2 200")) << up.out.substr(0, 3000);
  EXPECT_TRUE(Has(up, "\"bodyBytes\":33554432")) << up.out.substr(0, 3000);
  EXPECT_TRUE(Has(up, "\"fnv1a64\":\"" + Hex16(Fnv1a64(data)) + "\"")) << up.out.substr(0, 3000);

  for (const char* path : {"/bytes?n=33554432", "/chunked?n=33554432"}) {
    SCOPED_TRACE(path);
    CurlResult down = Curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w",
                            "size=%{size_download}\n", Url(gw.port, path)});
    EXPECT_EQ(down.exit_code, 0) << down.out.substr(0, 3000);
    EXPECT_TRUE(Has(down, "size=33554432")) << down.out.substr(0, 3000);
  }
  const int64_t after = PeakRssKib(gw.proc->pid());
  EXPECT_LT(after - before, 12 * 1024 * kSanitizerMemoryFactor)
      << "peak RSS grew from " << before << " KiB to " << after << " KiB";
}

// An HTTP/2 body without content-length goes chunked; the backend reads the
// same bytes.
TEST(Http2ToHttp1, BodyWithoutLengthGoesChunked) {
  RecordingUpstream up(&RecordingUpstream::AnswerNaming);
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  std::string body(200000, 'z');
  body.replace(0, 5, "start");
  int32_t id = c.Request("/post", &body);
  ASSERT_GT(id, 0);
  c.ReadUntil([&] { return c.closed.count(id) > 0; }, 10s);
  EXPECT_EQ(c.status[id], 200);
  EXPECT_EQ(c.body[id], "answer to: POST /post");
  std::vector<RecordingUpstream::Request> seen = up.requests();
  ASSERT_EQ(seen.size(), 1u) << up.raw().substr(0, 2000);
  EXPECT_EQ(seen[0].Header("transfer-encoding"), "chunked");
  EXPECT_EQ(seen[0].Header("content-length"), "<none>");
  EXPECT_EQ(seen[0].body, body);
}

// A client that stops in the middle of its body: the upstream request is
// given up after timeouts.idle (408), and says nothing against the endpoint.
TEST(Http2ToHttp1, ClientStallingMidBodyIsA408) {
  RecordingUpstream up(&RecordingUpstream::AnswerNaming);
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1", "timeouts:\n  idle: 500ms\n"));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  std::string body(100000, 'z');
  int32_t id = c.Request("/post", &body, 1000);
  c.ReadUntil([&] { return c.closed.count(id) > 0; }, 10s);
  EXPECT_EQ(c.status[id], 408);
  EXPECT_NE(c.body[id].find("no request body bytes"), std::string::npos) << c.body[id];
  EXPECT_EQ(gw.Metric("upstream_rq_timeout"), 0u);
}

// limits.maxBodyBytes holds for HTTP/2 requests as for HTTP/1.1 ones: a
// declared length over it is refused before anything goes upstream, a body
// without length once it passes the limit.
TEST(Http2ToHttp1, BodyOverTheLimitIsA413) {
  RecordingUpstream up(&RecordingUpstream::AnswerNaming);
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1", "limits:\n  maxBodyBytes: 100000\n"));
  const std::string big = WriteTempFile("over.bin", std::string(200000, 'o'));
  CurlResult r = Curl({"--http2-prior-knowledge", "--data-binary", "@" + big, Url(gw.port, "/a")});
  EXPECT_TRUE(Has(r, "< HTTP/2 413")) << r.out.substr(0, 3000);
  EXPECT_TRUE(Has(r, "request body larger than the limit")) << r.out.substr(0, 3000);
  EXPECT_TRUE(up.requests().empty());

  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  std::string body(200000, 'z');
  int32_t id = c.Request("/b", &body);
  c.ReadUntil([&] { return c.closed.count(id) > 0; }, 10s);
  EXPECT_EQ(c.status[id], 413);

  std::string small(50000, 's');
  int32_t ok = c.Request("/c", &small);
  c.ReadUntil([&] { return c.closed.count(ok) > 0; }, 10s);
  EXPECT_EQ(c.status[ok], 200);
  EXPECT_EQ(c.body[ok], "answer to: POST /c");
}

TEST(Http2ToHttp1, LanesAreKept) {
  SampleApp base = SampleApp::Start("app", "");
  SampleApp gray = SampleApp::Start("app", "gray");
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(base.port) +
      "\n      - address: 127.0.0.1:" + std::to_string(gray.port) +
      "\n        labels: { lane: gray }\n"
      "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n"
      "      match:\n        - headers: { x-env: gray }\n");
  for (int i = 0; i < 3; ++i) {
    CurlResult r = Curl({"--http2-prior-knowledge", "-H", "x-env: gray", Url(gw.port, "/p")});
    EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
    EXPECT_TRUE(Has(r, "\"lane\":\"gray\"")) << r.out;
    EXPECT_TRUE(Has(r, "\"x-graymesh-lane\":\"gray\"")) << r.out;
    EXPECT_TRUE(Has(r, "\"baggage\":\"graymesh-lane=gray\"")) << r.out;
    CurlResult plain = Curl({"--http2-prior-knowledge", Url(gw.port, "/p")});
    EXPECT_TRUE(Has(plain, "< HTTP/2 200")) << plain.out;
    EXPECT_TRUE(Has(plain, "\"lane\":\"\"")) << plain.out;
  }
}

// The client resets its stream while the response body is coming: the
// upstream request is aborted, and that connection (mid-message) is never
// handed to the next request, which gets a fresh one.
TEST(Http2ToHttp1, ClientResetMidResponseAbortsTheUpstreamRequest) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    RecordingUpstream::Reply r;
    if (rq.target == "/big") {
      r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n" + std::string(8 << 20, 'b');
    } else {
      r = RecordingUpstream::AnswerNaming(rq);
    }
    return r;
  });
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  int32_t big = c.Request("/big");
  c.ReadUntil([&] { return c.body_bytes[big] > 0; }, 10s);
  ASSERT_GT(c.body_bytes[big], 0u);
  nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, big, NGHTTP2_CANCEL);
  ASSERT_TRUE(c.Flush());
  int32_t next = c.Request("/next");
  c.ReadUntil([&] { return c.closed.count(next) > 0; }, 10s);
  EXPECT_EQ(c.status[next], 200);
  EXPECT_EQ(c.body[next], "answer to: GET /next");
  EXPECT_LT(c.body_bytes[big], size_t(8 << 20));
  EXPECT_EQ(up.connections(), 2);  // /next did not land on the aborted connection
}

// The same while the request body is still going up: the upstream sees
// the request cut off (its connection closes), and the next request gets a
// connection of its own rather than the one left mid-body.
TEST(Http2ToHttp1, ClientResetMidRequestBodyAbortsTheUpstreamRequest) {
  RecordingUpstream up(&RecordingUpstream::AnswerNaming);
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  std::string body(100000, 'u');
  int32_t id = c.Request("/upload", &body, 20000);
  c.ReadUntil([&] { return up.raw().size() > 20000; }, 5s);
  ASSERT_GT(up.raw().size(), 20000u);
  nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  ASSERT_TRUE(c.Flush());
  int32_t next = c.Request("/next");
  c.ReadUntil([&] { return c.closed.count(next) > 0; }, 10s);
  EXPECT_EQ(c.status[next], 200);
  EXPECT_EQ(c.body[next], "answer to: GET /next");
  EXPECT_EQ(c.status.count(id), 0u);  // no answer was made up for the cut request
  EXPECT_EQ(up.connections(), 2);
  std::vector<RecordingUpstream::Request> seen = up.requests();
  ASSERT_EQ(seen.size(), 1u);  // only /next was a whole request
  EXPECT_EQ(seen[0].target, "/next");
}

// The upstream dies after part of the body: the client's stream is reset
// (curl: exit 92), not ended as if complete and not left hanging.
TEST(Http2ToHttp1, UpstreamDyingMidResponseResetsTheStream) {
  RecordingUpstream up([](const RecordingUpstream::Request&) {
    RecordingUpstream::Reply r;
    r.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'x');
    r.close = true;
    return r;
  });
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
  CurlResult r = Curl({"--http2-prior-knowledge", "-o", "/dev/null", Url(gw.port, "/cut")});
  // The head may or may not have left before the reset (the write loop runs
  // after the read that saw the close); the reset is what counts.
  EXPECT_EQ(r.exit_code, 92) << r.out;  // CURLE_HTTP2_STREAM, not 28 (timeout) or 0

  // Dying before a byte of response: 502 with the reason.
  RecordingUpstream silent([](const RecordingUpstream::Request&) {
    RecordingUpstream::Reply r;
    r.close = true;
    return r;
  });
  Gateway gw2 = Gateway::Start(ServiceAt(silent.port(), "http1", "upstream:\n  retries: 0\n"));
  CurlResult r2 = Curl({"--http2-prior-knowledge", Url(gw2.port, "/x")});
  EXPECT_TRUE(Has(r2, "< HTTP/2 502")) << r2.out;
  EXPECT_TRUE(Has(r2, "closed before responding")) << r2.out;
}

// Responses the HTTP/1.1 path refuses as ambiguous framing are a 502 here
// too: never passed through to the client, never pooled.
TEST(Http2ToHttp1, SmugglingStyleResponsesAreA502) {
  const std::vector<std::string> bad = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok",
  };
  for (const std::string& reply : bad) {
    SCOPED_TRACE(reply);
    RecordingUpstream up([&](const RecordingUpstream::Request&) {
      RecordingUpstream::Reply r;
      r.bytes = reply;
      r.close = true;
      return r;
    });
    Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
    CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/x")});
    const bool head_refused = Has(r, "< HTTP/2 502") && Has(r, "malformed upstream response");
    // A broken chunk comes after the head was submitted: the stream is reset instead.
    const bool body_refused = r.exit_code == 92;
    EXPECT_TRUE(head_refused || body_refused) << r.out;
    EXPECT_FALSE(Has(r, "hello")) << r.out;
  }
}

// HTTP/1.1 carries one request per connection at a time: 20 streams of one
// client connection go out on as many pooled connections, which the next
// 20 reuse. (A raw client: curl 7.88 --parallel without
// --parallel-immediate fails its own multiplexed transfers, whatever the
// server, and with it opens a connection per transfer.)
TEST(Http2ToHttp1, ConcurrentStreamsSpreadOverPooledConnections) {
  SampleApp app = SampleApp::Start("plain");
  Gateway gw = Gateway::Start(ServiceAt(app.port));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::vector<int32_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(c.Request("/sleep?ms=300"));
    ASSERT_TRUE(c.Flush());
    auto all_closed = [&] {
      for (int32_t id : ids) {
        if (c.closed.count(id) == 0) return false;
      }
      return true;
    };
    c.ReadUntil(all_closed, 15s);
    for (int32_t id : ids) {
      EXPECT_EQ(c.status[id], 200) << "stream " << id;
      EXPECT_EQ(c.closed[id], 0u) << "stream " << id;
      EXPECT_NE(c.body[id].find("\"sleptMs\":300"), std::string::npos) << c.body[id];
    }
  }
  // Round one opened one connection per stream it had in flight (more than
  // one); round two found them pooled.
  const uint64_t opened = gw.Metric("upstream_cx_total");
  EXPECT_GT(opened, 1u);
  EXPECT_LE(opened, 20u);
  EXPECT_GE(gw.Metric("upstream_cx_reused"), 10u);
}

// A real HTTP/1.1-only server (nginx without http2 on its listener): what
// it sees is HTTP/1.1 with the client's authority as Host, and a file it
// sends whole arrives whole.
TEST(Http2ToHttp1, RealNginxAsHttp1Upstream) {
  if (access("/usr/sbin/nginx", X_OK) != 0) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup.sh installs it)";
  }
  const uint16_t port = FreePort();
  const std::string dir = TestTempDir() + "/h2h1-nginx-" + std::to_string(port);
  std::filesystem::create_directories(dir + "/tmp");
  std::filesystem::create_directories(dir + "/www");
  std::ofstream(dir + "/www/big.bin") << std::string(5 << 20, 'n');
  std::ofstream(dir + "/nginx.conf")
      << "pid " << dir << "/nginx.pid;\nerror_log " << dir << "/error.log warn;\n"
      << "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
      << "  client_body_temp_path " << dir << "/tmp/body;\n  proxy_temp_path " << dir
      << "/tmp/proxy;\n  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n  uwsgi_temp_path "
      << dir << "/tmp/uwsgi;\n  scgi_temp_path " << dir << "/tmp/scgi;\n"
      << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << dir << "/www;\n"
      << "    location = /who { return 200 \"$request_method $http_host $server_protocol\\n\"; }\n"
      << "  }\n}\n";
  ChildProcess nginx("/usr/sbin/nginx",
                     {"-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/error.log", "-g",
                      "daemon off; master_process off;"});
  ASSERT_TRUE(WaitForPort(port, 5s));
  Gateway gw = Gateway::Start(ServiceAt(port));
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/who")});
  EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  EXPECT_TRUE(Has(r, "GET 127.0.0.1:" + std::to_string(gw.port) + " HTTP/1.1\n")) << r.out;
  EXPECT_TRUE(Has(r, "< server: nginx")) << r.out;
  CurlResult big = Curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w",
                         "size=%{size_download}\n", Url(gw.port, "/big.bin")});
  EXPECT_EQ(big.exit_code, 0) << big.out;
  EXPECT_TRUE(Has(big, "size=5242880")) << big.out;
}

// Sends `n` GETs one after the other on one connection; statuses in order.
std::vector<int> Sequential(RawClient& c, const std::string& path, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    int32_t id = c.Request(path);
    c.ReadUntil([&] { return c.closed.count(id) > 0; }, 10s);
    out.push_back(c.status[id]);
  }
  return out;
}

TEST(Http2ToHttp1, InterimResponsesAreDroppedAndUpgradeIsA502) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    RecordingUpstream::Reply r;
    if (rq.target == "/interim") {
      r.bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    } else {
      r.bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
      r.close = true;
    }
    return r;
  });
  Gateway gw = Gateway::Start(ServiceAt(up.port(), "http1"));
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  int32_t a = c.Request("/interim");
  c.ReadUntil([&] { return c.closed.count(a) > 0; }, 10s);
  EXPECT_EQ(c.status[a], 200);
  EXPECT_EQ(c.body[a], "ok");
  int32_t b = c.Request("/upgrade");
  c.ReadUntil([&] { return c.closed.count(b) > 0; }, 10s);
  EXPECT_EQ(c.status[b], 502);
  EXPECT_NE(c.body[b].find("protocol upgrade is not supported"), std::string::npos) << c.body[b];
}

// A draining sidecar's mark: acted on as for HTTP/1.1 clients (that
// endpoint leaves the rotation at once) and not passed on to the client.
TEST(Http2ToHttp1, DrainingMarkTakesTheEndpointOutAndStaysHere) {
  RecordingUpstream draining([](const RecordingUpstream::Request&) {
    RecordingUpstream::Reply r;
    r.bytes = "HTTP/1.1 200 OK\r\nx-graymesh-draining: 1\r\nContent-Length: 2\r\n\r\nok";
    return r;
  });
  RecordingUpstream ok(&RecordingUpstream::AnswerNaming);
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(draining.port()) +
      "\n      - address: 127.0.0.1:" + std::to_string(ok.port()) + "\n");
  for (int i = 0; i < 6; ++i) {
    CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/a")});
    EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
    EXPECT_FALSE(Has(r, "x-graymesh-draining")) << r.out;
  }
  EXPECT_EQ(draining.requests().size(), 1u);
  EXPECT_EQ(ok.requests().size(), 5u);
}

// Outlier ejection hears of HTTP/2 clients' requests as of HTTP/1.1 ones':
// the failing instance is out after its third 500.
TEST(Http2ToHttp1, FailingEndpointIsEjected) {
  SampleApp a = SampleApp::Start("s"), b = SampleApp::Start("s");
  SampleApp bad = SampleApp::Start("s", "", {"--fail-rate", "1"});
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    outlier: { consecutiveErrors: 3, maxEjectionPercent: 50 }\n    endpoints:\n"
      "      - address: 127.0.0.1:" + std::to_string(a.port) + "\n      - address: 127.0.0.1:" +
      std::to_string(b.port) + "\n      - address: 127.0.0.1:" + std::to_string(bad.port) + "\n");
  RawClient c(gw.port);
  ASSERT_TRUE(c.connected());
  std::vector<int> first = Sequential(c, "/x", 30);
  EXPECT_EQ(std::count(first.begin(), first.end(), 500), 3);
  std::vector<int> then = Sequential(c, "/x", 30);
  EXPECT_EQ(std::count(then.begin(), then.end(), 200), 30);
  EXPECT_EQ(gw.Metric("upstream_ejections"), 1u);
}

// A dead endpoint costs a retry on the other one, as for HTTP/1.1 clients.
TEST(Http2ToHttp1, ConnectFailureIsRetriedOnAnotherEndpoint) {
  SampleApp app = SampleApp::Start("plain");
  RefusingPort dead;
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
      "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(dead.port()) +
      "\n      - address: 127.0.0.1:" + std::to_string(app.port) + "\n");
  for (int i = 0; i < 4; ++i) {
    CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/echo")});
    EXPECT_TRUE(Has(r, "< HTTP/2 200")) << r.out;
  }
  EXPECT_GE(gw.Metric("upstream_rq_retry"), 1u);
  EXPECT_GE(gw.Metric("upstream_cx_connect_fail"), 1u);
}

}  // namespace
}  // namespace graymesh::test
