#include "control/watch_hub.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace graymesh::control {

void WatchHub::Notify(int64_t revision) {
  if (revision <= revision_) return;
  revision_ = revision;
  notified_at_ = std::chrono::steady_clock::now();
  WakeAll();
}

void WatchHub::Shutdown() {
  stopped_ = true;
  WakeAll();
}

void WatchHub::WakeAll() {
  // Cancelling completes each wait with operation_aborted; the watcher then
  // removes its own timer from the set.
  for (asio::steady_timer* t : timers_) t->cancel();
}

asio::awaitable<int64_t> WatchHub::Wait(int64_t version, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(timeout);
  // A wake-up is a hint, not a promise: loop until the revision really
  // passed `version` (a notification may still be queued) or time is up.
  while (!stopped_ && revision_ <= version &&
         timer.expiry() > asio::steady_timer::clock_type::now()) {
    timers_.insert(&timer);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    timers_.erase(&timer);
    if (!ec) break;  // expired
  }
  co_return revision_;
}

}  // namespace graymesh::control
