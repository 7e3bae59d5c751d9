// Upstream HTTP/2 connections without a stream close after
// upstream.idleTimeout, as idle HTTP/1.1 pool connections do.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "h2/h2_peers.h"
#include "proxy/gateway_fixture.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// Established TCP connections to 127.0.0.1:port, as `ss` lists them.
int ConnectionsTo(uint16_t port) {
  const std::string cmd = "ss -Htn state established '( dport = :" + std::to_string(port) + " )'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  int lines = 0;
  std::array<char, 512> buf;
  while (fgets(buf.data(), int(buf.size()), p) != nullptr) ++lines;
  ::pclose(p);
  return lines;
}

std::string Config(uint16_t up, const std::string& idle) {
  return "upstream: { idleTimeout: " + idle + " }\n"
         "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
         "    protocol: http2\n    endpoints:\n      - address: 127.0.0.1:" +
         std::to_string(up) + "\n";
}

TEST(Http2UpstreamIdle, AnIdleUpstreamConnectionIsClosedAfterTheIdleTimeout) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Config(up.port, "1s"));
  CurlResult r = Curl({"--http2-prior-knowledge", "http://127.0.0.1:" +
                                                      std::to_string(gw.port) + "/hello"});
  ASSERT_TRUE(r.out.find("< HTTP/2 200") != std::string::npos) << r.out;
  EXPECT_EQ(ConnectionsTo(up.port), 1);  // pooled after the request
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ConnectionsTo(up.port) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(ConnectionsTo(up.port), 0);
  // The next request opens a new one and is served.
  r = Curl({"--http2-prior-knowledge", "http://127.0.0.1:" + std::to_string(gw.port) + "/hello"});
  EXPECT_TRUE(r.out.find("< HTTP/2 200") != std::string::npos) << r.out;
}

// A connection in use by a stream is not idle, however long the stream takes.
TEST(Http2UpstreamIdle, AConnectionWithAStreamStaysOpen) {
  NodeH2Server up = NodeH2Server::Start("up1");
  Gateway gw = Gateway::Start(Config(up.port, "500ms"));
  CurlResult r = Curl({"--http2-prior-knowledge", "http://127.0.0.1:" +
                                                      std::to_string(gw.port) + "/slow?ms=2500"});
  EXPECT_TRUE(r.out.find("< HTTP/2 200") != std::string::npos) << r.out;
}

}  // namespace
}  // namespace graymesh::test
