// A proxy's traffic report (POST /v1/reports, docs/metrics.md): cumulative
// counters since the proxy started, one entry per edge and lane pair, plus
// the endpoints as that proxy sees them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace graymesh::control {

// Bounds on what one report may hold; past them the report is refused (400).
inline constexpr size_t kMaxReportEdges = 10'000;
inline constexpr size_t kMaxReportEndpoints = 10'000;
inline constexpr size_t kMaxReportBuckets = 64;
inline constexpr size_t kMaxReportString = 253;
// startedMs and nowMs: Unix ms, 0 up to the end of year 9999.
inline constexpr int64_t kMaxReportMillis = 253'402'300'799'999;

struct EdgeTotals {
  std::string direction;  // inbound | outbound | gateway
  std::string source, destination, lane_requested, lane_served;
  uint64_t requests = 0;
  uint64_t errors = 0;
  // Cumulative counts by upper bound, seconds, ascending; the last bound is
  // +infinity.
  std::vector<std::pair<double, uint64_t>> buckets;
  double latency_sum = 0;
  bool caller_side() const { return direction != "inbound"; }
};

struct EndpointTotals {
  std::string service, address, state;
  uint64_t weight = 0;
  uint64_t ejections = 0;
};

struct TrafficReport {
  std::string node, service, instance, gateway;
  int64_t started_ms = 0;
  int64_t now_ms = 0;
  std::vector<EdgeTotals> edges;
  std::vector<EndpointTotals> endpoints;
};

// Throws std::invalid_argument naming the field ("edges[3].requests: ...").
TrafficReport ParseTrafficReport(const nlohmann::json& j);

}  // namespace graymesh::control
