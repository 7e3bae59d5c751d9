#include "proxy/gateway_fixture.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>

#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;

std::string WriteTempFile(const std::string& name, const std::string& text) {
  static int seq = 0;
  std::string path = TestTempDir() + "/" + std::to_string(++seq) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

SampleApp SampleApp::Start(const std::string& name, const std::string& lane) {
  return Start(name, lane, {});
}

SampleApp SampleApp::Start(const std::string& name, const std::string& lane,
                           std::vector<std::string> extra, uint16_t port) {
  SampleApp app;
  app.port = port != 0 ? port : FreePort();
  std::vector<std::string> args{"sample-app", "--name", name, "--listen",
                                "127.0.0.1:" + std::to_string(app.port)};
  if (!lane.empty()) args.insert(args.end(), {"--lane", lane});
  args.insert(args.end(), extra.begin(), extra.end());
  app.proc = std::make_unique<ChildProcess>(GraymeshBin(), args);
  EXPECT_TRUE(WaitForPort(app.port, 5s)) << app.proc->Log();
  return app;
}

Gateway Gateway::Start(const std::string& yaml) {
  Gateway gw;
  gw.port = FreePort();
  gw.admin = FreePort();
  std::string text = "workers: 1\nlisteners:\n  - name: ingress\n    address: 127.0.0.1:" +
                     std::to_string(gw.port) + "\n" + yaml;
  gw.config_path = WriteTempFile("gateway.yaml", text);
  gw.proc = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"gateway", "--config", gw.config_path, "--admin",
                                              "127.0.0.1:" + std::to_string(gw.admin)});
  EXPECT_TRUE(WaitForPort(gw.port, 5s)) << gw.proc->Log();
  EXPECT_TRUE(WaitForPort(gw.admin, 5s)) << gw.proc->Log();
  return gw;
}

Sidecar Sidecar::Start(const std::string& service, uint16_t app_port, const std::string& yaml,
                       const std::vector<std::string>& extra, uint16_t outbound) {
  Sidecar sc;
  sc.inbound = FreePort();
  sc.outbound = outbound != 0 ? outbound : FreePort();
  sc.admin = FreePort();
  std::string cfg = WriteTempFile("sidecar.yaml", yaml);
  std::vector<std::string> args{"proxy", "--service", service, "--app",
                                "127.0.0.1:" + std::to_string(app_port), "--inbound",
                                "127.0.0.1:" + std::to_string(sc.inbound), "--outbound",
                                "127.0.0.1:" + std::to_string(sc.outbound), "--admin",
                                "127.0.0.1:" + std::to_string(sc.admin), "--config", cfg,
                                "--workers", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  sc.proc = std::make_unique<ChildProcess>(GraymeshBin(), args);
  EXPECT_TRUE(WaitForPort(sc.inbound, 5s)) << sc.proc->Log();
  EXPECT_TRUE(WaitForPort(sc.outbound, 5s)) << sc.proc->Log();
  return sc;
}

std::string OneServiceAt(uint16_t port, const std::string& extra) {
  return "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
         "    endpoints:\n      - address: 127.0.0.1:" + std::to_string(port) + "\n" + extra;
}

std::string RecvUntil(int fd, std::string_view marker, std::chrono::milliseconds timeout) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.find(marker) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  return got;
}

uint64_t Gateway::Metric(const std::string& name) const {
  Response r = HttpGet(admin, "/metrics");
  std::istringstream in(r.body);
  std::string line;
  const std::string key = "graymesh_" + name + " ";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size()));
  }
  ADD_FAILURE() << "no metric " << name << " in:\n" << r.body;
  return 0;
}

}  // namespace graymesh::test
