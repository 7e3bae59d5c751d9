// The local app's readiness, the one rule every sidecar applies (the control
// agent before it registers and while registered, a static sidecar for its
// `/ready`): probe the app (app_probe.h) every `interval` while ready and
// every 200 ms while not; ready once a probe passes, not ready again after
// two failed probes in a row (one slow accept under load is not an outage).
// Changes are logged here, with the reason, and at most every 5 s while the
// app stays not ready.
//
// One thread of its own, started by the constructor, stopped and joined by
// the destructor; ready() from any thread. `on_change` runs on that thread
// after ready() changed; it must not block. Never on the request path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "proxy/app_probe.h"

namespace graymesh::proxy {

class AppWatch {
 public:
  explicit AppWatch(AppProbe probe,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(500),
                    std::function<void(bool ready)> on_change = nullptr);
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
  const std::function<void(bool)> on_change_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace graymesh::proxy
