#include "http/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "http/headers.h"

namespace graymesh::http {
namespace {

// Looks a header up in a parsed head.
std::string Header(const Parser& p, const std::string& buf, std::string_view name) {
  for (const HeaderSlice& h : p.headers()) {
    if (IEquals(h.name.In(buf.data()), name)) return std::string(h.value.In(buf.data()));
  }
  return "<none>";
}

// Feeds a whole message's body, collecting decoded pieces.
ParseStatus FeedAllBody(Parser& p, std::string_view data, size_t* used, std::string* decoded) {
  BodyPieces pieces;
  ParseStatus st = p.FeedBody(data.data(), data.size(), used, &pieces);
  for (int i = 0; i < pieces.count; ++i) decoded->append(pieces.piece[i]);
  return st;
}

const std::string kGet =
    "GET /pay?id=7 HTTP/1.1\r\nHost: payment\r\nX-Long-Header: abcdefghijklmnop\r\n"
    "Accept: */*\r\n\r\n";

TEST(Parser, SimpleGet) {
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(kGet.data(), 0, kGet.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_EQ(used, kGet.size());
  EXPECT_EQ(p.method(), HTTP_GET);
  EXPECT_EQ(p.target().In(kGet.data()), "/pay?id=7");
  EXPECT_EQ(Header(p, kGet, "host"), "payment");
  EXPECT_EQ(Header(p, kGet, "x-long-header"), "abcdefghijklmnop");
  EXPECT_EQ(p.headers().size(), 3u);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_TRUE(p.body_done());
}

// The head arrives in two reads split at every possible byte.
TEST(Parser, HeadSplitAtEveryByte) {
  for (size_t cut = 1; cut < kGet.size(); ++cut) {
    Parser p(MessageKind::kRequest);
    size_t used = 0;
    ASSERT_EQ(p.FeedHead(kGet.data(), 0, cut, &used), ParseStatus::kNeedMore) << cut;
    ASSERT_EQ(used, cut);
    ASSERT_EQ(p.FeedHead(kGet.data(), cut, kGet.size(), &used), ParseStatus::kHeadComplete)
        << cut;
    EXPECT_EQ(cut + used, kGet.size());
    EXPECT_EQ(p.target().In(kGet.data()), "/pay?id=7") << cut;
    EXPECT_EQ(Header(p, kGet, "x-long-header"), "abcdefghijklmnop") << cut;
    EXPECT_EQ(Header(p, kGet, "accept"), "*/*") << cut;
    EXPECT_TRUE(p.body_done());
  }
}

// One byte at a time, the worst case of a slow client.
TEST(Parser, HeadOneByteAtATime) {
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  for (size_t i = 0; i + 1 < kGet.size(); ++i) {
    ASSERT_EQ(p.FeedHead(kGet.data(), i, i + 1, &used), ParseStatus::kNeedMore);
  }
  ASSERT_EQ(p.FeedHead(kGet.data(), kGet.size() - 1, kGet.size(), &used),
            ParseStatus::kHeadComplete);
  EXPECT_EQ(Header(p, kGet, "host"), "payment");
}

TEST(Parser, PipelinedRequestsStopAtEachMessage) {
  const std::string two = kGet + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
                          "GET /c HTTP/1.1\r\nHost: y\r\n\r\n";
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  size_t at = 0;
  ASSERT_EQ(p.FeedHead(two.data(), at, two.size(), &used), ParseStatus::kHeadComplete);
  at += used;
  EXPECT_EQ(at, kGet.size());
  EXPECT_TRUE(p.body_done());

  p.NextMessage();
  ASSERT_EQ(p.FeedHead(two.data(), at, two.size(), &used), ParseStatus::kHeadComplete);
  at += used;
  EXPECT_EQ(p.target().In(two.data()), "/b");
  EXPECT_FALSE(p.body_done());
  EXPECT_EQ(p.content_length(), 3u);
  std::string body;
  ASSERT_EQ(FeedAllBody(p, std::string_view(two).substr(at), &used, &body),
            ParseStatus::kBodyComplete);
  at += used;
  EXPECT_EQ(body, "abc");

  p.NextMessage();
  ASSERT_EQ(p.FeedHead(two.data(), at, two.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_EQ(p.target().In(two.data()), "/c");
  EXPECT_EQ(at + used, two.size());
}

TEST(Parser, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body = "5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n";
  const std::string msg = head + body + "GET / HTTP/1.1\r\n\r\n";
  // Split the body at every byte: raw consumption must end exactly at the
  // message end, and the decoded data must be the same.
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    Parser p(MessageKind::kRequest);
    size_t used = 0;
    ASSERT_EQ(p.FeedHead(msg.data(), 0, msg.size(), &used), ParseStatus::kHeadComplete);
    ASSERT_EQ(used, head.size());
    EXPECT_TRUE(p.chunked());
    std::string decoded;
    std::string_view rest(msg.data() + head.size(), cut);
    ParseStatus st = FeedAllBody(p, rest, &used, &decoded);
    size_t total = used;
    if (st != ParseStatus::kBodyComplete) {
      ASSERT_EQ(st, ParseStatus::kNeedMore) << cut;
      ASSERT_EQ(used, cut);
      rest = std::string_view(msg).substr(head.size() + cut);
      ASSERT_EQ(FeedAllBody(p, rest, &used, &decoded), ParseStatus::kBodyComplete) << cut;
      total += used;
    }
    EXPECT_EQ(total, body.size()) << cut;
    EXPECT_EQ(decoded, "hello world") << cut;
  }
}

TEST(Parser, ContentLengthAndChunkedIsRejected) {
  const std::string m =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  EXPECT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kError);
  EXPECT_NE(p.error(), nullptr);
}

TEST(Parser, TwoContentLengthsAreRejected) {
  const std::string m =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello";
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  EXPECT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kError);
}

TEST(Parser, MalformedRequestLine) {
  for (std::string m : {"GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n",
                        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"}) {
    Parser p(MessageKind::kRequest);
    size_t used = 0;
    EXPECT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kError) << m;
  }
}

TEST(Parser, TooManyHeaders) {
  std::string m = "GET / HTTP/1.1\r\n";
  for (int i = 0; i <= kMaxHeaders; ++i) m += "h" + std::to_string(i) + ": v\r\n";
  m += "\r\n";
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  EXPECT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kError);
  EXPECT_TRUE(p.too_many_headers());
}

TEST(Parser, Http10RequestIsNotKeepAlive) {
  const std::string m = "GET / HTTP/1.0\r\n\r\n";
  Parser p(MessageKind::kRequest);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_EQ(p.version_minor(), 0);
  EXPECT_FALSE(p.keep_alive());
}

TEST(Parser, ResponseToHeadHasNoBody) {
  const std::string m = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  Parser p(MessageKind::kResponse);
  p.SetHeadRequest(true);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_EQ(used, m.size());
  EXPECT_TRUE(p.body_done());
}

TEST(Parser, ResponseDelimitedByClose) {
  const std::string m = "HTTP/1.1 200 OK\r\n\r\nall of it";
  Parser p(MessageKind::kResponse);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_FALSE(p.body_done());
  std::string body;
  EXPECT_EQ(FeedAllBody(p, std::string_view(m).substr(used), &used, &body),
            ParseStatus::kNeedMore);
  EXPECT_EQ(body, "all of it");
  EXPECT_EQ(p.FeedEof(), ParseStatus::kBodyComplete);
  EXPECT_FALSE(p.keep_alive());
}

TEST(Parser, TruncatedLengthBodyIsAnError) {
  const std::string m = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  Parser p(MessageKind::kResponse);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kHeadComplete);
  std::string body;
  EXPECT_EQ(FeedAllBody(p, std::string_view(m).substr(used), &used, &body),
            ParseStatus::kNeedMore);
  EXPECT_EQ(p.FeedEof(), ParseStatus::kError);
}

TEST(Parser, NoContentResponseThenNext) {
  const std::string m = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  Parser p(MessageKind::kResponse);
  size_t used = 0;
  ASSERT_EQ(p.FeedHead(m.data(), 0, m.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_TRUE(p.body_done());
  EXPECT_EQ(p.status_code(), 204);
  size_t at = used;
  p.NextMessage();
  ASSERT_EQ(p.FeedHead(m.data(), at, m.size(), &used), ParseStatus::kHeadComplete);
  EXPECT_EQ(p.status_code(), 200);
  EXPECT_EQ(p.content_length(), 2u);
}

}  // namespace
}  // namespace graymesh::http
