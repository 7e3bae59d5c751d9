// The HTTP/1.1 head the proxy writes, as HTTP/2 fields (h2/from_http1.h).
#include "h2/from_http1.h"

#include <gtest/gtest.h>

namespace graymesh::h2 {
namespace {

TEST(HeadersFromHttp1, PseudoHeadersFirstHostAsAuthorityNamesLowerCase) {
  std::vector<Header> h;
  ASSERT_TRUE(HeadersFromHttp1("POST /a?b=1 HTTP/1.1\r\nhost: svc:8080\r\nX-Thing:  v \r\n"
                               "Transfer-Encoding: chunked\r\nTE: trailers\r\n"
                               "content-length: 3\r\n\r\n",
                               "http", &h));
  ASSERT_EQ(h.size(), 6u);
  EXPECT_EQ(h[0].name, ":method");
  EXPECT_EQ(h[0].value, "POST");
  EXPECT_EQ(h[1].value, "http");
  EXPECT_EQ(h[2].name, ":authority");
  EXPECT_EQ(h[2].value, "svc:8080");
  EXPECT_EQ(h[3].value, "/a?b=1");
  EXPECT_EQ(h[4].name, "x-thing");
  EXPECT_EQ(h[4].value, "v");
  EXPECT_EQ(h[5].name, "content-length");  // transfer-encoding and te are gone
}

TEST(HeadersFromHttp1, RefusesAHeadItCannotRead) {
  std::vector<Header> h;
  EXPECT_FALSE(HeadersFromHttp1("GET\r\n\r\n", "http", &h));
  EXPECT_FALSE(HeadersFromHttp1("GET / HTTP/1.1\r\nno-colon\r\n\r\n", "http", &h));
  EXPECT_FALSE(HeadersFromHttp1("GET / HTTP/1.1\r\nhost: a", "http", &h));
}

TEST(Http1ClientUsesHttp2, OnlyForHttp2Services) {
  EXPECT_TRUE(Http1ClientUsesHttp2(config::UpstreamProtocol::kHttp2));
  EXPECT_FALSE(Http1ClientUsesHttp2(config::UpstreamProtocol::kAuto));
  EXPECT_FALSE(Http1ClientUsesHttp2(config::UpstreamProtocol::kHttp1));
}

}  // namespace
}  // namespace graymesh::h2
