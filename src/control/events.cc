#include "control/events.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "control/store.h"

namespace graymesh::control {

EventLog::EventLog(Store* store, size_t capacity)
    : store_(store), capacity_(std::max<size_t>(capacity, 1)) {}

uint64_t EventLog::Record(Event e) {
  if (e.time_ms == 0) e.time_ms = UnixMillis();
  if (store_ != nullptr) {
    try {
      return store_->AppendEvent(e, capacity_);
    } catch (const std::exception& ex) {
      std::lock_guard lock(mu_);
      ++write_failures_;
      spdlog::warn("release event {} {} {} not recorded: {}", e.kind, e.service, e.instance,
                   ex.what());
      return 0;
    }
  }
  std::lock_guard lock(mu_);
  e.id = next_id_++;
  events_.push_back(std::move(e));
  if (events_.size() > capacity_) events_.pop_front();
  return events_.back().id;
}

uint64_t EventLog::write_failures() const {
  std::lock_guard lock(mu_);
  return write_failures_;
}

std::vector<Event> EventLog::Since(int64_t since_ms, size_t limit) const {
  if (store_ != nullptr) return store_->ListEvents(since_ms, limit);
  std::lock_guard lock(mu_);
  // Times only grow with ids except when the clock steps back: scan from the
  // newest and stop at `limit` rather than trusting the order of times.
  std::vector<Event> out;
  for (auto it = events_.rbegin(); it != events_.rend() && out.size() < limit; ++it) {
    if (it->time_ms >= since_ms) out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void EventLog::SetFailedCounter(FailedCounter counter) {
  std::lock_guard lock(mu_);
  failed_ = std::move(counter);
}

nlohmann::json EventLog::ToJson(const std::vector<Event>& events) const {
  FailedCounter failed;
  {
    std::lock_guard lock(mu_);
    failed = failed_;  // called without the lock: it may take the traffic store's
  }
  nlohmann::json items = nlohmann::json::array();
  for (const Event& e : events) {
    uint64_t before = 0, after = 0;
    if (failed && !e.service.empty()) {
      before = failed(e.service, e.time_ms - kFailedWindowMs, e.time_ms);
      after = failed(e.service, e.time_ms, e.time_ms + kFailedWindowMs);
    }
    items.push_back({{"id", e.id},
                     {"timeMs", e.time_ms},
                     {"kind", e.kind},
                     {"service", e.service},
                     {"instance", e.instance},
                     {"lane", e.lane},
                     {"detail", e.detail},
                     {"failedBefore", before},
                     {"failedAfter", after}});
  }
  return {{"events", std::move(items)}};
}

}  // namespace graymesh::control
