// Request smuggling through the proxy: whatever `Connection` names, the
// message a backend reads is the one the proxy parsed, framed by headers the
// proxy wrote itself, in both directions.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

using Reply = RecordingUpstream::Reply;

const std::string kSmuggled = "GET /slow-secret HTTP/1.1\r\nHost: a\r\n\r\n";

std::string PostWithConnection(const std::string& connection) {
  return "POST /innocent HTTP/1.1\r\nHost: a\r\nConnection: " + connection +
         "\r\nContent-Length: " + std::to_string(kSmuggled.size()) + "\r\n\r\n" + kSmuggled;
}

// The case: the body of POST /innocent is itself a request. A proxy
// that drops Content-Length because Connection names it makes the backend read
// two requests, and the late answer to the second one lands on the pooled
// connection the next client gets.
TEST(Smuggling, ConnectionContentLengthNeitherSplitsTheRequestNorPoisonsThePool) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    Reply r = RecordingUpstream::AnswerNaming(rq);
    if (rq.target == "/slow-secret") r.delay = 500ms;
    return r;
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  for (const char* connection : {"Content-Length", "keep-alive, content-length"}) {
    SCOPED_TRACE(connection);
    size_t before = up.requests().size();
    TestConnection a(gw.port);
    ASSERT_TRUE(a.Send(PostWithConnection(connection)));
    Response ra = a.ReadResponse();
    ASSERT_EQ(ra.status, 200) << ra.error;
    EXPECT_EQ(ra.body, "answer to: POST /innocent");
    // Another client right away, on the upstream connection just pooled.
    Response rb = HttpGet(gw.port, "/other");
    ASSERT_EQ(rb.status, 200) << rb.error;
    EXPECT_EQ(rb.body, "answer to: GET /other");

    std::vector<RecordingUpstream::Request> seen = up.requests();
    ASSERT_EQ(seen.size(), before + 2) << up.raw();
    EXPECT_EQ(seen[before].target, "/innocent");
    EXPECT_EQ(seen[before].body, kSmuggled);
    EXPECT_EQ(seen[before].Header("content-length"), std::to_string(kSmuggled.size()));
    EXPECT_EQ(seen[before + 1].target, "/other");
  }
}

TEST(Smuggling, SidecarInboundKeepsContentLengthToo) {
  RecordingUpstream app([](const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  });
  Sidecar sc = Sidecar::Start("order", app.port(), "services: []\n");
  TestConnection c(sc.inbound);
  ASSERT_TRUE(c.Send(PostWithConnection("Content-Length")));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  ASSERT_TRUE(app.WaitForRequests(1, 2s));
  std::this_thread::sleep_for(200ms);  // a second (smuggled) request would show by now
  std::vector<RecordingUpstream::Request> seen = app.requests();
  ASSERT_EQ(seen.size(), 1u) << app.raw();
  EXPECT_EQ(seen[0].body, kSmuggled);
}

// Host, the chunked framing and the trace/lane headers are what the proxy
// routes, frames and dyes by; Connection cannot take them off the next hop.
TEST(Smuggling, ConnectionCannotRemoveHostFramingOrTraceHeaders) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  TestConnection c(gw.port);
  const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  ASSERT_TRUE(c.Send("POST /chunked HTTP/1.1\r\nHost: shop\r\n"
                     "Connection: Host, Transfer-Encoding, traceparent, baggage, x-drop\r\n"
                     "traceparent: " + traceparent + "\r\nbaggage: k=v\r\nx-drop: 1\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  Response r = c.ReadResponse();
  ASSERT_EQ(r.status, 200) << r.error;
  std::vector<RecordingUpstream::Request> seen = up.requests();
  ASSERT_EQ(seen.size(), 1u) << up.raw();
  EXPECT_EQ(seen[0].Count("host"), 1);
  EXPECT_EQ(seen[0].Header("host"), "shop");
  EXPECT_EQ(seen[0].Header("transfer-encoding"), "chunked");
  EXPECT_EQ(seen[0].body, "hello");
  EXPECT_EQ(seen[0].Header("traceparent"), traceparent);
  EXPECT_EQ(seen[0].Header("baggage"), "k=v");
  EXPECT_EQ(seen[0].Header("x-drop"), "<none>");  // an ordinary header still goes
  EXPECT_EQ(seen[0].Header("connection"), "<none>");
}

// Connection lines are kept in a small fixed array: more is refused, not
// half-honoured.
TEST(Smuggling, TooManyConnectionLinesAre400) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  std::string raw = "GET /x HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) raw += "Connection: x-h" + std::to_string(i) + "\r\n";
  TestConnection c(gw.port);
  ASSERT_TRUE(c.Send(raw + "\r\n"));
  Response r = c.ReadResponse(2s);
  EXPECT_EQ(r.status, 400) << r.error;
  EXPECT_NE(r.Header("x-graymesh-reason").find("Connection"), std::string::npos);
  EXPECT_EQ(up.connections(), 0);
}

// What goes upstream is written from the parsed message: one framing header,
// in the proxy's spelling, never the client's bytes.
TEST(Smuggling, FramingHeadersAreWrittenFromTheParsedMessage) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  TestConnection c(gw.port);
  ASSERT_TRUE(c.Send("POST /cl HTTP/1.1\r\nHost: a\r\ncOnTeNt-LeNgTh:   5  \r\n\r\nhello"));
  ASSERT_EQ(c.ReadResponse().status, 200);
  ASSERT_TRUE(c.Send("POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                     "Transfer-Encoding:  chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  ASSERT_EQ(c.ReadResponse().status, 200);
  std::string raw = up.raw();
  EXPECT_NE(raw.find("\r\ncontent-length: 5\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("cOnTeNt"), std::string::npos) << raw;
  // Several Transfer-Encoding lines become one list: the codings stay.
  EXPECT_NE(raw.find("\r\ntransfer-encoding: gzip, chunked\r\n"), std::string::npos) << raw;
  std::vector<RecordingUpstream::Request> seen = up.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].Count("transfer-encoding"), 1);
  EXPECT_EQ(seen[1].body, "abc");
}

// Same on the way back: an upstream's `Connection: content-length` must not
// leave the client with a response of unknown length on an open connection.
TEST(Smuggling, UpstreamConnectionHeaderCannotRemoveResponseFraming) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    if (rq.target == "/cl") {
      return Reply{.bytes = "HTTP/1.1 200 OK\r\nConnection: content-length, x-hop\r\n"
                            "x-hop: 1\r\nContent-Length: 5\r\n\r\nhello"};
    }
    if (rq.target == "/te") {
      return Reply{.bytes = "HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\n"
                            "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"};
    }
    return RecordingUpstream::AnswerNaming(rq);
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port(), "timeouts: { idle: 3s }\n"));
  TestConnection c(gw.port);
  ASSERT_TRUE(c.Send("GET /cl HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response r = c.ReadResponse(2s);
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("content-length"), "5");
  EXPECT_EQ(r.body, "hello");
  EXPECT_FALSE(r.HasHeader("x-hop"));
  EXPECT_FALSE(r.closed_after);

  ASSERT_TRUE(c.Send("GET /te HTTP/1.1\r\nHost: a\r\n\r\n"));
  r = c.ReadResponse(2s);
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("transfer-encoding"), "gzip, chunked");
  EXPECT_EQ(r.body, "abc");

  ASSERT_TRUE(c.Send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n"));
  r = c.ReadResponse(2s);
  EXPECT_EQ(r.body, "answer to: GET /after") << r.error;
}

// Published Content-Length / Transfer-Encoding mutations, each carrying a
// request in its body. Whatever the proxy does with them (forward or 400), a
// backend never reads the hidden request, and every head it gets has one
// Host and at most one framing header.
TEST(Smuggling, FramingMutationsNeverReachTheBackendAsASecondRequest) {
  RecordingUpstream up([](const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  const std::string hidden = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string n = std::to_string(hidden.size());
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%zx", hidden.size());
  const std::string chunked = std::string(hex) + "\r\n" + hidden + "\r\n0\r\n\r\n";
  const std::string cl = "Content-Length: " + n + "\r\n";
  const std::vector<std::string> framings = {
      cl + "Transfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked\r\n" + cl,
      "Content-Length: 0\r\n" + cl,
      "Content-Length: " + n + ", " + n + "\r\n",
      "Content-Length: +" + n + "\r\n",
      "Content-Length: 0x" + std::string(hex) + "\r\n",
      "Content-Length: 0" + n + "\r\n",
      "Transfer-Encoding : chunked\r\n",
      "Transfer-Encoding: xchunked\r\n",
      "Transfer-Encoding: chunked, identity\r\n",
      "Transfer-Encoding:\tchunked\r\n",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
      "Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n",
      "X: y\r\n Transfer-Encoding: chunked\r\n" + cl,
      "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n",
      "Connection: content-length\r\n" + cl,
      "Connection: close, Content-Length\r\n" + cl,
      "Connection: keep-alive\r\nConnection: Content-Length\r\n" + cl,
  };
  int answered = 0;
  for (const std::string& framing : framings) {
    for (const std::string* body : {&hidden, &chunked}) {
      SCOPED_TRACE(framing + (body == &chunked ? " (chunked body)" : " (plain body)"));
      TestConnection c(gw.port);
      ASSERT_TRUE(c.Send("POST /outer HTTP/1.1\r\nHost: a\r\n" + framing + "\r\n" + *body));
      Response r = c.ReadResponse(2s);
      if (r.status == 200) ++answered;
      EXPECT_TRUE(r.status == 200 || r.status == 400) << r.status << " " << r.error;
    }
  }
  std::this_thread::sleep_for(200ms);
  for (const RecordingUpstream::Request& rq : up.requests()) {
    EXPECT_EQ(rq.target, "/outer") << rq.head;
    EXPECT_EQ(rq.Count("host"), 1) << rq.head;
    EXPECT_LE(rq.Count("content-length") + rq.Count("transfer-encoding"), 1) << rq.head;
    EXPECT_EQ(rq.Count("connection"), 0) << rq.head;
  }
  EXPECT_EQ(int(up.requests().size()), answered) << up.raw();
}

}  // namespace
}  // namespace graymesh::test
