#include "http/reply.h"

#include <gtest/gtest.h>

namespace graymesh::http {
namespace {

TEST(ErrorReply, NamesTheReasonInHeaderAndBody) {
  std::string r = ErrorReply(404, "no route", false);
  EXPECT_EQ(r.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(r.find("\r\nx-graymesh-reason: no route\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\ncontent-length: 9\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 9), "no route\n");
  EXPECT_EQ(r.find("connection: close"), std::string::npos);
  EXPECT_NE(ErrorReply(400, "x", true).find("\r\nconnection: close\r\n"), std::string::npos);
}

// Reasons quote client input (a Host, a service name): line breaks and other
// control or non-ASCII bytes are escaped, so they cannot start a header.
TEST(ErrorReply, ReasonFromClientInputCannotInjectHeaders) {
  std::string r = ErrorReply(404, "unknown service 'a\r\nx-injected: 1\x01\x7f\xff'", false);
  EXPECT_EQ(r.find("\nx-injected"), std::string::npos) << r;
  EXPECT_NE(
      r.find("x-graymesh-reason: unknown service 'a\\x0d\\x0ax-injected: 1\\x01\\x7f\\xff'\r\n"),
      std::string::npos)
      << r;
  size_t head_end = r.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  std::string body = r.substr(head_end + 4);
  EXPECT_NE(r.find("\r\ncontent-length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos) << r;
  for (size_t i = 0; i + 1 < body.size(); ++i) {
    EXPECT_TRUE(body[i] >= 0x20 && body[i] < 0x7f) << i;
  }
}

}  // namespace
}  // namespace graymesh::http
