// Accept loops out of descriptors, and limits that fit the descriptor limit,
// on real processes: the control plane and a gateway's worker. The running
// process's RLIMIT_NOFILE is lowered from outside (prlimit), as when the
// descriptors are taken by something else, so the connection caps derived at
// start do not prevent EMFILE.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/control_fixture.h"
#include "proxy/gateway_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/proc_stats.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

int OpenDescriptors(pid_t pid) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Lets `pid` open only `room` more descriptors.
void LeaveRoom(pid_t pid, int room) {
  const rlim_t limit = rlim_t(OpenDescriptors(pid) + room);
  const rlimit lim{limit, limit};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &lim, nullptr), 0) << std::strerror(errno);
}

// Holds `n` connections to `port` open (most wait in the backlog, as the
// server cannot accept them), then measures the server's CPU over 2 s.
double CpuWhileOutOfDescriptors(pid_t pid, uint16_t port,
                                std::vector<std::unique_ptr<TestConnection>>& held) {
  for (int i = 0; i < 40; ++i) {
    held.push_back(std::make_unique<TestConnection>(port));
    EXPECT_TRUE(held.back()->connected());
  }
  std::this_thread::sleep_for(300ms);  // the server has hit EMFILE by now
  const double before = CpuSeconds(pid);
  std::this_thread::sleep_for(2s);
  return CpuSeconds(pid) - before;
}

// Without the backoff the accept loop retries at once, for a full core.
constexpr double kMaxCpuSeconds = 0.3;

TEST(AcceptLimits, TheControlPlaneOutOfDescriptorsStaysQuietAndRecovers) {
  ControlPlane cp = ControlPlane::Start();
  LeaveRoom(cp.proc->pid(), 5);
  std::vector<std::unique_ptr<TestConnection>> held;
  const double cpu = CpuWhileOutOfDescriptors(cp.proc->pid(), cp.port, held);
  EXPECT_LT(cpu, kMaxCpuSeconds) << "CPU seconds over 2 s";
  held.clear();  // the server's accepted ones see EOF and close
  Response r;
  for (int i = 0; i < 30 && r.status != 200; ++i) {
    r = HttpGet(cp.port, "/healthz", {}, 2s);
    if (r.status != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(cp.proc->Log().find("pausing accepts"), std::string::npos) << cp.proc->Log();
}

TEST(AcceptLimits, AGatewayWorkerOutOfDescriptorsStaysQuietAndRecovers) {
  SampleApp app = SampleApp::Start("web");
  Gateway gw = Gateway::Start("services:\n  - name: web\n    endpoints:\n      - address: "
                              "127.0.0.1:" +
                              std::to_string(app.port) + "\nroutes:\n  - service: web\n");
  ASSERT_EQ(HttpGet(gw.port, "/x").status, 200);
  LeaveRoom(gw.proc->pid(), 5);
  std::vector<std::unique_ptr<TestConnection>> held;
  const double cpu = CpuWhileOutOfDescriptors(gw.proc->pid(), gw.port, held);
  EXPECT_LT(cpu, kMaxCpuSeconds) << "CPU seconds over 2 s";
  held.clear();
  Response r;
  for (int i = 0; i < 30 && r.status != 200; ++i) {
    r = HttpGet(gw.port, "/x", {}, 2s);
    if (r.status != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(gw.proc->Log().find("pausing accepts"), std::string::npos) << gw.proc->Log();
}

// "Max open files  SOFT  HARD  files" from /proc/PID/limits.
std::string OpenFileLimits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream fields(line.substr(14));
      std::string soft, hard;
      fields >> soft >> hard;
      return soft + " " + hard;
    }
  }
  return "";
}

TEST(AcceptLimits, TheGatewayRaisesItsSoftLimitAndFitsMaxConnectionsIntoIt) {
  const uint16_t port = FreePort();
  const std::string cfg = WriteTempFile(
      "gw.yaml", "workers: 2\nlisteners:\n  - name: ingress\n    address: 127.0.0.1:" +
                     std::to_string(port) + "\n");
  ChildProcess gw("/usr/bin/prlimit",
                  {"--nofile=256:4096", "--", GraymeshBin(), "gateway", "--config", cfg,
                   "--admin", "none"});
  ASSERT_TRUE(WaitForPort(port, 5s)) << gw.Log();
  EXPECT_EQ(OpenFileLimits(gw.pid()), "4096 4096");
  // (4096 - 100 spare) / (2 workers x 2 descriptors) = 999.
  EXPECT_NE(gw.Log().find("limits.maxConnections 16000 lowered to 999 per worker"),
            std::string::npos)
      << gw.Log();
}

TEST(AcceptLimits, TheControlPlaneRaisesItsSoftLimitAndFitsItsCap) {
  const uint16_t port = FreePort();
  ChildProcess cp("/usr/bin/prlimit",
                  {"--nofile=256:4096", "--", GraymeshBin(), "control", "--listen",
                   "127.0.0.1:" + std::to_string(port), "--store",
                   "sqlite:" + TempFile("c.db", ""), "--max-connections", "100000"});
  ASSERT_TRUE(WaitForPort(port, 5s)) << cp.Log();
  EXPECT_EQ(OpenFileLimits(cp.pid()), "4096 4096");
  EXPECT_NE(cp.Log().find("--max-connections 100000 lowered to 3996"), std::string::npos)
      << cp.Log();
}

}  // namespace
}  // namespace graymesh::test
