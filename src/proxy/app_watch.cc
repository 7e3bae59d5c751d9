#include "proxy/app_watch.h"

#include <spdlog/spdlog.h>

#include <string>

namespace graymesh::proxy {

using std::chrono::milliseconds;

AppWatch::AppWatch(AppProbe probe, milliseconds interval, std::function<void(bool)> on_change)
    : probe_(std::move(probe)),
      interval_(interval),
      on_change_(std::move(on_change)),
      thread_([this] { Loop(); }) {}

AppWatch::~AppWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool AppWatch::Wait(milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_; });
}

void AppWatch::Loop() {
  using Clock = std::chrono::steady_clock;
  std::string why, last_why;
  auto next_log = Clock::now();
  int bad = 0;
  do {
    const bool ok = AppReady(probe_, &why);
    bad = ok ? 0 : bad + 1;
    // Two failures in a row: one slow accept under load is not an outage.
    const bool now_ready = ok || (ready_ && bad < 2);
    if (now_ready != ready_) {
      ready_ = now_ready;
      if (now_ready) {
        spdlog::info("app {} ready", probe_.address);
      } else {
        spdlog::warn("app {} not ready ({}): /ready says 503", probe_.address, why);
      }
      if (on_change_) on_change_(now_ready);
    } else if (!now_ready && (why != last_why || Clock::now() >= next_log)) {
      spdlog::info("app {} not ready ({}): /ready says 503", probe_.address, why);
      last_why = why;
      next_log = Clock::now() + std::chrono::seconds(5);
    }
  } while (Wait(ready_ ? interval_ : milliseconds(200)));
}

}  // namespace graymesh::proxy
