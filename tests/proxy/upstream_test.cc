// Upstream failures: dead endpoints, resets, garbage, slowness, and pooled
// connections the upstream closed while idle.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/stub_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

std::string Service(std::initializer_list<uint16_t> ports, const std::string& extra = "") {
  std::string y = "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n"
                  "    endpoints:\n";
  for (uint16_t p : ports) y += "      - address: 127.0.0.1:" + std::to_string(p) + "\n";
  return y + extra;
}

// Sockets of this host in CLOSE_WAIT towards `port`: the peer closed them and
// their owner has not (yet).
int CloseWaitTo(uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  int n = 0;
  char rem[16];
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, st;
    in >> sl >> local >> remote >> st;
    std::snprintf(rem, sizeof(rem), ":%04X", port);
    if (remote.size() > 5 && remote.substr(remote.size() - 5) == rem && st == "08") ++n;
  }
  return n;
}

int CountStatus(uint16_t port, const std::string& method, int n, int status) {
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    Response r = HttpRequest(port, method, "/x", method == "POST" ? "data" : "");
    if (r.status == status) ++hits;
  }
  return hits;
}

// Health off: every other request tries the dead endpoint first.
TEST(Upstream, DeadEndpointIsRetriedOnTheOther) {
  SampleApp live = SampleApp::Start("s");
  const RefusingPort dead;  // bound, not listening: connect is refused
  Gateway gw = Gateway::Start(Service({live.port, dead}, "upstream: { health: false }\n"));
  // Connect refused means the request never reached anyone: even POST is safe.
  EXPECT_EQ(CountStatus(gw.port, "GET", 20, 200), 20);
  EXPECT_EQ(CountStatus(gw.port, "POST", 20, 200), 20);
  EXPECT_GE(gw.Metric("upstream_rq_retry"), 15u);
  EXPECT_GE(gw.Metric("upstream_cx_connect_fail"), 15u);
}

// With health on, the refused connect makes the endpoint suspect: the
// following requests (and the retry) go to the live one at once.
TEST(Upstream, DeadEndpointIsSetAsideAfterItsFirstFailure) {
  SampleApp live = SampleApp::Start("s");
  const RefusingPort dead;
  Gateway gw = Gateway::Start(Service({live.port, dead}));
  EXPECT_EQ(CountStatus(gw.port, "GET", 20, 200), 20);
  EXPECT_EQ(CountStatus(gw.port, "POST", 20, 200), 20);
  EXPECT_LE(gw.Metric("upstream_cx_connect_fail"), 3u);
}

TEST(Upstream, WithoutRetriesTheDeadEndpointShowsAs502) {
  SampleApp live = SampleApp::Start("s");
  const RefusingPort dead;
  Gateway gw =
      Gateway::Start(Service({live.port, dead}, "upstream: { retries: 0, health: false }\n"));
  int failed = CountStatus(gw.port, "GET", 20, 502);
  EXPECT_GE(failed, 8);  // round robin: about every other request
  EXPECT_LE(failed, 12);
}

TEST(Upstream, WithoutRetriesHealthLimitsTheDeadEndpointToItsFirstFailure) {
  SampleApp live = SampleApp::Start("s");
  const RefusingPort dead;
  Gateway gw = Gateway::Start(Service({live.port, dead}, "upstream: { retries: 0 }\n"));
  EXPECT_LE(CountStatus(gw.port, "GET", 20, 502), 2);
}

TEST(Upstream, ResetBeforeResponseRetriesOnlyWhatIsSafe) {
  StubUpstream resetting(StubUpstream::Mode::kCloseAfterRequest);
  SampleApp live = SampleApp::Start("s");
  // Health off, so the resetting endpoint keeps its turn in the rotation.
  Gateway gw =
      Gateway::Start(Service({resetting.port(), live.port}, "upstream: { health: false }\n"));
  // GET is idempotent: the reset attempt is resent to the live endpoint.
  EXPECT_EQ(CountStatus(gw.port, "GET", 10, 200), 10);
  // POST may have been acted on: never resent, answered 502 with a reason.
  int posts_ok = 0, posts_502 = 0;
  for (int i = 0; i < 10; ++i) {
    Response r = HttpPost(gw.port, "/x", "data");
    if (r.status == 200) ++posts_ok;
    if (r.status == 502) {
      ++posts_502;
      EXPECT_NE(r.Header("x-graymesh-reason").find("closed before responding"), std::string::npos);
    }
  }
  EXPECT_EQ(posts_ok + posts_502, 10);
  EXPECT_GE(posts_502, 4);
  EXPECT_GE(posts_ok, 4);
}

// A request on a pooled connection that the upstream closed as the request
// went out (keep-alive racing its idle close; a draining sidecar closing its
// idle connections) got a 502. Nothing of a response came back on a reused
// connection: an idempotent request is resent once, on a fresh connection,
// whatever `retries` says (docs/lifecycle.md, "Resending").
TEST(Upstream, AGetOnAPooledConnectionClosedBeforeAnyResponseByteIsResent) {
  for (const char* extra : {"", "upstream: { retries: 0 }\n"}) {
    StubUpstream closing(StubUpstream::Mode::kCloseSecondRequest);
    Gateway gw = Gateway::Start(Service({closing.port()}, extra));
    Response first = HttpGet(gw.port, "/x");
    ASSERT_EQ(first.status, 200) << first.error;  // its connection is pooled
    Response second = HttpGet(gw.port, "/x");
    EXPECT_EQ(second.status, 200) << extra << second.body << second.error;
    EXPECT_EQ(closing.requests(), 3) << "the first, the lost one, the resent one";
    EXPECT_EQ(closing.connections(), 2);
    EXPECT_EQ(gw.Metric("upstream_rq_retry"), 1u);
    // The resend took a fresh connection, which the next GET reuses: the
    // same race again, and again one resend.
    EXPECT_EQ(HttpGet(gw.port, "/x").status, 200);
    EXPECT_EQ(closing.connections(), 3);
  }
}

// A POST the upstream read before it closed may have been acted on (an app
// that died under it, a sidecar killed at the end of its drain timeout):
// sending it again could apply it twice, so it gets its 502 with the reason.
TEST(Upstream, APostOnAPooledConnectionClosedAfterItWasReadIsNotResent) {
  StubUpstream closing(StubUpstream::Mode::kCloseSecondRequest);
  Gateway gw = Gateway::Start(Service({closing.port()}, "upstream: { health: false }\n"));
  ASSERT_EQ(HttpPost(gw.port, "/x", "data").status, 200);  // its connection is pooled
  Response second = HttpPost(gw.port, "/x", "data");
  EXPECT_EQ(second.status, 502);
  EXPECT_NE(second.Header("x-graymesh-reason").find("closed before responding"), std::string::npos);
  EXPECT_EQ(closing.requests(), 2) << "the POST was not sent twice";
}

// The other side of that rule: a POST on a fresh connection that closes
// before responding may have been acted on, and is not resent (see also
// ResetBeforeResponseRetriesOnlyWhatIsSafe); a GET is.
TEST(Upstream, APostOnAFreshConnectionClosedBeforeResponseIsNotResent) {
  StubUpstream resetting(StubUpstream::Mode::kCloseAfterRequest);
  Gateway gw = Gateway::Start(Service({resetting.port()}, "upstream: { health: false }\n"));
  Response r = HttpPost(gw.port, "/x", "data");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("closed before responding"), std::string::npos);
  EXPECT_EQ(resetting.requests(), 1);
  EXPECT_EQ(HttpGet(gw.port, "/x").status, 502);
  EXPECT_EQ(resetting.requests(), 3) << "the GET was tried twice";
}

// With health on, the first reset makes the endpoint suspect: at most the
// first POST (never resent) sees it.
TEST(Upstream, ResetEndpointIsSetAsideSoPostsStopFailing) {
  StubUpstream resetting(StubUpstream::Mode::kCloseAfterRequest);
  SampleApp live = SampleApp::Start("s");
  Gateway gw = Gateway::Start(Service({resetting.port(), live.port}));
  int posts_ok = 0;
  for (int i = 0; i < 20; ++i) posts_ok += HttpPost(gw.port, "/x", "data").status == 200;
  EXPECT_GE(posts_ok, 19);
  EXPECT_LE(resetting.requests(), 2);
}

TEST(Upstream, GarbageResponseIs502) {
  StubUpstream garbage(StubUpstream::Mode::kGarbage);
  Gateway gw = Gateway::Start(Service({garbage.port()}));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("malformed upstream response"), std::string::npos);
}

TEST(Upstream, SlowResponseIs504) {
  SampleApp slow = SampleApp::Start("s");
  Gateway gw = Gateway::Start(Service({slow.port}, "timeouts: { response: 300ms }\n"));
  auto start = std::chrono::steady_clock::now();
  Response r = HttpGet(gw.port, "/sleep?ms=3000");
  EXPECT_EQ(r.status, 504);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(gw.Metric("rq_error_504"), 1u);
  EXPECT_EQ(HttpGet(gw.port, "/sleep?ms=10").status, 200);
}

TEST(Upstream, ConnectionClosedWhileIdleIsNeverUsed) {
  // The upstream closes keep-alive connections idle for 100 ms.
  StubUpstream closing(StubUpstream::Mode::kOk, 100ms);
  Gateway gw = Gateway::Start(Service({closing.port()}, "upstream: { retries: 0 }\n"));
  // GET with retries off: a stale reuse would surface as an error.
  ASSERT_EQ(HttpGet(gw.port, "/x").status, 200);
  std::this_thread::sleep_for(400ms);

  // Without the check, a client that reuses such a connection gets nothing
  // back: this is the failure the pool's check prevents.
  {
    TestConnection naive(closing.port());
    ASSERT_TRUE(naive.Send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_EQ(naive.ReadResponse().status, 200);
    std::this_thread::sleep_for(400ms);
    naive.Send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(naive.ReadResponse(2s).status, 0);
  }

  // Through the proxy, with retries off so nothing can hide a bad reuse.
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(gw.Metric("upstream_cx_stale"), 1u);
  EXPECT_EQ(closing.connections(), 3);  // proxy first, naive, proxy again
}

// A pooled connection keeps a wait for readability pending: when the upstream
// closes it while idle, the proxy closes its end at once (no CLOSE_WAIT socket
// held until the next request or the idle sweep), and the next request goes
// out on a fresh connection without needing a resend.
TEST(Upstream, AConnectionTheUpstreamClosesWhileIdleIsClosedAtOnce) {
  StubUpstream closing(StubUpstream::Mode::kOk, 100ms);
  Gateway gw = Gateway::Start(Service({closing.port()}, "upstream: { retries: 0 }\n"));
  ASSERT_EQ(HttpGet(gw.port, "/x").status, 200);
  EXPECT_EQ(closing.connections(), 1);
  std::this_thread::sleep_for(500ms);  // the stub closed it after 100 ms
  EXPECT_EQ(CloseWaitTo(closing.port()), 0) << "the proxy still holds the closed connection";

  // What the proxy would hold without the wait: a client that never looks.
  TestConnection naive(closing.port());
  ASSERT_TRUE(naive.Send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(naive.ReadResponse().status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(CloseWaitTo(closing.port()), 1);

  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 200) << r.Header("x-graymesh-reason");
  EXPECT_EQ(gw.Metric("upstream_cx_stale"), 1u);
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 2u);
  EXPECT_EQ(gw.Metric("upstream_rq_retry"), 0u) << "not sent on the dead connection first";
}

// Base requests never go to lane instances (docs/design.md, lane model): a service whose
// only instance is gray answers base requests 503 with the reason, and lane
// requests that fall back to base do too.
TEST(Upstream, ABaseRequestNeverReachesALaneInstance) {
  SampleApp gray = SampleApp::Start("s", "gray");
  // Lanes dyed by the gateway's entrance rules, from x-env.
  std::string lanes = "lanes:\n";
  for (const char* tag : {"gray", "blue"}) {
    lanes += std::string("  - name: ") + tag + "\n    tag: " + tag +
             "\n    entrance:\n      match:\n        - headers: { x-env: " + tag + " }\n";
  }
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    endpoints:\n"
      "      - address: 127.0.0.1:" + std::to_string(gray.port) + "\n        labels: { lane: gray }\n" +
      lanes);
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Header("x-graymesh-reason"), "service 's' has no base instance");
  r = HttpGet(gw.port, "/x", {{"x-env", "blue"}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Header("x-graymesh-reason"),
            "service 's' has no instance in lane 'blue' and no base instance");
  EXPECT_EQ(HttpGet(gw.port, "/x", {{"x-env", "gray"}}).status, 200);
}

// `baseFallback: anyLane` on a service lets any instance serve its base
// requests when it has no base instance.
TEST(Upstream, BaseFallbackAnyLaneLetsALaneInstanceServeBase) {
  SampleApp gray = SampleApp::Start("s", "gray");
  Gateway gw = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n"
      "    baseFallback: anyLane\n    endpoints:\n"
      "      - address: 127.0.0.1:" + std::to_string(gray.port) + "\n        labels: { lane: gray }\n");
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 200) << r.body << gw.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
