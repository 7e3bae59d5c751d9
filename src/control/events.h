// The release event log: registrations, readiness, drains, deregistrations,
// lease expiries, ejections, rule changes and canary steps, each with its
// time, service, instance and lane, so "did this release lose anything, and
// where" has an answer (GET /v1/events, the console's timeline).
//
// Kept in the Store (the SQLite file, or etcd shared by every replica), so a
// restart or another replica still answers "did this release lose anything".
// Bounded by count, the newest `capacity` (10000: a few MB, weeks of
// releases of a mid-sized mesh, and a size that does not depend on how busy
// the mesh is; the log is a view for operators, not an audit trail). Without
// a store (unit tests) it is kept in memory. The failed-request counts around
// an event are not stored but asked of the traffic store when the events are
// read, so the "after" count keeps growing until 30 s after the event.
//
// A store that fails to record an event (etcd unreachable) loses that event
// only: the change it describes is already committed and stays; the failure
// is logged and counted (write_failures()).
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

#include "control/event.h"

namespace graymesh::control {

class EventLog {
 public:
  // 5xx answered for `service` between from_ms and to_ms (unix ms).
  using FailedCounter =
      std::function<uint64_t(std::string_view service, int64_t from_ms, int64_t to_ms)>;
  // The window either side of an event that failedBefore/failedAfter count.
  static constexpr int64_t kFailedWindowMs = 30'000;
  static constexpr size_t kDefaultCapacity = 10'000;

  // `store` null: in memory. A store must outlive the log.
  explicit EventLog(class Store* store = nullptr, size_t capacity = kDefaultCapacity);

  // Stamps id and (when 0) time_ms; returns the id.
  uint64_t Record(Event e);
  // Events with time_ms >= since_ms, oldest first; when more than `limit`
  // match, the newest `limit` of them. Throws what the store throws.
  std::vector<Event> Since(int64_t since_ms, size_t limit) const;
  uint64_t write_failures() const;
  // Unset (the default): failedBefore and failedAfter are 0.
  void SetFailedCounter(FailedCounter counter);

  // {"events": [...]} as GET /v1/events answers, with the failed counts.
  nlohmann::json ToJson(const std::vector<Event>& events) const;

 private:
  class Store* const store_;
  mutable std::mutex mu_;
  const size_t capacity_;
  uint64_t write_failures_ = 0;
  uint64_t next_id_ = 1;
  std::deque<Event> events_;  // by id, without a store
  FailedCounter failed_;
};

}  // namespace graymesh::control
