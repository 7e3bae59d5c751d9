// Long-poll watchers of the store revision. A waiting watcher is a coroutine
// parked on a timer of the server's io_context, not a thread: thousands of
// proxies cost thousands of timers. A change cancels every parked timer, which
// wakes the watchers at once to answer with the new snapshot.
//
// Thread-safety: all calls on the io_context's thread (post Notify there).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <set>

namespace graymesh::control {

class WatchHub {
 public:
  explicit WatchHub(int64_t revision) : revision_(revision) {}

  // The store reached `revision` (older notifications are ignored).
  void Notify(int64_t revision);
  // Wakes every watcher and makes later waits return at once (server stop).
  void Shutdown();

  // Waits until the revision passed `version` or `timeout` elapsed. Returns
  // the revision then.
  asio::awaitable<int64_t> Wait(int64_t version, std::chrono::milliseconds timeout);

  int64_t revision() const { return revision_; }
  // When the last Notify moved the revision (for the push latency metric).
  std::chrono::steady_clock::time_point notified_at() const { return notified_at_; }
  size_t waiting() const { return timers_.size(); }

 private:
  void WakeAll();

  int64_t revision_;
  std::chrono::steady_clock::time_point notified_at_{};
  bool stopped_ = false;
  std::set<asio::steady_timer*> timers_;
};

}  // namespace graymesh::control
