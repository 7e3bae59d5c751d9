// Chunked bodies: chunk-size lines and chunk extensions (RFC 9112 7.1).
#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"
#include "parse_helpers.h"

namespace graymesh::http {
namespace {

using testing::Outcome;
using testing::ParseOne;
using testing::ParseRequest;

const std::string kRequestHead =
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
const std::string kResponseHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

// Parses head + body with the body split at `cut`; checks what a valid body
// must give: all of it consumed, exactly, and the data decoded.
void ExpectValidBody(const std::string& head, const std::string& body, const std::string& data,
                     MessageKind kind) {
  const std::string m = head + body + "GET /next HTTP/1.1\r\n\r\n";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    Parser p(kind);
    Outcome o = ParseOne(p, m, 0, cut);
    ASSERT_EQ(o.status, ParseStatus::kBodyComplete) << body << " cut " << cut << ": " << o.error;
    EXPECT_EQ(o.used, head.size() + body.size()) << body << " cut " << cut;
    EXPECT_EQ(o.body, data) << body << " cut " << cut;
  }
}

TEST(Chunked, ValidExtensionsAreAccepted) {
  for (std::string body : {
           "1;a=b;c=\"d\"\r\nx\r\n0\r\n\r\n",
           "1 ;a=b\r\nx\r\n0\r\n\r\n",
           "1\t; a = b ;c\r\nx\r\n0\r\n\r\n",
           "1;a=\"x\\\"y;z\"\r\nx\r\n0\r\n\r\n",
           "1;a=\"\"\r\nx\r\n0\r\n\r\n",
           "1;a;b;c=1\r\nx\r\n0;last=yes\r\n\r\n",
           "1;a=\"q\" ;b\r\nx\r\n0 ; c = \"\\\\\"\r\nT: v\r\n\r\n",
       }) {
    ExpectValidBody(kRequestHead, body, "x", MessageKind::kRequest);
    ExpectValidBody(kResponseHead, body, "x", MessageKind::kResponse);
  }
}

TEST(Chunked, ManyChunksDecoded) {
  ExpectValidBody(kRequestHead, "3;x=1\r\nabc\r\n2 ; y\r\nde\r\nA\r\n0123456789\r\n0\r\n\r\n",
                  "abcde0123456789", MessageKind::kRequest);
}

TEST(Chunked, InvalidChunkLinesAreRejected) {
  for (std::string body : {
           "1 \r\nx\r\n0\r\n\r\n",        // whitespace without an extension
           "1;\r\nx\r\n0\r\n\r\n",        // no extension name
           "1;a=\r\nx\r\n0\r\n\r\n",      // no value
           "1;a =\r\nx\r\n0\r\n\r\n",
           "1;a b\r\nx\r\n0\r\n\r\n",     // two names
           "1;a \r\nx\r\n0\r\n\r\n",      // trailing whitespace
           "1;=b\r\nx\r\n0\r\n\r\n",
           "1;a=\"b\r\nx\r\n0\r\n\r\n",   // unterminated quote
           "1;a=\"b\"c\r\nx\r\n0\r\n\r\n",
           "1;a=b\"\r\nx\r\n0\r\n\r\n",
           "1;a\x01\r\nx\r\n0\r\n\r\n",
           "1;a=\"\x01\"\r\nx\r\n0\r\n\r\n",
           "1 x\r\nx\r\n0\r\n\r\n",
           ";a=b\r\nx\r\n0\r\n\r\n",      // no size
           " 1\r\nx\r\n0\r\n\r\n",
           "\r\nx\r\n0\r\n\r\n",
           "1;a\nx\r\n0\r\n\r\n",         // bare LF
           "1\nx\r\n0\r\n\r\n",
           "1\rXx\r\n0\r\n\r\n",          // bare CR ending the size line
           "1;a=b\rXx\r\n0\r\n\r\n",
           "1\r\nx\rX0\r\n\r\n",          // bare CR after the data
           "1\r\nxy\r\n0\r\n\r\n",        // data longer than its size
           "g\r\nx\r\n0\r\n\r\n",
           "fffffffffffffffff\r\nx\r\n0\r\n\r\n",  // overflow
           "1\r\nx\r\n0\r\n\rX",          // CR CR ending the trailer section
       }) {
    for (size_t cut : {size_t(1), size_t(2), size_t(4), std::string::npos}) {
      Outcome o = ParseRequest(kRequestHead + body + "GET / HTTP/1.1\r\n\r\n", cut);
      EXPECT_EQ(o.status, ParseStatus::kError) << body << " cut " << cut;
    }
    Parser p(MessageKind::kResponse);
    EXPECT_EQ(ParseOne(p, kResponseHead + body).status, ParseStatus::kError) << body;
  }
}

TEST(Chunked, ExtensionLengthIsBounded) {
  const std::string ext(kMaxChunkExtension + 1, 'a');
  Outcome o = ParseRequest(kRequestHead + "1;" + ext + "\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(o.status, ParseStatus::kError);
  const std::string fits(kMaxChunkExtension - 1, 'a');
  o = ParseRequest(kRequestHead + "1;" + fits + "\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(o.status, ParseStatus::kBodyComplete) << o.error;
}

}  // namespace
}  // namespace graymesh::http
