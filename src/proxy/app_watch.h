// The local app's readiness for a sidecar that runs without a control plane
// (static configuration): the probe and the rule the control agent uses when
// it registers (app_probe.h): ready once the app passes a probe, not ready
// again after two failed probes in a row, so `/ready` (and a Kubernetes
// readiness probe pointed at it) follows the app there too.
//
// One thread of its own, started by the constructor, stopped and joined by
// the destructor; ready() from any thread. Never on the request path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "proxy/app_probe.h"

namespace graymesh::proxy {

class AppWatch {
 public:
  explicit AppWatch(AppProbe probe,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  ~AppWatch();
  AppWatch(const AppWatch&) = delete;
  AppWatch& operator=(const AppWatch&) = delete;

  bool ready() const { return ready_.load(); }

 private:
  void Loop();
  // False when stopped meanwhile.
  bool Wait(std::chrono::milliseconds d);

  const AppProbe probe_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace graymesh::proxy
