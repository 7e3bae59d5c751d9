// What the control plane keeps of the proxies' traffic reports, and the
// traffic view over a window (GET /v1/traffic, docs/metrics.md).
//
// Reports hold counters since each proxy started; a window's traffic is the
// difference between a node's last report and its last one at or before the
// window's start, divided by the time between them. A node that restarted
// (another startedMs, or a counter lower than before) counts from zero.
// Times are the control plane's receive times, so proxy clocks may drift.
//
// Memory: per node, every report of the last 2 minutes and one per 10 s
// before that, for at most `retention`; at most `max_nodes` nodes (the one
// heard from least recently goes first).
//
// Thread-safety: none; the API calls it on its io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "control/traffic_report.h"

namespace graymesh::control {

class TrafficStore {
 public:
  explicit TrafficStore(std::chrono::milliseconds retention = std::chrono::minutes(65),
                        size_t max_nodes = 10'000);

  // Called from Add when a node reports an endpoint `ejected` that its
  // previous report had in another state (or did not list): for the release
  // event log. `node` is the reporting proxy.
  using OnEjected = std::function<void(const EndpointTotals& endpoint, const std::string& node,
                                       int64_t at_ms)>;
  void SetOnEjected(OnEjected f) { on_ejected_ = std::move(f); }

  void Add(TrafficReport report, int64_t received_ms);
  // The view of the `window_ms` up to `now_ms`: {windowSeconds, nowMs,
  // services, edges, instances, endpoints}. `instances`: each registered
  // instance's own requests, from its sidecar's inbound side (reports that
  // name their instance id).
  nlohmann::json Query(int64_t now_ms, int64_t window_ms) const;
  // 5xx answered for `service` between the two times (caller-side counts;
  // the service's own inbound counts when no caller reported it).
  uint64_t FailedBetween(std::string_view service, int64_t from_ms, int64_t to_ms) const;

  // Requests to `service` served in lane `lane_served` ("" = base) between
  // the two times, their 5xx and their p99 (caller-side counts; the
  // service's own inbound counts when no caller reported it): what a canary
  // judges.
  struct LaneTotals {
    uint64_t requests = 0;
    uint64_t errors = 0;
    double p99_seconds = 0;
  };
  LaneTotals LaneBetween(std::string_view service, std::string_view lane_served, int64_t from_ms,
                         int64_t to_ms) const;

  // The proxies whose latest report, received after `since_ms`, has the
  // endpoint at `address` of `service` ejected: who ejects whom.
  std::vector<std::string> EjectedBy(std::string_view service, std::string_view address,
                                     int64_t since_ms) const;

  size_t nodes() const { return nodes_.size(); }
  uint64_t reports() const { return reports_; }

 private:
  struct Sample {
    int64_t at_ms;
    std::shared_ptr<const TrafficReport> report;
  };
  // A node's last samples at or before `from_ms` and `to_ms` (null: none).
  static std::pair<const Sample*, const Sample*> At(const std::deque<Sample>& samples,
                                                    int64_t from_ms, int64_t to_ms);
  // Whether some caller (gateway or outbound side) reports calls to `service`.
  bool CallersReport(std::string_view service) const;
  std::chrono::milliseconds retention_;
  size_t max_nodes_;
  uint64_t reports_ = 0;
  OnEjected on_ejected_;
  std::map<std::string, std::deque<Sample>> nodes_;
};

}  // namespace graymesh::control
