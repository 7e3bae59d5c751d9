// Runs real `graymesh sample-app` processes on loopback ports and checks the
// behaviour the demo and the proxy tests rely on.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct App {
  ChildProcess proc;
  uint16_t port = 0;
  std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
};

// Starts `graymesh sample-app --name NAME --listen 127.0.0.1:<free port> ARGS...`.
App StartApp(const std::string& name, std::vector<std::string> args = {}) {
  App app;
  app.port = FreePort();
  std::vector<std::string> argv = {"sample-app", "--name", name, "--listen", app.addr()};
  argv.insert(argv.end(), args.begin(), args.end());
  app.proc = ChildProcess(GraymeshBin(), argv);
  EXPECT_TRUE(WaitForPort(app.port, 5s)) << name << " did not listen on " << app.addr();
  return app;
}

json Json(const Response& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body.substr(0, 200) << " " << r.error;
  return j;
}

// Index of the first byte that breaks the 'a' + i % 26 pattern, or -1.
int64_t FirstPatternMismatch(const std::string& body) {
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != static_cast<char>('a' + i % 26)) return static_cast<int64_t>(i);
  }
  return -1;
}

TEST(SampleApp, AnswersWithItsIdentity) {
  App a = StartApp("order", {"--lane", "gray"});
  Response r = HttpGet(a.port, "/anything/x?q=1");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  json j = Json(r);
  EXPECT_EQ(j["service"], "order");
  EXPECT_EQ(j["lane"], "gray");
  EXPECT_TRUE(j["instance"].get<std::string>().starts_with("order-")) << j["instance"];
  EXPECT_TRUE(j["instance"].get<std::string>().ends_with("-" + std::to_string(a.port)));
  EXPECT_EQ(j["path"], "/anything/x");
  EXPECT_EQ(j["calls"], json::array());

  App base = StartApp("order");
  EXPECT_EQ(Json(HttpGet(base.port, "/"))["lane"], "");
  EXPECT_NE(Json(HttpGet(base.port, "/"))["instance"], j["instance"]);
}

TEST(SampleApp, HealthzAndStatusAndSleep) {
  App a = StartApp("svc");
  Response h = HttpGet(a.port, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");
  EXPECT_EQ(HttpGet(a.port, "/status?code=418").status, 418);
  Response nc = HttpGet(a.port, "/status?code=204");
  EXPECT_EQ(nc.status, 204);
  EXPECT_EQ(nc.body, "");
  EXPECT_EQ(HttpGet(a.port, "/status?code=99").status, 400);
  auto t0 = std::chrono::steady_clock::now();
  Response s = HttpGet(a.port, "/sleep?ms=200");
  EXPECT_EQ(s.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST(SampleApp, EchoShowsRequestAsReceived) {
  App a = StartApp("svc");
  Response r = HttpGet(a.port, "/echo?x=1", {{"X-Test", "hello"}, {"Connection", "keep-alive"}});
  ASSERT_EQ(r.status, 200) << r.error;
  json j = Json(r);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["target"], "/echo?x=1");
  EXPECT_EQ(j["version"], "HTTP/1.1");
  EXPECT_EQ(j["bodyBytes"], 0);
  const json& headers = j["headers"];
  EXPECT_NE(std::find(headers.begin(), headers.end(), json::array({"X-Test", "hello"})),
            headers.end())
      << headers;
  EXPECT_NE(std::find(headers.begin(), headers.end(), json::array({"Connection", "keep-alive"})),
            headers.end());
  EXPECT_TRUE(j["peer"].get<std::string>().starts_with("127.0.0.1:"));

  Response post = HttpPost(a.port, "/echo", "12345");
  EXPECT_EQ(Json(post)["method"], "POST");
  EXPECT_EQ(Json(post)["bodyBytes"], 5);
}

TEST(SampleApp, CallsEmbedDownstreamAnswersAlongTheChain) {
  App c = StartApp("data", {"--lane", "gray"});
  App b = StartApp("payment", {"--calls", "data", "--via", c.addr()});
  App a = StartApp("order", {"--calls", "payment,payment", "--via", b.addr()});
  Response r = HttpGet(a.port, "/pay?id=7");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Json(r);
  ASSERT_EQ(j["calls"].size(), 2u) << j;
  for (const json& call : j["calls"]) {
    EXPECT_EQ(call["service"], "payment");
    EXPECT_EQ(call["path"], "/pay");
    ASSERT_EQ(call["calls"].size(), 1u);
    EXPECT_EQ(call["calls"][0]["service"], "data");
    EXPECT_EQ(call["calls"][0]["lane"], "gray");
  }
  // The second call reused the first one's keep-alive connection.
  EXPECT_EQ(j["calls"][0]["peer"], j["calls"][1]["peer"]);
  // And so does the next request.
  EXPECT_EQ(Json(HttpGet(a.port, "/pay"))["calls"][0]["peer"], j["calls"][0]["peer"]);
}

TEST(SampleApp, FailedCallsAreEmbeddedAndMake502) {
  App broken = StartApp("broken", {"--fail-rate", "1"});
  App a = StartApp("order", {"--calls", "broken", "--via", broken.addr()});
  Response r = HttpGet(a.port, "/x");
  EXPECT_EQ(r.status, 502);
  json j = Json(r);
  ASSERT_EQ(j["calls"].size(), 1u);
  EXPECT_EQ(j["calls"][0]["service"], "broken");
  EXPECT_EQ(j["calls"][0]["status"], 500);
  EXPECT_EQ(j["calls"][0]["error"], "injected");

  App lonely = StartApp("lonely",
                        {"--calls", "nowhere", "--via", "127.0.0.1:" + std::to_string(FreePort())});
  Response n = HttpGet(lonely.port, "/x");
  EXPECT_EQ(n.status, 502);
  json call = Json(n)["calls"][0];
  EXPECT_EQ(call["service"], "nowhere");
  EXPECT_EQ(call["status"], 0);
  EXPECT_NE(call["error"].get<std::string>().find("connect"), std::string::npos) << call;
}

// The callee reports the lane and trace headers it received under "headers".
TEST(SampleApp, PropagationModes) {
  App callee = StartApp("callee");
  const HeaderList inbound = {{"traceparent", kTraceparent},
                              {"baggage", "graymesh-lane=gray,user=7"},
                              {"x-graymesh-lane", "gray"}};
  struct Case {
    std::string mode;
    bool trace, baggage, lane;
  };
  // `all` is what OpenTelemetry's default propagators forward: trace context
  // and baggage, never graymesh's own x-graymesh-lane.
  for (const Case& c : {Case{"all", true, true, false}, Case{"trace", true, false, false},
                        Case{"none", false, false, false}}) {
    SCOPED_TRACE(c.mode);
    App caller =
        StartApp("caller", {"--calls", "callee", "--via", callee.addr(), "--propagate", c.mode});
    Response r = HttpGet(caller.port, "/", inbound);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = Json(r);
    EXPECT_EQ(j["headers"].size(), 3u) << "the caller itself saw all three";
    const json& seen = j["calls"][0]["headers"];
    EXPECT_EQ(seen.contains("traceparent"), c.trace) << seen;
    EXPECT_EQ(seen.contains("baggage"), c.baggage) << seen;
    EXPECT_EQ(seen.contains("x-graymesh-lane"), c.lane) << seen;
    if (c.trace) {
      EXPECT_EQ(seen["traceparent"], kTraceparent);
    }
    if (c.baggage) {
      EXPECT_EQ(seen["baggage"], "graymesh-lane=gray,user=7");
    }
  }
}

TEST(SampleApp, FailRateAndLatency) {
  App failing = StartApp("f", {"--fail-rate", "1.0"});
  Response r = HttpGet(failing.port, "/anything");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Json(r)["error"], "injected");
  EXPECT_EQ(HttpGet(failing.port, "/healthz").status, 200) << "probes are never failed";

  App healthy = StartApp("h", {"--fail-rate", "0"});
  for (int i = 0; i < 20; ++i) ASSERT_EQ(HttpGet(healthy.port, "/").status, 200);

  App slow = StartApp("s", {"--latency", "300"});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(HttpGet(slow.port, "/").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST(SampleApp, StreamedBodies) {
  App a = StartApp("svc");
  for (size_t n : {size_t{0}, size_t{1}, size_t{26 * 630 + 1}, size_t{3'000'000}}) {
    SCOPED_TRACE(n);
    Response b = HttpGet(a.port, "/bytes?n=" + std::to_string(n));
    ASSERT_EQ(b.status, 200) << b.error;
    EXPECT_EQ(b.Header("content-length"), std::to_string(n));
    EXPECT_EQ(b.body.size(), n);
    EXPECT_EQ(FirstPatternMismatch(b.body), -1);

    Response c = HttpGet(a.port, "/chunked?n=" + std::to_string(n));
    ASSERT_EQ(c.status, 200) << c.error;
    EXPECT_EQ(c.Header("transfer-encoding"), "chunked");
    EXPECT_FALSE(c.HasHeader("content-length"));
    EXPECT_EQ(c.body.size(), n);
    EXPECT_EQ(FirstPatternMismatch(c.body), -1);
  }
  EXPECT_EQ(HttpGet(a.port, "/bytes?n=lots").status, 400);
}

TEST(SampleApp, HeadAndPipeliningOnOneConnection) {
  App a = StartApp("svc");
  TestConnection conn(a.port);
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("HEAD /bytes?n=10 HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response head = conn.ReadResponse(5s, /*head_request=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "10");
  EXPECT_EQ(head.body, "");
  // Three requests in one write come back in order.
  ASSERT_TRUE(
      conn.Send("GET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                "GET /bytes?n=5 HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(conn.ReadResponse(5s).status, 201);
  Response up = conn.ReadResponse(5s);
  EXPECT_EQ(Json(up)["bodyBytes"], 3);
  Response bytes = conn.ReadResponse(5s);
  EXPECT_EQ(bytes.body, "abcde");
  EXPECT_FALSE(bytes.closed_after);
  // Connection: close is honoured.
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  Response last = conn.ReadResponse(5s);
  EXPECT_EQ(last.status, 200);
  EXPECT_TRUE(last.closed_after);
  EXPECT_TRUE(conn.IsClosedByPeer(2s));
}

// A write goes down the whole chain with its body, as a checkout's POST
// reaches payment: every hop names the method, and the last one's checksum
// is the body's.
TEST(SampleApp, WritesTravelTheChainWithTheirBody) {
  App c = StartApp("data");
  App b = StartApp("payment", {"--calls", "data", "--via", c.addr()});
  App a = StartApp("order", {"--calls", "payment", "--via", b.addr()});
  const std::string body = "order-42";
  Response r = HttpPost(a.port, "/pay", body);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Json(r);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["bodyBytes"], body.size());
  ASSERT_EQ(j["calls"].size(), 1u) << j;
  const json& payment = j["calls"][0];
  EXPECT_EQ(payment["service"], "payment");
  EXPECT_EQ(payment["method"], "POST");
  ASSERT_EQ(payment["calls"].size(), 1u) << j;
  const json& data = payment["calls"][0];
  EXPECT_EQ(data["service"], "data");
  EXPECT_EQ(data["method"], "POST");
  EXPECT_EQ(data["path"], "/pay");
  EXPECT_EQ(data["bodyBytes"], body.size());
  EXPECT_EQ(data["fnv1a64"], Fnv1a64Hex(body));
  EXPECT_EQ(payment["fnv1a64"], Fnv1a64Hex(body));

  // An app with calls holds the body to send it on: a longer one is refused.
  Response big = HttpPost(a.port, "/pay", std::string((1 << 20) + 1, 'x'));
  EXPECT_EQ(big.status, 413) << big.body.substr(0, 200);
}

TEST(SampleApp, UploadChecksums) {
  App a = StartApp("svc");
  std::string body(5 * 1024 * 1024, '\0');
  std::mt19937 rng(42);
  for (char& c : body) c = static_cast<char>(rng());
  Response r = HttpPost(a.port, "/upload", body);
  ASSERT_EQ(r.status, 200) << r.error;
  json j = Json(r);
  EXPECT_EQ(j["bodyBytes"], body.size());
  EXPECT_EQ(j["fnv1a64"], Fnv1a64Hex(body));
  EXPECT_EQ(j["method"], "POST");

  // Chunked, with chunks from 1 byte up, announced with Expect: 100-continue.
  TestConnection conn(a.port);
  ASSERT_TRUE(
      conn.Send("PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn.ReadResponse(5s).status, 100);
  std::string sent;
  std::string wire;
  for (size_t size = 1, at = 0; at < 200'000; at += size, size = size * 3 + 1) {
    std::string chunk = body.substr(at, size);
    char line[32];
    std::snprintf(line, sizeof(line), "%zx\r\n", chunk.size());
    wire += line + chunk + "\r\n";
    sent += chunk;
  }
  wire += "0\r\n\r\n";
  ASSERT_TRUE(conn.Send(wire));
  Response c = conn.ReadResponse(5s);
  ASSERT_EQ(c.status, 200) << c.error;
  EXPECT_EQ(Json(c)["bodyBytes"], sent.size());
  EXPECT_EQ(Json(c)["fnv1a64"], Fnv1a64Hex(sent));
}

TEST(SampleApp, BadRequestGets400) {
  App a = StartApp("svc");
  TestConnection conn(a.port);
  ASSERT_TRUE(conn.Send("GARBAGE\r\n\r\n"));
  Response r = conn.ReadResponse(5s);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(conn.IsClosedByPeer(2s));
}

TEST(SampleApp, SigtermFinishesInFlightAndExitsZero) {
  App a = StartApp("svc");
  TestConnection idle(a.port);
  ASSERT_TRUE(idle.Send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(idle.ReadResponse(5s).status, 200);
  TestConnection busy(a.port);
  ASSERT_TRUE(busy.Send("GET /sleep?ms=500 HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::this_thread::sleep_for(100ms);  // the request is in flight
  a.proc.Signal(SIGTERM);
  EXPECT_TRUE(idle.IsClosedByPeer(2s)) << "idle keep-alive connections are closed";
  Response r = busy.ReadResponse(5s);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.closed_after) << "answered with connection: close while draining";
  EXPECT_EQ(a.proc.Wait(5s), 0);
}

TEST(SampleApp, SigintExitsZero) {
  App a = StartApp("svc");
  EXPECT_EQ(a.proc.Stop(SIGINT, 5s), 0);
}

TEST(SampleApp, BadFlagsFail) {
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  for (std::vector<std::string> bad : {std::vector<std::string>{"--calls", "y"},
                                       {"--fail-rate", "2"},
                                       {"--propagate", "some"},
                                       {"--calls", "y", "--via", "no-port"}}) {
    std::vector<std::string> args = {"sample-app", "--name", "x", "--listen", listen};
    args.insert(args.end(), bad.begin(), bad.end());
    ChildProcess p(GraymeshBin(), args);
    int code = p.Wait(5s);
    EXPECT_NE(code, 0) << bad[0];
    EXPECT_NE(code, ChildProcess::kStillRunning) << bad[0];
  }
}

}  // namespace
}  // namespace graymesh::test
