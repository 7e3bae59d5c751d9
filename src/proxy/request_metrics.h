// Request metrics by edge and lane: one table per worker, written only by its
// worker thread (no locks, no atomics), read by posting a task to that worker
// (Server::CollectTraffic) and merged there.
//
// Label sets are bounded: every label value goes through a per-worker table
// of at most kMaxLabelValues distinct strings (longer than kMaxLabelLength or
// past the cap: "other"), and a worker keeps at most kMaxSeries series (past
// it, requests count in one series whose labels are all "other"). Lanes and
// callers can come from request headers, so the caps are what keeps a
// client from growing the table.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/snapshot.h"

namespace graymesh::proxy {

inline constexpr size_t kMaxLabelValues = 512;
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxSeries = 4096;
// Upper bounds of the latency histogram, seconds (plus +Inf).
inline constexpr std::array<double, 13> kLatencyBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

enum class Direction : uint8_t { kInbound, kOutbound, kGateway };
std::string_view DirectionName(Direction d);

// What one finished request is recorded with. Views only need to live for
// the call.
struct RequestRecord {
  Direction direction = Direction::kInbound;
  std::string_view source;          // calling service, or the gateway's name
  std::string_view destination;     // "" = no service was chosen (404, 400...)
  std::string_view lane_requested;  // "" = base
  std::string_view lane_served;     // lane of the endpoint that answered; "" = base
  int status = 0;                   // 0 = no response reached the client
  double seconds = 0;
};

// Counts of one series; buckets are per bucket (not cumulative), the last
// one is +Inf.
struct SeriesCounts {
  uint64_t count = 0;
  std::array<uint64_t, kLatencyBounds.size() + 1> buckets{};
  double sum = 0;
  void Add(const SeriesCounts& o);
};

// One series as collected, with its label values copied out.
struct SeriesSample {
  std::string direction, source, destination, lane_requested, lane_served, code_class;
  SeriesCounts counts;
};

// "2xx".."5xx"; "none" when no response was sent.
std::string_view CodeClass(int status);

class RequestMetrics {
 public:
  RequestMetrics();
  // Worker thread only.
  void Record(const RequestRecord& r);
  std::vector<SeriesSample> Samples() const;

 private:
  uint16_t Intern(std::string_view value);

  std::vector<std::string> names_;  // id -> label value; 0 = "", 1 = "other"
  std::unordered_map<std::string, uint16_t, StringHash, std::equal_to<>> ids_;
  // Key: direction, class and four label ids packed into 64 bits.
  std::unordered_map<uint64_t, SeriesCounts> series_;
};

}  // namespace graymesh::proxy
