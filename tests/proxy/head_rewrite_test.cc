// The heads the proxy writes (proxy/relay.cc): fields it keeps go on with
// their names, values and order as received, written `name: value` whatever
// spacing came before the value (what follows it is part of what llhttp
// gives as the value and goes on as it came); the ones it drops (hop-by-hop, listed in
// Connection) leave no trace. Checked on the exact bytes both ways, since
// plainly written fields are copied in runs and the others written anew.
#include <gtest/gtest.h>

#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

TEST(HeadRewrite, KeptFieldsKeepTheirOrderAndAreWrittenOneWay) {
  RecordingUpstream up([](const RecordingUpstream::Request&) {
    RecordingUpstream::Reply r;
    r.bytes =
        "HTTP/1.1 200 OK\r\nA:1\r\nB: 2\r\nKeep-Alive: timeout=5\r\nC: 3  \r\nD: 4\r\n"
        "E:\t five six \r\nContent-Length: 2\r\n\r\nok";
    return r;
  });
  Gateway gw = Gateway::Start(OneServiceAt(up.port()));
  TestConnection c(gw.port);
  ASSERT_TRUE(c.Send(
      "GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-b:2\r\nX-C:   3  \r\nX-D: 4\r\n"
      "Connection: x-d\r\nX-E: 5\r\nX-F: six seven\r\nTE: trailers\r\nX-G: 7\r\n\r\n"));
  const std::string response = RecvUntil(c.fd(), "\r\n\r\nok", 2s);
  ASSERT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;

  ASSERT_EQ(up.requests().size(), 1u);
  const std::string head = up.requests()[0].head;
  EXPECT_NE(head.find("\r\nX-A: 1\r\nx-b: 2\r\nX-C: 3  \r\nX-E: 5\r\nX-F: six seven\r\nX-G: 7\r\n"),
            std::string::npos)
      << head;
  EXPECT_EQ(head.find("X-D"), std::string::npos) << head;
  EXPECT_EQ(head.find("TE:"), std::string::npos) << head;

  // The response as the client got it: the fields in order, one way.
  EXPECT_NE(response.find("\r\nA: 1\r\nB: 2\r\nC: 3  \r\nD: 4\r\nE: five six \r\n"
                          "content-length: 2\r\n"),
            std::string::npos)
      << response;
}

}  // namespace
}  // namespace graymesh::test
