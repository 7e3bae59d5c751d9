// A hostile --config file against a real `graymesh gateway`: refused at start
// with FILE:LINE, quickly and without growing; refused on SIGHUP while the
// running configuration keeps serving.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/proc_stats.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

// 37 KB that expands to 2 GB: a 2 KB string listed a thousand times, that
// list used by a thousand match clauses.
std::string AliasBomb() {
  std::string y =
      "lanes:\n  - name: bomb\n    tag: gray\n    entrance:\n      match:\n"
      "        - &c {headers: {x: {in: [&s \"" +
      std::string(2048, 'x') + "\"";
  for (int i = 1; i < 1000; ++i) y += ",*s";
  y += "]}}}\n";
  for (int i = 1; i < 1000; ++i) y += "        - *c\n";
  return y;
}

// Runs `graymesh ARGS` with its address space capped at 1 GiB when the build
// has no sanitizer (ASan reserves terabytes of it), so that the unprotected
// loader fails by bad_alloc instead of taking the machine's memory.
ChildProcess Graymesh(std::vector<std::string> args) {
#if defined(__SANITIZE_ADDRESS__)
  return ChildProcess(GraymeshBin(), args);
#else
  args.insert(args.begin(), {"--as=1073741824", "--", GraymeshBin()});
  return ChildProcess("/usr/bin/prlimit", args);
#endif
}

TEST(ConfigFile, AnAliasBombIsRefusedAtStartQuickly) {
  const std::string bomb = WriteTempFile("bomb.yaml", AliasBomb());
  const auto start = std::chrono::steady_clock::now();
  ChildProcess gw = Graymesh({"gateway", "--config", bomb, "--listen",
                              "127.0.0.1:" + std::to_string(FreePort()), "--admin", "none"});
  EXPECT_EQ(gw.Wait(10s), 2) << gw.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_NE(gw.Log().find("bomb.yaml:6: aliases are not allowed"), std::string::npos)
      << gw.Log();
}

TEST(ConfigFile, AnUnreadableOrHugeFileIsRefusedAtStart) {
  ChildProcess dir(GraymeshBin(), {"gateway", "--config", TestTempDir(), "--admin", "none"});
  EXPECT_EQ(dir.Wait(10s), 2) << dir.Log();
  ChildProcess zero(GraymeshBin(), {"gateway", "--config", "/dev/zero", "--admin", "none"});
  EXPECT_EQ(zero.Wait(10s), 2) << zero.Log();
  EXPECT_NE(zero.Log().find("/dev/zero:0: larger than 4194304 bytes"), std::string::npos)
      << zero.Log();
}

TEST(ConfigFile, SighupIntoAnAliasBombKeepsTheRunningConfiguration) {
  SampleApp app = SampleApp::Start("web");
  const uint16_t port = FreePort(), admin = FreePort();
  const std::string good = "workers: 1\nlisteners:\n  - name: ingress\n    address: 127.0.0.1:" +
                           std::to_string(port) +
                           "\nservices:\n  - name: web\n    endpoints:\n      - address: "
                           "127.0.0.1:" +
                           std::to_string(app.port) + "\nroutes:\n  - service: web\n";
  const std::string path = WriteTempFile("gateway.yaml", good);
  ChildProcess gw = Graymesh({"gateway", "--config", path, "--admin",
                              "127.0.0.1:" + std::to_string(admin)});
  ASSERT_TRUE(WaitForPort(port, 5s)) << gw.Log();
  ASSERT_EQ(HttpGet(port, "/x").status, 200);

  std::ofstream(path) << good << AliasBomb();
  gw.Signal(SIGHUP);
  for (int i = 0; i < 50 && gw.Log().find("reload refused") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(gw.Log().find("aliases are not allowed"), std::string::npos) << gw.Log();
  ASSERT_TRUE(gw.Running()) << gw.Log();
  EXPECT_EQ(HttpGet(port, "/x").status, 200);
  EXPECT_LT(PeakRssKib(gw.pid()), 128 * 1024 * kSanitizerMemoryFactor);
}

}  // namespace
}  // namespace graymesh::test
