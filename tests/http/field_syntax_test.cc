// Header and trailer field syntax (RFC 9112 section 5): what is refused.
#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"
#include "parse_helpers.h"

namespace graymesh::http {
namespace {

using testing::Outcome;
using testing::ParseOne;
using testing::ParseRequest;
using testing::ParseResponse;

const std::string kGetLine = "GET / HTTP/1.1\r\n";
const std::string kChunkedHead = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

// The head fed one byte per read: every check must hold across reads.
ParseStatus FeedHeadByteByByte(Parser& p, const std::string& m) {
  size_t used = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    ParseStatus st = p.FeedHead(m.data(), i, i + 1, &used);
    if (st != ParseStatus::kNeedMore) return st;
  }
  return ParseStatus::kNeedMore;
}

// obs-fold: a line that starts with SP or HTAB continues the previous field.
// A backend that unfolds would see a header the proxy did not.
const char* const kFoldedHeads[] = {
    "Host: a\r\nFoo: bar\r\n Transfer-Encoding: chunked\r\n\r\n",
    "Host: a\r\nFoo: bar\r\n\tbaz\r\n\r\n",
    "Host: a\r\nFoo:\r\n baz\r\n\r\n",
    "Host: a\r\n  \r\n\r\n",
    "Host: a\r\n b\r\n\r\n",
};

TEST(FieldSyntax, ObsFoldInRequestIsRejected) {
  for (const char* fields : kFoldedHeads) {
    const std::string m = kGetLine + fields;
    Outcome o = ParseRequest(m);
    EXPECT_EQ(o.status, ParseStatus::kError) << m;
    Parser p(MessageKind::kRequest);
    EXPECT_EQ(FeedHeadByteByByte(p, m), ParseStatus::kError) << m;
    EXPECT_EQ(p.error_status(), 400);
  }
}

TEST(FieldSyntax, ObsFoldInResponseIsRejected) {
  for (std::string m : {"HTTP/1.1 200 OK\r\nSet-Cookie: a=b;\r\n c=d\r\nContent-Length: 0\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: y\r\n\tz\r\n\r\n"}) {
    EXPECT_EQ(ParseResponse(m).status, ParseStatus::kError) << m;
    Parser p(MessageKind::kResponse);
    EXPECT_EQ(FeedHeadByteByByte(p, m), ParseStatus::kError) << m;
  }
}

TEST(FieldSyntax, HeaderNamesMustBeTokens) {
  for (std::string f : {"Fo o: bar", "Foo : bar", " Foo: bar", "Foo\t: bar", "F\"o: bar",
                        "F(o): bar", "Fo\x01o: bar", "F\x80: bar"}) {
    const std::string m = kGetLine + "Host: a\r\n" + f + "\r\n\r\n";
    EXPECT_EQ(ParseRequest(m).status, ParseStatus::kError) << f;
  }
}

TEST(FieldSyntax, EmptyHeaderNameIsRejected) {
  for (std::string fields : {": bar\r\nHost: a\r\n", "Host: a\r\n: bar\r\n", "Host: a\r\n:\r\n"}) {
    const std::string m = kGetLine + fields + "\r\n";
    EXPECT_EQ(ParseRequest(m).status, ParseStatus::kError) << fields;
    EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\n" + fields + "Content-Length: 0\r\n\r\n").status,
              ParseStatus::kError)
        << fields;
  }
}

// CR LF CR followed by anything but LF does not end the head.
TEST(FieldSyntax, CrLfCrIsNotTheEndOfTheHead) {
  const std::string m = kGetLine + "Host: a\r\n\rXGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(ParseRequest(m).status, ParseStatus::kError);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\rX").status,
            ParseStatus::kError);
}

// Checks that already held; kept so that a change of parser cannot undo them.
TEST(FieldSyntax, BareLineEndsAndControlBytesStayRejected) {
  for (std::string m : {
           std::string("GET / HTTP/1.1\nHost: a\n\n"),
           kGetLine + "Host: a\nX: y\r\n\r\n",
           kGetLine + "Host: a\r\nX: y\n\r\n",
           kGetLine + "Host: a\rb\r\n\r\n",
           kGetLine + "Host: a\r\nX: a\rb\r\n\r\n",
           kGetLine + std::string("Host: a\0b\r\n\r\n", 12),
           kGetLine + "Host: a\r\nX: a\x01" "b\r\n\r\n",
           kGetLine + "Host: a\r\nX: a\x7f" "b\r\n\r\n",
           kGetLine + "Host: a\r\nX: a\x1b" "b\r\n\r\n",
       }) {
    EXPECT_EQ(ParseRequest(m).status, ParseStatus::kError) << m;
  }
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\nContent-Length: 0\n\n").status, ParseStatus::kError);
  EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n").status,
            ParseStatus::kError);
}

TEST(FieldSyntax, ValidValuesAreKept) {
  const std::string m = kGetLine + "Host: a\r\nX: a\tb c\x80\xff \r\nY:\r\n\r\n";
  Parser p(MessageKind::kRequest);
  ASSERT_EQ(ParseOne(p, m).status, ParseStatus::kBodyComplete);
  ASSERT_EQ(p.headers().size(), 3u);
  EXPECT_EQ(p.headers()[1].value.In(m.data()), "a\tb c\x80\xff ");
  EXPECT_EQ(p.headers()[2].value.In(m.data()), "");
}

// The reason phrase is copied into the response the client gets: it holds
// HTAB, SP, VCHAR and obs-text only (RFC 9112 4).
TEST(FieldSyntax, ReasonPhraseControlBytesAreRejected) {
  for (std::string reason : {std::string("O\x01K"), std::string("O\x7fK"), std::string("O\0K", 3),
                             std::string("O\x1b[2JK")}) {
    Outcome o = ParseResponse("HTTP/1.1 200 " + reason + "\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(o.status, ParseStatus::kError) << reason;
  }
  Parser p(MessageKind::kResponse);
  const std::string ok = "HTTP/1.1 200 All\tfine \xe9\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(ParseOne(p, ok).status, ParseStatus::kBodyComplete);
  EXPECT_EQ(p.reason().In(ok.data()), "All\tfine \xe9");
}

// Trailer fields are forwarded raw, so they get the same checks as the head.
TEST(FieldSyntax, TrailersAreCheckedLikeTheHead) {
  for (std::string trailer : {"A: b\r\n c\r\n", "A: b\r\n\tc\r\n", "A b: c\r\n", ": c\r\n",
                              "A: b\x01\r\n", "A: b\rc\r\n", "A: b\nc\r\n", "A : b\r\n"}) {
    const std::string m = kChunkedHead + "1\r\nx\r\n0\r\n" + trailer + "\r\n";
    for (size_t cut : {size_t(0), size_t(9), size_t(11), std::string::npos}) {
      Outcome o = ParseRequest(m, cut);
      EXPECT_EQ(o.status, ParseStatus::kError) << trailer << " cut " << cut;
    }
    EXPECT_EQ(ParseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" +
                            trailer + "\r\n")
                  .status,
              ParseStatus::kError)
        << trailer;
  }
  Outcome ok = ParseRequest(kChunkedHead + "1\r\nx\r\n0\r\nA: b\r\nC-D: e f\r\n\r\n");
  EXPECT_EQ(ok.status, ParseStatus::kBodyComplete) << ok.error;
  EXPECT_EQ(ok.body, "x");
}

}  // namespace
}  // namespace graymesh::http
