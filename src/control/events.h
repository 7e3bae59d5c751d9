// The release event log: registrations, readiness, drains, deregistrations,
// lease expiries, ejections, rule changes and canary steps, each with its
// time, service, instance and lane, so "did this release lose anything, and
// where" has an answer (GET /v1/events, the console's timeline).
//
// Bounded: the newest `capacity` events are kept in memory, older ones are
// dropped (the log is a view for operators, not an audit trail; it starts
// empty with the process). The failed-request counts around an event are not
// stored but asked of the traffic store when the events are read, so the
// "after" count keeps growing until 30 s after the event.
//
// Thread-safety: every member may be called from any thread (a mutex; the
// log is on the control plane's API path, never on a proxy's request path).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace graymesh::control {

struct Event {
  uint64_t id = 0;  // 1, 2, ... in the order recorded; never reused
  int64_t time_ms = 0;
  std::string kind;  // one of kEventKinds
  std::string service;
  std::string instance;  // "" when not about one instance
  std::string lane;      // "" = base or not about a lane
  std::string detail;
};

// The kinds GET /v1/events reports.
inline constexpr const char* kEventKinds[] = {
    "registered", "ready",       "draining",     "deregistered", "expired",
    "ejected",    "returned",    "rule-applied", "rule-deleted", "canary-step"};

class EventLog {
 public:
  // 5xx answered for `service` between from_ms and to_ms (unix ms).
  using FailedCounter =
      std::function<uint64_t(std::string_view service, int64_t from_ms, int64_t to_ms)>;
  // The window either side of an event that failedBefore/failedAfter count.
  static constexpr int64_t kFailedWindowMs = 30'000;
  static constexpr size_t kDefaultCapacity = 10'000;

  explicit EventLog(size_t capacity = kDefaultCapacity);

  // Stamps id and (when 0) time_ms; returns the id.
  uint64_t Record(Event e);
  // Events with time_ms >= since_ms, oldest first; when more than `limit`
  // match, the newest `limit` of them.
  std::vector<Event> Since(int64_t since_ms, size_t limit) const;
  // Unset (the default): failedBefore and failedAfter are 0.
  void SetFailedCounter(FailedCounter counter);

  // {"events": [...]} as GET /v1/events answers, with the failed counts.
  nlohmann::json ToJson(const std::vector<Event>& events) const;

 private:
  mutable std::mutex mu_;
  const size_t capacity_;
  uint64_t next_id_ = 1;
  std::deque<Event> events_;  // by id
  FailedCounter failed_;
};

}  // namespace graymesh::control
