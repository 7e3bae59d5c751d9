// Request lines and the request framing facts a proxy needs from the head.
#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"
#include "parse_helpers.h"

namespace graymesh::http {
namespace {

using testing::Outcome;
using testing::ParseOne;
using testing::ParseRequest;

// Only HTTP/1.0 and HTTP/1.1 are served. A well-formed other version is
// "unsupported" (505); a line that is not HTTP/1.x syntax is malformed (400).
TEST(RequestLine, WellFormedOtherVersionsAreUnsupported) {
  for (std::string m : {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "GET / HTTP/3.0\r\nHost: a\r\n\r\n",
                        "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
                        "GET / HTTP/0.9\r\nHost: a\r\n\r\n", "GET / HTTP/9.9\r\nHost: a\r\n\r\n"}) {
    Parser p(MessageKind::kRequest);
    Outcome o = ParseOne(p, m);
    EXPECT_EQ(o.status, ParseStatus::kError) << m;
    EXPECT_TRUE(p.version_unsupported()) << m;
    EXPECT_EQ(p.error_status(), 505) << m;
  }
}

TEST(RequestLine, MalformedVersionsAreBadRequests) {
  for (std::string m : {"GET /\r\nHost: a\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.x\r\n\r\n",
                        "GET / HTTP/10.0\r\n\r\n", "GET / http/1.1\r\n\r\n",
                        "OPTIONS * RTSP/1.0\r\nHost: a\r\n\r\n",
                        "SOURCE /live ICE/1.0\r\nHost: a\r\n\r\n"}) {
    Parser p(MessageKind::kRequest);
    Outcome o = ParseOne(p, m);
    EXPECT_EQ(o.status, ParseStatus::kError) << m;
    EXPECT_FALSE(p.version_unsupported()) << m;
    EXPECT_EQ(p.error_status(), 400) << m;
  }
}

TEST(RequestLine, Http10And11AreAccepted) {
  for (std::string m : {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"}) {
    EXPECT_EQ(ParseRequest(m).status, ParseStatus::kBodyComplete) << m;
  }
}

TEST(RequestLine, TooManyHeadersIs431) {
  std::string m = "GET / HTTP/1.1\r\n";
  for (int i = 0; i <= kMaxHeaders; ++i) m += "h" + std::to_string(i) + ": v\r\n";
  Parser p(MessageKind::kRequest);
  ASSERT_EQ(ParseOne(p, m + "\r\n").status, ParseStatus::kError);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(RequestLine, HostHeadersAreCounted) {
  Parser p(MessageKind::kRequest);
  ASSERT_EQ(ParseOne(p, "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhOST: b\r\n\r\n").status,
            ParseStatus::kBodyComplete);
  EXPECT_EQ(p.host_count(), 2);
  p.NextMessage();
  ASSERT_EQ(ParseOne(p, "GET / HTTP/1.0\r\nX-Host: a\r\n\r\n").status, ParseStatus::kBodyComplete);
  EXPECT_EQ(p.host_count(), 0);
}

// RFC 9112 6.3 rule 4: a request whose final coding is not chunked has no
// determinable length and is refused.
TEST(RequestLine, FinalCodingMustBeChunked) {
  for (std::string te : {"chunked, gzip", "gzip", "chunked;x=1"}) {
    Outcome o = ParseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + te +
                             "\r\n\r\n1\r\nx\r\n0\r\n\r\n");
    EXPECT_EQ(o.status, ParseStatus::kError) << te;
  }
}

TEST(RequestLine, GzipThenChunkedIsChunkedWithACoding) {
  Parser p(MessageKind::kRequest);
  Outcome o = ParseOne(p,
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                       "1\r\nx\r\n0\r\n\r\n");
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_TRUE(p.chunked());
  EXPECT_TRUE(p.transfer_encoding());
  EXPECT_EQ(o.body, "x");
  p.NextMessage();
  ASSERT_EQ(ParseOne(p, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx").status,
            ParseStatus::kBodyComplete);
  EXPECT_FALSE(p.transfer_encoding());
}

// An Upgrade request (curl --http2 sends `Upgrade: h2c`) is an ordinary
// request to a proxy that does not switch protocols: the next request on the
// connection parses.
TEST(RequestLine, UpgradeRequestLeavesTheConnectionUsable) {
  const std::string first =
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string m = first + second;
  Parser p(MessageKind::kRequest);
  Outcome o = ParseOne(p, m);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete);
  EXPECT_EQ(o.used, first.size());
  p.NextMessage();
  o = ParseOne(p, m, first.size());
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_EQ(p.target().In(m.data()), "/2");
}

// An Upgrade request with a body keeps its body framing.
TEST(RequestLine, UpgradeRequestWithBody) {
  const std::string first =
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
      "Content-Length: 3\r\n\r\nabc";
  const std::string m = first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  Parser p(MessageKind::kRequest);
  Outcome o = ParseOne(p, m);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_EQ(o.body, "abc");
  EXPECT_EQ(o.used, first.size());
  p.NextMessage();
  EXPECT_EQ(ParseOne(p, m, first.size()).status, ParseStatus::kBodyComplete);
}

// A request after a CONNECT parses too (the caller refuses the CONNECT).
TEST(RequestLine, ConnectThenNextRequest) {
  const std::string first = "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n";
  const std::string m = first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  Parser p(MessageKind::kRequest);
  Outcome o = ParseOne(p, m);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete);
  EXPECT_EQ(p.method(), HTTP_CONNECT);
  EXPECT_EQ(o.used, first.size());
  p.NextMessage();
  EXPECT_EQ(ParseOne(p, m, first.size()).status, ParseStatus::kBodyComplete);
}

TEST(RequestLine, NextMessageClearsAnError) {
  Parser p(MessageKind::kRequest);
  ASSERT_EQ(ParseOne(p, "GET / HTTP/2.0\r\n\r\n").status, ParseStatus::kError);
  p.NextMessage();
  EXPECT_FALSE(p.version_unsupported());
  EXPECT_EQ(ParseOne(p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::kBodyComplete);
}

}  // namespace
}  // namespace graymesh::http
