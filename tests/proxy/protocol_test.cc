// What the proxy does with protocol features it does not forward (CONNECT,
// h2c upgrades, other HTTP versions), codings it passes through, the reasons
// it writes, and what an idle connection costs.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "proxy/gateway_fixture.h"
#include "proxy/recording_upstream.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

RecordingUpstream::Reply Answer(const RecordingUpstream::Request& rq) {
  if (rq.target == "/gzip") {
    return {.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n"};
  }
  return RecordingUpstream::AnswerNaming(rq);
}

class Protocol : public ::testing::Test {
 protected:
  void SetUp() override { gw_ = Gateway::Start(OneServiceAt(up_.port())); }
  RecordingUpstream up_{Answer};
  Gateway gw_;
};

TEST_F(Protocol, ConnectIsRefusedWithAReasonAndNeverForwarded) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n"));
  Response r = c.ReadResponse(2s);
  EXPECT_EQ(r.status, 501) << r.error;
  EXPECT_NE(r.Header("x-graymesh-reason").find("CONNECT"), std::string::npos);
  EXPECT_TRUE(c.IsClosedByPeer(2s));
  EXPECT_EQ(up_.connections(), 0);
  EXPECT_EQ(gw_.Metric("rq_error_501"), 1u);
}

// curl --http2 on cleartext: the upgrade is ignored (as nginx does), the
// request goes on as HTTP/1.1 and the connection keeps working.
TEST_F(Protocol, H2cUpgradeIsIgnoredAndTheConnectionKeepsWorking) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /first HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                     "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"));
  Response first = c.ReadResponse(2s);
  ASSERT_EQ(first.status, 200) << first.error;
  EXPECT_EQ(first.body, "answer to: GET /first");
  ASSERT_TRUE(c.Send("GET /second HTTP/1.1\r\nHost: a\r\nConnection: te, upgrade\r\n"
                     "Upgrade: h2c\r\nTE: trailers\r\n\r\n"));
  Response second = c.ReadResponse(2s);
  ASSERT_EQ(second.status, 200) << second.error;
  ASSERT_TRUE(c.Send("GET /third HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response third = c.ReadResponse(2s);
  ASSERT_EQ(third.status, 200) << third.error;
  EXPECT_EQ(third.body, "answer to: GET /third");
  for (const RecordingUpstream::Request& rq : up_.requests()) {
    EXPECT_EQ(rq.Header("upgrade"), "<none>");
    EXPECT_EQ(rq.Header("http2-settings"), "<none>");
    EXPECT_EQ(rq.Header("connection"), "<none>");
  }
}

TEST_F(Protocol, TransferCodingsBeforeChunkedAreKeptBothWays) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     "3\r\nxyz\r\n0\r\n\r\n"));
  ASSERT_EQ(c.ReadResponse(2s).status, 200);
  ASSERT_EQ(up_.requests().size(), 1u);
  EXPECT_EQ(up_.requests()[0].Header("transfer-encoding"), "gzip, chunked");
  EXPECT_EQ(up_.requests()[0].body, "xyz");
  ASSERT_TRUE(c.Send("GET /gzip HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response r = c.ReadResponse(2s);
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("transfer-encoding"), "gzip, chunked");
  EXPECT_EQ(r.body, "abc");
}

TEST_F(Protocol, OtherHttpVersionsAre505) {
  for (const char* raw :
       {"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", "GET /x HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET /x HTTP/0.9\r\nHost: a\r\n\r\n"}) {
    SCOPED_TRACE(raw);
    TestConnection c(gw_.port);
    ASSERT_TRUE(c.Send(raw));
    Response r = c.ReadResponse(2s);
    EXPECT_EQ(r.status, 505) << r.error;
    EXPECT_FALSE(r.Header("x-graymesh-reason").empty());
    EXPECT_TRUE(c.IsClosedByPeer(2s));
  }
  EXPECT_EQ(up_.connections(), 0);
  EXPECT_EQ(gw_.Metric("rq_error_505"), 3u);
}

// A Host that would put a line break into x-graymesh-reason (a folded line)
// is refused, and nothing from it becomes a header of the reply.
TEST(ProtocolSidecar, ReasonNeverCarriesLineBreaksFromTheRequest) {
  RecordingUpstream app(Answer);
  Sidecar sc = Sidecar::Start("order", app.port(), "services: []\n");
  TestConnection c(sc.outbound);
  ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nHost: nosuch\r\n x-injected: 1\r\n\r\n"));
  std::string reply = RecvUntil(c.fd(), "\n\n", 2s);
  EXPECT_EQ(reply.rfind("HTTP/1.1 4", 0), 0u) << reply;
  EXPECT_EQ(reply.find("\r\n x-injected"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("\nx-injected"), std::string::npos) << reply;
}

// Resident memory of a process, from /proc.
long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
  }
  return -1;
}

// Thousands of idle connections (the slowloris shape) must be cheap: buffers
// for the upstream side are only taken when a request is forwarded.
TEST_F(Protocol, IdleClientConnectionsCostLittleMemory) {
  constexpr int kConns = 2000;
  ASSERT_EQ(HttpGet(gw_.port, "/warm").status, 200);
  long before = RssKb(gw_.proc->pid());
  std::vector<std::unique_ptr<TestConnection>> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(std::make_unique<TestConnection>(gw_.port));
    ASSERT_TRUE(conns.back()->connected());
  }
  std::this_thread::sleep_for(500ms);  // let the gateway accept them all
  ASSERT_EQ(HttpGet(gw_.port, "/after").status, 200);
  long after = RssKb(gw_.proc->pid());
  double per_conn_kb = double(after - before) / kConns;
  RecordProperty("idle_connection_kb", std::to_string(per_conn_kb));
  std::printf("RSS per idle connection: %.1f KB (%ld -> %ld KB)\n", per_conn_kb, before, after);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(per_conn_kb, 10.0);  // was 17 KB with eagerly made upstream buffers
#endif
}

}  // namespace
}  // namespace graymesh::test
