// Bad input gets a clear error, is counted, and harms nothing after it.
#include <gtest/gtest.h>

#include <thread>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

class Errors : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = SampleApp::Start("app");
    gw_ = Gateway::Start(
        "routes:\n  - { pathPrefix: /empty, service: empty }\n  - { pathPrefix: /app, service: app }\n"
        "services:\n  - name: app\n    endpoints:\n      - address: 127.0.0.1:" +
        std::to_string(app_.port) +
        "\n  - name: empty\n"
        "timeouts: { headerRead: 500ms, idle: 1s }\n"
        "limits: { maxHeaderBytes: 8Ki, maxBodyBytes: 1Ki }\n");
  }

  // Sends raw bytes on a fresh connection; expects `status`, a reason header,
  // and (for framing errors) the connection closed after.
  Response Expect(const std::string& raw, int status, bool closes) {
    TestConnection c(gw_.port);
    EXPECT_TRUE(c.Send(raw));
    Response r = c.ReadResponse();
    EXPECT_EQ(r.status, status) << r.error << "\n" << raw.substr(0, 200);
    EXPECT_FALSE(r.Header("x-graymesh-reason").empty());
    if (closes) {
      EXPECT_TRUE(c.IsClosedByPeer(2s));
    }
    return r;
  }

  // The proxy still serves normal requests afterwards.
  void ExpectHealthy() {
    Response r = HttpGet(gw_.port, "/app/ok");
    EXPECT_EQ(r.status, 200) << r.error;
  }

  SampleApp app_;
  Gateway gw_;
};

TEST_F(Errors, MalformedRequestIs400) {
  Expect("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n", 400, true);
  Expect("NOT A REQUEST\r\n\r\n", 400, true);
  EXPECT_EQ(gw_.Metric("rq_error_400"), 2u);
  ExpectHealthy();
}

TEST_F(Errors, OversizedHeadIs431) {
  Expect("GET /app HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(16 * 1024, 'v') + "\r\n\r\n", 431,
         true);
  std::string many = "GET /app HTTP/1.1\r\n";
  for (int i = 0; i < 200; ++i) many += "h" + std::to_string(i) + ": v\r\n";
  Expect(many + "\r\n", 431, true);
  EXPECT_EQ(gw_.Metric("rq_error_431"), 2u);
  ExpectHealthy();
}

TEST_F(Errors, OversizedBodyIs413) {
  Expect("POST /app HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", 413, true);
  // Chunked: the limit is found while streaming.
  std::string chunked = "POST /app HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
  Expect(chunked + "0\r\n\r\n", 413, true);
  ExpectHealthy();
}

TEST_F(Errors, SmugglingShapesAre400) {
  Expect("POST /app HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n",
         400, true);
  Expect("POST /app HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
         400, true);
  Expect("POST /app HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400, true);
  ExpectHealthy();
}

TEST_F(Errors, NoRouteIs404AndConnectionStaysOpen) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response r = c.ReadResponse();
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.closed_after);
  ASSERT_TRUE(c.Send("GET /app/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(c.ReadResponse().status, 200);
}

TEST_F(Errors, ServiceWithoutEndpointsIs503) {
  Response r = Expect("GET /empty HTTP/1.1\r\nHost: a\r\n\r\n", 503, false);
  EXPECT_NE(r.body.find("empty"), std::string::npos);
  EXPECT_EQ(gw_.Metric("rq_error_503"), 1u);
}

TEST_F(Errors, SlowHeadIs408) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /app HTTP/1.1\r\nHost: a\r\n"));  // never finished
  Response r = c.ReadResponse(3s);
  EXPECT_EQ(r.status, 408) << r.error;
  EXPECT_TRUE(c.IsClosedByPeer(2s));
  EXPECT_EQ(gw_.Metric("rq_error_408"), 1u);
}

TEST_F(Errors, IdleKeepAliveConnectionIsClosedSilently) {
  TestConnection c(gw_.port);
  ASSERT_TRUE(c.Send("GET /app HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(c.ReadResponse().status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.IsClosedByPeer(4s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms);
  EXPECT_EQ(gw_.Metric("rq_error_408"), 0u);
}

TEST(Config, InvalidFileIsRefusedWithFileAndLine) {
  std::string path = WriteTempFile("bad.yaml",
                                   "services:\n  - name: a\n    endpoints:\n"
                                   "      - address: 127.0.0.1:9\n        weight: 0\n");
  ChildProcess gw(GraymeshBin(), {"gateway", "--config", path, "--listen", "127.0.0.1:1"});
  EXPECT_EQ(gw.Wait(5s), 2);
  EXPECT_NE(gw.Log().find(path + ":5:"), std::string::npos) << gw.Log();
  EXPECT_NE(gw.Log().find("weight"), std::string::npos) << gw.Log();
}

}  // namespace
}  // namespace graymesh::test
