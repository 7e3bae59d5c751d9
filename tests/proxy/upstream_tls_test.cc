// TLS to upstreams (services[].tls): a real nginx serving HTTPS with
// certificates made at test time by `openssl req`, reached through a real
// gateway. Verification (chain and name), keep-alive over TLS, and pooled
// TLS connections the upstream closed while idle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/https_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

// The gateway's config: one service `s` at 127.0.0.1:port with `tls`.
std::string TlsService(uint16_t port, const std::string& tls, const std::string& extra = "") {
  return "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    tls: " + tls +
         "\n    endpoints:\n      - address: 127.0.0.1:" + std::to_string(port) + "\n" + extra;
}

class UpstreamTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindNginx().empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh)";
    server_ = MakeCert("upstream.test", "DNS:upstream.test,IP:127.0.0.1");
  }
  std::string server_;
};

// Verified against its CA and name: 200, and the pooled connection carries
// every request after the first, so one handshake serves them all.
TEST_F(UpstreamTls, AVerifiedConnectionServesManyRequestsOnOneHandshake) {
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(
      TlsService(up.port, "{ ca: " + server_ + ".crt, sni: upstream.test }"));
  std::set<std::string> conns;
  for (int i = 0; i < 20; ++i) {
    Response r = HttpGet(gw.port, "/x");
    ASSERT_EQ(r.status, 200) << r.Header("x-graymesh-reason") << gw.proc->Log();
    EXPECT_EQ(r.body, "ok\n");
    EXPECT_EQ(r.Header("x-sni"), "upstream.test");
    conns.insert(r.Header("x-conn"));
  }
  EXPECT_EQ(conns.size(), 1u) << "one upstream connection, one handshake";
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 1u);
  EXPECT_EQ(gw.Metric("upstream_cx_reused"), 19u);
  // A POST with a body goes over it too.
  Response post = HttpPost(gw.port, "/x", std::string(100'000, 'a'));
  EXPECT_EQ(post.status, 200) << post.Header("x-graymesh-reason");
}

// The protection: a certificate from a root the service does not trust is
// refused, with the reason, as a connect failure of that endpoint. With the
// right CA the same upstream answers (the test above), so the 502 is the
// check's doing.
TEST_F(UpstreamTls, ACertificateFromAnotherRootIs502WithTheReason) {
  const std::string other = MakeCert("other-root", "DNS:upstream.test,IP:127.0.0.1");
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(TlsService(up.port, "{ ca: " + other + ".crt, sni: upstream.test }",
                                         "upstream: { retries: 0 }\n"));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("tls: certificate verify failed"),
            std::string::npos)
      << r.Header("x-graymesh-reason");
  EXPECT_EQ(gw.Metric("upstream_cx_connect_fail"), 1u);
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 0u);
  // Counted against the endpoint: next to one that verifies, it is set aside
  // after its first failure, and the retry of that request goes to the other.
  HttpsUpstream untrusted = HttpsUpstream::Start(other);
  Gateway pair = Gateway::Start(
      "routes:\n  - { pathPrefix: /, service: s }\nservices:\n  - name: s\n    tls: { ca: " +
      server_ + ".crt, sni: upstream.test }\n    endpoints:\n      - address: 127.0.0.1:" +
      std::to_string(untrusted.port) + "\n      - address: 127.0.0.1:" + std::to_string(up.port) +
      "\n");
  for (int i = 0; i < 20; ++i) {
    Response ok = HttpGet(pair.port, "/x");
    EXPECT_EQ(ok.status, 200) << ok.Header("x-graymesh-reason");
  }
  EXPECT_GE(pair.Metric("upstream_cx_connect_fail"), 1u);
  EXPECT_LE(pair.Metric("upstream_cx_connect_fail"), 2u);
  // The system store does not hold this self-signed root either.
  Gateway sys = Gateway::Start(TlsService(up.port, "{ sni: upstream.test }",
                                          "upstream: { retries: 0 }\n"));
  r = HttpGet(sys.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("tls: certificate verify failed"),
            std::string::npos)
      << r.Header("x-graymesh-reason");
}

TEST_F(UpstreamTls, ACertificateForAnotherNameIs502) {
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(TlsService(
      up.port, "{ ca: " + server_ + ".crt, sni: other.test }", "upstream: { retries: 0 }\n"));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("certificate verify failed (hostname mismatch)"),
            std::string::npos)
      << r.Header("x-graymesh-reason");
}

// No sni and an IP endpoint: no SNI is sent and the certificate must carry
// that IP.
TEST_F(UpstreamTls, AnIpEndpointWithoutSniIsVerifiedAgainstItsIp) {
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(TlsService(up.port, "{ ca: " + server_ + ".crt }"));
  Response r = HttpGet(gw.port, "/x");
  EXPECT_EQ(r.status, 200) << r.Header("x-graymesh-reason");
  EXPECT_EQ(r.Header("x-sni"), "") << "no SNI for an IP";

  const std::string by_name = MakeCert("name-only", "DNS:upstream.test");
  HttpsUpstream named = HttpsUpstream::Start(by_name);
  Gateway gw2 = Gateway::Start(
      TlsService(named.port, "{ ca: " + by_name + ".crt }", "upstream: { retries: 0 }\n"));
  r = HttpGet(gw2.port, "/x");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.Header("x-graymesh-reason").find("certificate verify failed (IP address mismatch)"),
            std::string::npos)
      << r.Header("x-graymesh-reason");
}

// nginx closes TLS connections idle for 300 ms (close_notify, then FIN). The
// pooled connection's liveness wait sees it and closes it: the next request,
// a POST with retries off that nothing could resend, takes a fresh one.
// Without the check it would go out on the dead connection and get its 502
// ("closed before responding", see Upstream.* for plaintext).
TEST_F(UpstreamTls, AnIdleConnectionTheUpstreamClosedIsNotReused) {
  HttpsUpstream up = HttpsUpstream::Start(server_, "300ms");
  Gateway gw = Gateway::Start(TlsService(
      up.port, "{ ca: " + server_ + ".crt, sni: upstream.test }", "upstream: { retries: 0 }\n"));
  Response first = HttpPost(gw.port, "/x", "data");
  ASSERT_EQ(first.status, 200) << first.Header("x-graymesh-reason");
  std::this_thread::sleep_for(1s);
  Response second = HttpPost(gw.port, "/x", "data");
  EXPECT_EQ(second.status, 200) << second.Header("x-graymesh-reason");
  EXPECT_NE(second.Header("x-conn"), first.Header("x-conn"));
  EXPECT_EQ(gw.Metric("upstream_cx_stale"), 1u);
  EXPECT_EQ(gw.Metric("upstream_cx_total"), 2u);
  EXPECT_EQ(gw.Metric("upstream_rq_retry"), 0u);
  // The second connection resumed the first one's TLS session.
  EXPECT_EQ(first.Header("x-resumed"), ".");
  EXPECT_EQ(second.Header("x-resumed"), "r");
}

// An HTTP/2 client's request to a tls: service goes on as HTTP/1.1 over a
// verified TLS connection (protocol auto), like an HTTP/1.1 client's; before,
// it was refused with a 502.
TEST_F(UpstreamTls, AnHttp2ClientReachesItAsHttp1OverTls) {
  HttpsUpstream up = HttpsUpstream::Start(server_);
  Gateway gw = Gateway::Start(
      TlsService(up.port, "{ ca: " + server_ + ".crt, sni: upstream.test }"));
  const std::string out = TestTempDir() + "/h2-tls.txt";
  const std::string cmd = "curl -s --http2-prior-knowledge -o " + out +
                          " -w '%{http_code} %{http_version}' http://127.0.0.1:" +
                          std::to_string(gw.port) + "/x > " + out + ".code";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream code(out + ".code"), body(out);
  std::string status((std::istreambuf_iterator<char>(code)), {});
  std::string answer((std::istreambuf_iterator<char>(body)), {});
  EXPECT_EQ(status, "200 2") << answer;
  EXPECT_EQ(HttpGet(gw.port, "/x").status, 200) << "HTTP/1.1 clients are served";
}

TEST_F(UpstreamTls, AMissingCaFileIsAConfigErrorWithFileAndLine) {
  const std::string path = WriteTempFile(
      "missing-ca.yaml", "listeners:\n  - { name: ingress, address: '127.0.0.1:" +
                             std::to_string(FreePort()) + "' }\n" +
                             TlsService(1, "{ ca: /nonexistent/ca.pem }"));
  ChildProcess gw(GraymeshBin(), {"gateway", "--config", path});
  EXPECT_NE(gw.Wait(10s), 0);
  EXPECT_NE(gw.Log().find(path + ":7: services[0].tls.ca: cannot read CA file "
                                 "\"/nonexistent/ca.pem\": No such file or directory"),
            std::string::npos)
      << gw.Log();
}

}  // namespace
}  // namespace graymesh::test
