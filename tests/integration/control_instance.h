// Mesh members that know only the control plane, all real processes: a
// sample app behind a `graymesh proxy --control`, and polling helpers.
// Single-threaded test use; every process is killed with its object.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control/control_fixture.h"
#include "support/ports.h"

namespace graymesh::test {

inline std::string Addr(uint16_t p) { return "127.0.0.1:" + std::to_string(p); }

// A sample app behind a sidecar that knows only the control plane.
struct Instance {
  uint16_t app = FreePort(), inbound = FreePort(), outbound = FreePort(), admin = FreePort();
  std::string cache;
  std::unique_ptr<ChildProcess> app_proc, sidecar;
  std::vector<std::string> sidecar_args;

  // `app_extra`: more sample-app flags (--fail-rate 1, --latency 50).
  Instance(const std::string& service, const std::string& lane, const std::string& calls,
           const ControlPlane& cp, std::vector<std::string> app_extra = {})
      : Instance(service, lane, calls, cp.url(), std::move(app_extra)) {}
  Instance(const std::string& service, const std::string& lane, const std::string& calls,
           const std::string& control, std::vector<std::string> app_extra = {});
  void StartSidecar();
  // /ready: app up, registered, holding a snapshot.
  bool WaitReady(std::chrono::milliseconds timeout) const;
};

// Polls until `f` holds (pushes are asynchronous).
template <typename F>
bool Eventually(F f, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

}  // namespace graymesh::test
