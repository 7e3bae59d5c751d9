// Responses as RFC 9112 §6.3 frames them (204, 304, HEAD), upstream protocol
// errors that must not outlive their exchange, and early answers.
#include <gtest/gtest.h>

#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

using Reply = RecordingUpstream::Reply;
using Request = RecordingUpstream::Request;

// Answers by target: badly framed responses, bodiless ones, the rest named.
Reply Script(const Request& rq) {
  if (rq.target == "/garbage") return {.bytes = "this is not http\r\n\r\n"};
  if (rq.target == "/two-lengths") {
    return {.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"};
  }
  if (rq.target == "/switch") {
    return {.bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: upgrade\r\n\r\n"};
  }
  if (rq.target == "/not-modified") {
    return {.bytes = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\n"};
  }
  if (rq.target == "/not-modified-then-bytes") {
    return {.bytes = "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello"};
  }
  if (rq.target == "/no-content") {
    return {.bytes = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"};
  }
  if (rq.target == "/too-large") {
    return {.bytes = "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
                     "Content-Length: 8\r\n\r\ntoo big\n",
            .before_body = true};
  }
  return RecordingUpstream::AnswerNaming(rq);
}

class ResponseFraming : public ::testing::Test {
 protected:
  void SetUp() override {
    gw_ = Gateway::Start(OneServiceAt(up_.port(), "timeouts: { idle: 3s, response: 3s }\n"));
  }
  RecordingUpstream up_{Script};
  Gateway gw_;
};

// One bad upstream answer: 502 with `connection: close`, the client connection
// closed (never reused with a parser in an error state), the upstream
// connection never pooled, and the next client served normally.
TEST_F(ResponseFraming, UpstreamProtocolErrorClosesTheClientConnectionAfterThe502) {
  for (const char* bad : {"/garbage", "/two-lengths", "/switch"}) {
    SCOPED_TRACE(bad);
    TestConnection c(gw_.port);
    // Pipelined: the second request must not be answered on this connection.
    ASSERT_TRUE(c.Send(std::string("GET ") + bad + " HTTP/1.1\r\nHost: a\r\n\r\n" +
                       "GET /second HTTP/1.1\r\nHost: a\r\n\r\n"));
    Response r = c.ReadResponse(2s);
    EXPECT_EQ(r.status, 502) << r.error;
    EXPECT_EQ(r.Header("connection"), "close");
    EXPECT_FALSE(r.Header("x-graymesh-reason").empty());
    EXPECT_TRUE(c.IsClosedByPeer(2s));

    Response next = HttpGet(gw_.port, "/fresh");
    ASSERT_EQ(next.status, 200) << next.error;
    EXPECT_EQ(next.body, "answer to: GET /fresh");
    std::vector<Request> seen = up_.requests();
    ASSERT_GE(seen.size(), 2u);
    EXPECT_EQ(seen[seen.size() - 2].target, bad);
    EXPECT_NE(seen.back().connection, seen[seen.size() - 2].connection)
        << "the broken upstream connection was pooled";
  }
  for (const Request& rq : up_.requests()) EXPECT_NE(rq.target, "/second");
}

// The sidecar's outbound side: the app's connection is closed after the 502,
// and its next connection reaches any service.
TEST(ResponseFramingSidecar, OutboundProtocolErrorClosesTheAppConnectionOnly) {
  RecordingUpstream bad(Script);
  RecordingUpstream good(Script);
  RecordingUpstream app(Script);
  Sidecar sc = Sidecar::Start(
      "order", app.port(),
      "services:\n  - name: bad\n    endpoints:\n      - address: 127.0.0.1:" +
          std::to_string(bad.port()) + "\n  - name: good\n    endpoints:\n      - address: "
          "127.0.0.1:" + std::to_string(good.port()) + "\n");
  TestConnection c(sc.outbound);
  ASSERT_TRUE(c.Send("GET http://bad/garbage HTTP/1.1\r\nHost: bad\r\n\r\n"));
  Response r = c.ReadResponse(2s);
  EXPECT_EQ(r.status, 502) << r.error;
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c.IsClosedByPeer(2s));

  TestConnection again(sc.outbound);
  for (const char* target : {"http://good/x", "http://bad/y"}) {
    ASSERT_TRUE(again.Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    Response ok = again.ReadResponse(2s);
    ASSERT_EQ(ok.status, 200) << target << ": " << ok.error;
    EXPECT_FALSE(ok.closed_after);
  }
}

// 304 with Content-Length: no body follows; the next request is not stalled
// and the upstream connection is reused. The Content-Length is metadata here
// and reaches the client.
TEST_F(ResponseFraming, NotModifiedWithContentLengthHasNoBodyAndDoesNotStall) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /not-modified HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string head = RecvUntil(c.fd(), "\r\n\r\n", 2s);
  ASSERT_EQ(head.rfind("HTTP/1.1 304 ", 0), 0u) << head;
  EXPECT_NE(head.find("\r\ncontent-length: 5\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("\r\n\r\n") + 4, head.size()) << head;

  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string next = RecvUntil(c.fd(), "answer to: GET /next", 2s);
  EXPECT_NE(next.find("answer to: GET /next"), std::string::npos) << next;
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(up_.connections(), 1);
}

// Bytes an upstream sends after a 304 are not a body and never reach the
// client; that upstream connection is not reused.
TEST_F(ResponseFraming, BytesAfterA304AreNotRelayed) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /not-modified-then-bytes HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string head = RecvUntil(c.fd(), "\r\n\r\n", 2s);
  ASSERT_EQ(head.rfind("HTTP/1.1 304 ", 0), 0u) << head;
  ASSERT_TRUE(c.Send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string next = head.substr(head.find("\r\n\r\n") + 4) +
                     RecvUntil(c.fd(), "answer to: GET /next", 2s);
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next;
  EXPECT_EQ(next.find("hello"), std::string::npos) << next;
  EXPECT_EQ(up_.connections(), 2);
}

// 204: no body, and no Content-Length towards the client (RFC 9110 §8.6).
TEST_F(ResponseFraming, NoContentWithContentLengthHasNoBodyAndDoesNotStall) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /no-content HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string head = RecvUntil(c.fd(), "\r\n\r\n", 2s);
  ASSERT_EQ(head.rfind("HTTP/1.1 204 ", 0), 0u) << head;
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  ASSERT_TRUE(c.Send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string next = RecvUntil(c.fd(), "answer to: GET /next", 1500ms);
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next;
  EXPECT_EQ(up_.connections(), 1);
}

// HEAD: the upstream's Content-Length describes the GET body and is kept;
// no body is relayed and the upstream connection is reused.
TEST_F(ResponseFraming, HeadKeepsContentLengthAndTheConnectionIsReused) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string head = RecvUntil(c.fd(), "\r\n\r\n", 2s);
  ASSERT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
  // The length of "answer to: HEAD /h", as the upstream said.
  EXPECT_NE(head.find("\r\ncontent-length: 18\r\n"), std::string::npos) << head;
  ASSERT_TRUE(c.Send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string next = RecvUntil(c.fd(), "answer to: GET /next", 1500ms);
  EXPECT_EQ(next.rfind("HTTP/1.1 200 ", 0), 0u) << next;
  EXPECT_EQ(up_.connections(), 1);
}

// An upstream that refuses the body before it has all arrived: the client gets
// that answer (not a 502), then the connection closes.
TEST_F(ResponseFraming, EarlyUpstreamResponseIsRelayedThenTheConnectionCloses) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("POST /too-large HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n" +
                     std::string(1000, 'x')));
  // The client waits for an answer before sending the rest (as curl does).
  Response r = c.ReadResponse(2500ms);
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(r.body, "too big\n");
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c.IsClosedByPeer(2s));
  EXPECT_EQ(HttpGet(gw_.port, "/after").status, 200);
}

// While the body streams the proxy waits on both sockets; a client that
// stops halfway is still cut off by the idle timeout.
TEST_F(ResponseFraming, ClientStallingMidBodyIsCutOffByTheIdleTimeout) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123"));
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(c.Send("4567"));  // now the proxy is in the streaming loop
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.IsClosedByPeer(6s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(HttpGet(gw_.port, "/after").status, 200);
}

}  // namespace
}  // namespace graymesh::test
