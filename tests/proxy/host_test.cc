// Host and the request-target (RFC 9112 §3.2, §3.2.2): one authority routes
// the request and is the Host the upstream sees.
#include <gtest/gtest.h>

#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

class HostRouting : public ::testing::Test {
 protected:
  void SetUp() override {
    gw_ = Gateway::Start(
        "routes:\n  - { host: other.example, service: other }\n  - { host: a, service: a }\n"
        "services:\n  - name: other\n    endpoints:\n      - address: 127.0.0.1:" +
        std::to_string(other_.port()) + "\n  - name: a\n    endpoints:\n      - address: "
        "127.0.0.1:" + std::to_string(a_.port()) + "\n");
  }

  // Sends a raw request on a fresh connection and returns the answer.
  Response Send(const std::string& raw) {
    TestConnection c(gw_.port);
    EXPECT_TRUE(c.Send(raw));
    return c.ReadResponse(2s);
  }

  static RecordingUpstream::Reply Answer(const RecordingUpstream::Request& rq) {
    return RecordingUpstream::AnswerNaming(rq);
  }
  RecordingUpstream other_{Answer};
  RecordingUpstream a_{Answer};
  Gateway gw_;
};

// The target's authority wins and replaces Host; any case of http/https.
TEST_F(HostRouting, AbsoluteFormAuthorityRoutesAndReplacesHost) {
  for (const char* target : {"http://other.example/x", "HTTP://other.example/x",
                             "https://other.example/x", "hTtPs://other.example/x"}) {
    SCOPED_TRACE(target);
    size_t before = other_.requests().size();
    Response r = Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, "answer to: GET /x");
    std::vector<RecordingUpstream::Request> seen = other_.requests();
    ASSERT_EQ(seen.size(), before + 1);
    EXPECT_EQ(seen.back().Count("host"), 1);
    EXPECT_EQ(seen.back().Header("host"), "other.example");
  }
  EXPECT_TRUE(a_.requests().empty());
}

TEST_F(HostRouting, AbsoluteFormWithoutPathOrWithEmptyHost) {
  // Host must be there but is ignored for absolute-form (§3.2.2): empty is fine.
  Response r = Send("GET http://other.example?q=1 HTTP/1.1\r\nHost:\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "answer to: GET /?q=1");
  ASSERT_EQ(other_.requests().size(), 1u);
  EXPECT_EQ(other_.requests()[0].Header("host"), "other.example");
}

TEST_F(HostRouting, BadHostsAre400) {
  const char* bad[] = {
      "GET /x HTTP/1.1\r\nHost: a\r\nHost: other.example\r\n\r\n",  // two Host lines
      "GET /x HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",              // even the same value
      "GET /x HTTP/1.1\r\n\r\n",                                    // HTTP/1.1 without Host
      "GET /x HTTP/1.1\r\nHost:\r\n\r\n",                           // empty, origin-form
      "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: user@a\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a:8o\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a\x01\r\n\r\n",
      "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",                  // empty authority
      "GET http://u@other.example/x HTTP/1.1\r\nHost: a\r\n\r\n",   // userinfo
      "GET ftp://other.example/x HTTP/1.1\r\nHost: a\r\n\r\n",      // not http(s)
  };
  for (const char* raw : bad) {
    SCOPED_TRACE(raw);
    Response r = Send(raw);
    EXPECT_EQ(r.status, 400) << r.error;
    EXPECT_FALSE(r.Header("x-graymesh-reason").empty());
  }
  EXPECT_TRUE(other_.requests().empty());
  EXPECT_TRUE(a_.requests().empty());
}

TEST_F(HostRouting, GoodHostsAreForwarded) {
  for (const char* host : {"a", "A", "a:8080", "a.", "%61"}) {
    SCOPED_TRACE(host);
    Response r = Send(std::string("GET /x HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    EXPECT_NE(r.status, 400) << r.error;
  }
  // OPTIONS * is routed by Host as the root and forwarded as it came.
  Response options = Send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(options.status, 200) << options.error;
  EXPECT_EQ(options.body, "answer to: OPTIONS *");
  // HTTP/1.0 needs no Host.
  Response r10 = Send("GET http://a/x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r10.status, 200) << r10.error;
}

}  // namespace
}  // namespace graymesh::test
