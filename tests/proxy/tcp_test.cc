// The TCP entry: connections split between lanes by a sticky hash of the
// client address or by an address list; bytes both ways with half-close; a
// connection outlives a rule change.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

// Greets each connection with its name, then echoes; on EOF from the client
// it half-closes too.
class IdentEchoServer {
 public:
  explicit IdentEchoServer(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    port_ = FreePort();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 512);
    thread_ = std::thread([this] { Loop(); });
  }
  ~IdentEchoServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    for (auto& t : conns_) t.join();
  }
  uint16_t port() const { return port_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      conns_.emplace_back([this, c] {
        std::string hello = name_ + "\n";
        ::send(c, hello.data(), hello.size(), MSG_NOSIGNAL);
        char buf[4096];
        for (;;) {
          ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) break;
          ::send(c, buf, size_t(n), MSG_NOSIGNAL);
        }
        ::shutdown(c, SHUT_WR);
        ::close(c);
      });
    }
  }
  std::string name_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// A client connection from a chosen loopback source address.
class Client {
 public:
  Client(const std::string& source, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{3, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src));
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool ok() const { return ok_; }
  // Reads up to and including the next newline.
  std::string Line() {
    std::string s;
    char c;
    while (::recv(fd_, &c, 1, 0) == 1) {
      if (c == '\n') return s;
      s += c;
    }
    return s;
  }
  void Send(const std::string& s) { ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // Everything until the peer closes.
  std::string Rest() {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) s.append(buf, size_t(n));
    return s;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string Config(uint16_t tcp_port, uint16_t base, uint16_t gray, const std::string& lanes) {
  return "workers: 1\nlisteners:\n  - { name: devices, kind: tcp, address: 127.0.0.1:" +
         std::to_string(tcp_port) + ", service: device }\nservices:\n  - name: device\n"
         "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(base) +
         "\n      - address: 127.0.0.1:" + std::to_string(gray) +
         "\n        labels: { lane: gray }\n" + lanes;
}

const char* kTenPercentByClient = R"(lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - percent: 10
)";

struct TcpGateway {
  uint16_t port = FreePort();
  uint16_t admin = 0;  // 0: no admin endpoint
  std::string config_path;
  std::unique_ptr<ChildProcess> proc;
  TcpGateway(uint16_t base, uint16_t gray, const std::string& lanes, bool with_admin = false) {
    config_path = WriteTempFile("tcp.yaml", Config(port, base, gray, lanes));
    if (with_admin) admin = FreePort();
    proc = std::make_unique<ChildProcess>(
        GraymeshBin(), std::vector<std::string>{"gateway", "--config", config_path, "--admin",
                                                with_admin ? "127.0.0.1:" + std::to_string(admin)
                                                           : "none"});
    EXPECT_TRUE(WaitForPort(port, 5s)) << proc->Log();
    if (with_admin) EXPECT_TRUE(WaitForPort(admin, 5s)) << proc->Log();
  }
  // A series' value from /metrics; -1 when absent.
  double Metric(const std::string& series) const {
    std::istringstream in(HttpGet(admin, "/metrics").body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }
};

std::string TcpSeries(const std::string& family, const std::string& requested,
                      const std::string& served, const std::string& extra = "") {
  return family + "{source=\"devices\",destination=\"device\",lane_requested=\"" + requested +
         "\",lane_served=\"" + served + "\"" + extra + "}";
}

TEST(TcpEntry, AboutTenPercentOfClientsReachGrayAndStayThere) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), kTenPercentByClient);
  int gray_count = 0;
  const int n = 600;
  for (int i = 0; i < n; ++i) {
    std::string source = "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
    Client c(source, gw.port);
    ASSERT_TRUE(c.ok());
    std::string who = c.Line();
    ASSERT_TRUE(who == "base" || who == "gray") << who;
    gray_count += who == "gray";
    if (i < 20) {  // sticky: the same client address gets the same lane again
      Client again(source, gw.port);
      EXPECT_EQ(again.Line(), who);
    }
  }
  EXPECT_NEAR(gray_count, n / 10, n * 3 / 100);
}

TEST(TcpEntry, SourceAddressListAndHalfClose) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), R"(lanes:
  - name: testers
    tag: gray
    entrance:
      match:
        - sourceAddress: { in: ["127.0.9.0/24"] }
)");
  Client tester("127.0.9.7", gw.port);
  EXPECT_EQ(tester.Line(), "gray");
  Client other("127.0.8.7", gw.port);
  EXPECT_EQ(other.Line(), "base");
  // Half-close: the client stops sending; the upstream still answers all of
  // it and then closes.
  std::string payload(100000, 'x');
  tester.Send(payload);
  tester.ShutdownWrite();
  EXPECT_EQ(tester.Rest(), payload);
}

// Every connection is in the labelled metrics when it ends: by listener,
// service, lane requested and lane served, with its bytes each way and its
// duration; one no upstream took counts as failed.
TEST(TcpEntry, ConnectionsBytesAndDurationsAreInTheLabelledMetrics) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), R"(lanes:
  - name: testers
    tag: gray
    entrance:
      match:
        - sourceAddress: { in: ["127.0.9.0/24"] }
)",
                true);
  // The start's port probe (from 127.0.0.1, base) is a connection too.
  const std::string base_connected =
      TcpSeries("graymesh_tcp_connections_total", "", "", ",result=\"connected\"");
  const std::string base_sent = TcpSeries("graymesh_tcp_sent_bytes_total", "", "");
  for (int i = 0; i < 50 && gw.Metric(base_connected) < 1; ++i) std::this_thread::sleep_for(50ms);
  const double probes = gw.Metric(base_connected), probe_bytes = gw.Metric(base_sent);
  const std::string payload(5000, 'x');
  {
    Client tester("127.0.9.7", gw.port);
    ASSERT_EQ(tester.Line(), "gray");
    tester.Send(payload);
    tester.ShutdownWrite();
    ASSERT_EQ(tester.Rest(), payload);
    Client other("127.0.8.7", gw.port);
    ASSERT_EQ(other.Line(), "base");
    other.ShutdownWrite();
    other.Rest();
  }
  const std::string gray_connected =
      TcpSeries("graymesh_tcp_connections_total", "gray", "gray", ",result=\"connected\"");
  for (int i = 0; i < 50 && gw.Metric(gray_connected) != 1; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gw.Metric(gray_connected), 1) << HttpGet(gw.admin, "/metrics").body;
  EXPECT_EQ(gw.Metric(TcpSeries("graymesh_tcp_received_bytes_total", "gray", "gray")),
            double(payload.size()));
  EXPECT_EQ(gw.Metric(TcpSeries("graymesh_tcp_sent_bytes_total", "gray", "gray")),
            double(payload.size() + 5));  // "gray\n" and the echo
  for (int i = 0; i < 50 && gw.Metric(base_connected) != probes + 1; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(gw.Metric(base_connected), probes + 1);
  EXPECT_EQ(gw.Metric(base_sent), probe_bytes + 5.0);  // "base\n"
  EXPECT_EQ(gw.Metric("graymesh_tcp_connection_duration_seconds_count{source=\"devices\","
                      "destination=\"device\",lane_served=\"gray\"}"),
            1);
  EXPECT_EQ(gw.Metric("graymesh_tcp_connection_duration_seconds_bucket{source=\"devices\","
                      "destination=\"device\",lane_served=\"gray\",le=\"+Inf\"}"),
            1);
}

TEST(TcpEntry, AConnectionNoUpstreamTookCountsAsFailed) {
  // Nothing listens on either endpoint.
  TcpGateway gw(FreePort(), FreePort(), "", true);
  const std::string failed =
      TcpSeries("graymesh_tcp_connections_total", "", "", ",result=\"failed\"");
  // The start's port probe failed the same way.
  for (int i = 0; i < 50 && gw.Metric(failed) < 1; ++i) std::this_thread::sleep_for(50ms);
  const double probes = gw.Metric(failed);
  {
    Client c("127.0.8.7", gw.port);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.Rest(), "") << "closed: nothing to connect to";
  }
  for (int i = 0; i < 50 && gw.Metric(failed) != probes + 1; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gw.Metric(failed), probes + 1) << HttpGet(gw.admin, "/metrics").body;
  EXPECT_EQ(gw.Metric(TcpSeries("graymesh_tcp_sent_bytes_total", "", "")), 0);
}

TEST(TcpEntry, LongLivedConnectionSurvivesARuleChange) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), R"(lanes:
  - name: testers
    tag: gray
    entrance:
      match:
        - sourceAddress: { exact: 127.0.9.7 }
)");
  Client lived("127.0.9.7", gw.port);
  ASSERT_EQ(lived.Line(), "gray");
  lived.Send("before\n");
  EXPECT_EQ(lived.Line(), "before");

  // The rule goes away: new connections go to base, the old one carries on.
  std::ofstream(gw.config_path) << Config(gw.port, base.port(), gray.port(), "");
  gw.proc->Signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  Client fresh("127.0.9.7", gw.port);
  EXPECT_EQ(fresh.Line(), "base");
  lived.Send("after\n");
  EXPECT_EQ(lived.Line(), "after");
}

TEST(TcpEntry, BadReloadKeepsTheRunningConfiguration) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), R"(lanes:
  - name: testers
    tag: gray
    entrance:
      match:
        - sourceAddress: { exact: 127.0.9.7 }
)");
  std::ofstream(gw.config_path) << "services: [ this is not valid";
  gw.proc->Signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  Client c("127.0.9.7", gw.port);
  EXPECT_EQ(c.Line(), "gray");
  EXPECT_NE(gw.proc->Log().find("reload refused"), std::string::npos) << gw.proc->Log();
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

// TCP-entry connections take part in the drain: an open one keeps relaying
// after SIGTERM while new ones are refused, and at the drain timeout it is
// ended in order (the client reads EOF after everything sent) and the exit
// code says the drain did not finish.
TEST(TcpEntry, DrainKeepsOpenConnectionsUntilTheTimeout) {
  IdentEchoServer base("base"), gray("gray");
  TcpGateway gw(base.port(), gray.port(), "timeouts:\n  drain: 1s\n");
  Client c("127.0.0.1", gw.port);
  ASSERT_EQ(c.Line(), "base");
  gw.proc->Signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  c.Send("still here\n");
  EXPECT_EQ(c.Line(), "still here");
  EXPECT_FALSE(WaitForPort(gw.port, 100ms)) << "no new connections while draining";
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Rest(), "");  // EOF at the drain timeout
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
  EXPECT_EQ(gw.proc->Wait(5s), 1) << gw.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
