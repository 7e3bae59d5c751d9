// Response framing, RFC 9112 section 6.3: which responses have a body.
#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"
#include "parse_helpers.h"

namespace graymesh::http {
namespace {

using testing::Outcome;
using testing::ParseOne;
using testing::ParseResponse;

const std::string kNext = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// 1xx, 204 and 304 end at the end of their head whatever Content-Length or
// Transfer-Encoding say; what follows is the next response, not a body.
TEST(ResponseFraming, NoBodyStatusesIgnoreFramingHeaders) {
  for (std::string head : {
           "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
           "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
           "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n",
           "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",
           "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nLink: </a.css>\r\n\r\n",
           "HTTP/1.1 199 Whatever\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    const std::string m = head + kNext;
    Parser p(MessageKind::kResponse);
    Outcome first = ParseOne(p, m);
    ASSERT_EQ(first.status, ParseStatus::kBodyComplete) << head << first.error;
    EXPECT_TRUE(first.done_at_head) << head;
    EXPECT_EQ(first.used, head.size()) << head;
    EXPECT_TRUE(p.keep_alive()) << head;
    p.NextMessage();
    Outcome second = ParseOne(p, m, head.size());
    ASSERT_EQ(second.status, ParseStatus::kBodyComplete) << head << second.error;
    EXPECT_EQ(p.status_code(), 200) << head;
    EXPECT_EQ(second.body, "ok") << head;
    EXPECT_EQ(head.size() + second.used, m.size()) << head;
  }
}

TEST(ResponseFraming, ResponseToHeadIgnoresChunked) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  Outcome o = ParseResponse(head + kNext, /*head_request=*/true);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete);
  EXPECT_EQ(o.used, head.size());
}

TEST(ResponseFraming, OrdinaryStatusesKeepTheirBody) {
  Outcome o = ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete);
  EXPECT_FALSE(o.done_at_head);
  EXPECT_EQ(o.body, "abc");
  o = ParseResponse("HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(o.status, ParseStatus::kBodyComplete);
}

// A 101 carries no body; the caller decides what to do with the upgrade.
TEST(ResponseFraming, SwitchingProtocolsEndsAtItsHead) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n";
  Parser p(MessageKind::kResponse);
  Outcome o = ParseOne(p, head + "frames of the new protocol");
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_EQ(o.used, head.size());
  EXPECT_EQ(p.status_code(), 101);
}

// Transfer-Encoding whose final coding is not chunked: a response body runs
// to the close (RFC 9112 6.3 rule 4), and the parser says a coding is there.
TEST(ResponseFraming, NonChunkedFinalCodingIsDelimitedByClose) {
  const std::string m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n1\r\nx\r\n";
  Parser p(MessageKind::kResponse);
  Outcome o = ParseOne(p, m);
  ASSERT_EQ(o.status, ParseStatus::kNeedMore);
  EXPECT_FALSE(p.chunked());
  EXPECT_TRUE(p.transfer_encoding());
  EXPECT_EQ(o.body, "1\r\nx\r\n");
  EXPECT_EQ(p.FeedEof(), ParseStatus::kBodyComplete);
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseFraming, GzipThenChunkedIsChunked) {
  const std::string m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
  Parser p(MessageKind::kResponse);
  Outcome o = ParseOne(p, m);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_TRUE(p.chunked());
  EXPECT_TRUE(p.transfer_encoding());
  EXPECT_EQ(o.body, "x");
}

TEST(ResponseFraming, OnlyHttp10And11Responses) {
  for (std::string m : {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
                        "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
                        "HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n"}) {
    EXPECT_EQ(ParseResponse(m).status, ParseStatus::kError) << m;
  }
  EXPECT_EQ(ParseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").status,
            ParseStatus::kBodyComplete);
}

// After a malformed response the same parser reads the next one cleanly.
TEST(ResponseFraming, NextMessageClearsAnError) {
  Parser p(MessageKind::kResponse);
  const std::string bad = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
  ASSERT_EQ(ParseOne(p, bad).status, ParseStatus::kError);
  p.NextMessage();
  EXPECT_EQ(p.error(), nullptr);
  Outcome o = ParseOne(p, kNext);
  ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
  EXPECT_EQ(o.body, "ok");
}

}  // namespace
}  // namespace graymesh::http
