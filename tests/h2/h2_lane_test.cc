// Lanes for HTTP/2 requests: chosen and carried exactly as for HTTP/1.1
// (x-graymesh-lane, baggage, traceparent), with listener trust applied.
#include <gtest/gtest.h>

#include <string>

#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"

namespace graymesh::test {
namespace {

std::string TwoLaneService(uint16_t base, uint16_t gray) {
  return "services:\n  - name: app\n    protocol: http2\n    endpoints:\n"
         "      - address: 127.0.0.1:" + std::to_string(base) + "\n"
         "      - address: 127.0.0.1:" + std::to_string(gray) + "\n"
         "        labels: { lane: gray }\n";
}

TEST(Http2Lanes, GatewayEntranceRuleDyesTheRequestAndPicksTheLane) {
  NodeH2Server base = NodeH2Server::Start("base");
  NodeH2Server gray = NodeH2Server::Start("gray");
  Gateway gw = Gateway::Start("routes:\n  - { pathPrefix: /, service: app }\n" +
                              TwoLaneService(base.port, gray.port) +
                              "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n"
                              "      match:\n        - headers: { x-env: gray }\n");
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "x-env: gray", Url(gw.port, "/")});
  EXPECT_TRUE(Has(r, "< x-server: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-lane: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-baggage: graymesh-lane=gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-traceparent: 00-")) << r.out;  // made up for the chain

  CurlResult plain = Curl({"--http2-prior-knowledge", Url(gw.port, "/")});
  EXPECT_TRUE(Has(plain, "< x-server: base")) << plain.out;
  EXPECT_TRUE(Has(plain, "< x-seen-lane: \r")) << plain.out;
}

// A gateway trusts no client's lane header by default: it neither picks the
// lane nor reaches the upstream.
TEST(Http2Lanes, GatewayDropsAnUntrustedClientsLaneHeaders) {
  NodeH2Server base = NodeH2Server::Start("base");
  NodeH2Server gray = NodeH2Server::Start("gray");
  Gateway gw = Gateway::Start("routes:\n  - { pathPrefix: /, service: app }\n" +
                              TwoLaneService(base.port, gray.port));
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "x-graymesh-lane: gray", "-H",
                       "baggage: graymesh-lane=gray,user=7", Url(gw.port, "/")});
  EXPECT_TRUE(Has(r, "< x-server: base")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-lane: \r")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-baggage: user=7\r")) << r.out;
}

// A sidecar's outbound side: the app's lane header is believed, the lane's
// instance serves it, a lane with no instance falls back to base, and the
// caller is named.
TEST(Http2Lanes, SidecarOutboundKeepsTheLaneAndFallsBack) {
  NodeH2Server base = NodeH2Server::Start("base");
  NodeH2Server gray = NodeH2Server::Start("gray");
  NodeH2Server self = NodeH2Server::Start("self");
  Sidecar sc = Sidecar::Start("order", self.port, TwoLaneService(base.port, gray.port));
  CurlResult r = Curl({"--http2-prior-knowledge", "-H", "x-graymesh-lane: gray",
                       Url(sc.outbound, "/"), "-H", "host: app"});
  EXPECT_TRUE(Has(r, "< x-server: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-lane: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-source: order")) << r.out;

  CurlResult blue = Curl({"--http2-prior-knowledge", "-H", "x-graymesh-lane: blue",
                          Url(sc.outbound, "/"), "-H", "host: app"});
  EXPECT_TRUE(Has(blue, "< x-server: base")) << blue.out;
  EXPECT_TRUE(Has(blue, "< x-seen-lane: blue")) << blue.out;  // the lane travels on

  // Inbound: to the local app, HTTP/2 as it came (protocol auto).
  CurlResult in = Curl({"--http2-prior-knowledge", Url(sc.inbound, "/")});
  EXPECT_TRUE(Has(in, "< x-server: self")) << in.out;
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

// A share kept by trace id: a request without traceparent gets one before
// its lane is chosen, as over HTTP/1.1 (canaries rely on it), so at
// percent 100 every request is in the lane.
TEST(Http2Lanes, StickyOnTraceGivesARequestATraceBeforeChoosing) {
  NodeH2Server base = NodeH2Server::Start("base");
  NodeH2Server gray = NodeH2Server::Start("gray");
  Gateway gw = Gateway::Start("routes:\n  - { pathPrefix: /, service: app }\n" +
                              TwoLaneService(base.port, gray.port) +
                              "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n"
                              "      match:\n        - { percent: 100, stickyOn: trace }\n");
  CurlResult r = Curl({"--http2-prior-knowledge", Url(gw.port, "/")});
  EXPECT_TRUE(Has(r, "< x-server: gray")) << r.out;
  EXPECT_TRUE(Has(r, "< x-seen-traceparent: 00-")) << r.out;
}

}  // namespace
}  // namespace graymesh::test
