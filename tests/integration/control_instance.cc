#include "integration/control_instance.h"

#include <gtest/gtest.h>

namespace graymesh::test {
using namespace std::chrono_literals;

Instance::Instance(const std::string& service, const std::string& lane, const std::string& calls,
                   const std::string& control, std::vector<std::string> app_extra) {
  std::vector<std::string> a{"sample-app", "--name", service, "--listen", Addr(app)};
  if (!lane.empty()) a.insert(a.end(), {"--lane", lane});
  if (!calls.empty()) {
    // x-env is the business header the lane rule reads at the caller's side.
    a.insert(a.end(), {"--calls", calls, "--via", Addr(outbound), "--forward-headers", "x-env"});
  }
  a.insert(a.end(), app_extra.begin(), app_extra.end());
  app_proc = std::make_unique<ChildProcess>(GraymeshBin(), a);
  cache = TestTempDir() + "/cache-" + std::to_string(inbound) + ".json";
  sidecar_args = {"proxy",      "--service",   service,     "--app",          Addr(app),
                  "--inbound",  Addr(inbound), "--outbound", Addr(outbound), "--admin",
                  Addr(admin),  "--control",   control,     "--cache",        cache,
                  "--workers",  "1"};
  if (!lane.empty()) sidecar_args.insert(sidecar_args.end(), {"--lane", lane});
  StartSidecar();
}

void Instance::StartSidecar() {
  sidecar = std::make_unique<ChildProcess>(GraymeshBin(), sidecar_args);
  EXPECT_TRUE(WaitForPort(inbound, 5s)) << sidecar->Log();
}

bool Instance::WaitReady(std::chrono::milliseconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (HttpGet(admin, "/ready", {}, 1s).status == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace graymesh::test
