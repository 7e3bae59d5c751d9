#include "h2/tls_fixture.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "proxy/gateway_fixture.h"
#include "support/ports.h"

namespace graymesh::test {

using namespace std::chrono_literals;

void MakeCert(const std::string& dir, const std::string& name, const std::string& cn) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + cn +
                          " -addext subjectAltName=DNS:" + cn + ",IP:127.0.0.1 -keyout " + dir +
                          "/" + name + ".key -out " + dir + "/" + name + ".crt >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TlsGatewayProc StartTlsGateway(const std::string& dir, const std::string& rest) {
  TlsGatewayProc g;
  g.port = FreePort();
  g.admin = FreePort();
  g.config_path = WriteTempFile(
      "tls-gateway.yaml",
      "workers: 1\nlisteners:\n  - name: ingress\n    kind: gateway\n    address: 127.0.0.1:" +
          std::to_string(g.port) + "\n    tls:\n      cert: " + dir + "/default.crt\n      key: " +
          dir + "/default.key\n      sni:\n        - { serverName: b.test, cert: " + dir +
          "/b.crt, key: " + dir + "/b.key }\n" + rest);
  g.proc = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"gateway", "--config", g.config_path, "--admin",
                                              "127.0.0.1:" + std::to_string(g.admin)});
  EXPECT_TRUE(WaitForPort(g.port, 5s)) << g.proc->Log();
  EXPECT_TRUE(WaitForPort(g.admin, 5s)) << g.proc->Log();
  return g;
}

TlsGatewayProc StartTlsGateway(const std::string& dir, uint16_t upstream) {
  return StartTlsGateway(dir, "routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                              "  - name: app\n    protocol: http2\n    endpoints:\n"
                              "      - address: 127.0.0.1:" + std::to_string(upstream) + "\n");
}

std::string HttpsUrl(const std::string& host, uint16_t port, const std::string& path) {
  return "https://" + host + ":" + std::to_string(port) + path;
}

std::string Resolve(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port) + ":127.0.0.1";
}

}  // namespace graymesh::test
