// Labelled metrics of the TCP entry: connections, bytes and durations by
// listener, service, lane requested and lane served, and whether an upstream
// was connected. Like request_metrics.h: one table per worker, written only
// by its worker thread when a connection ends (no locks), copied out by a
// task posted to the worker and merged on the admin thread.
//
// Bounded: label values are the listener's name, its configured service and
// lanes of rules matching the client address (nothing a client sends), and a
// worker keeps at most kMaxSeries series (past it, one series whose labels
// are all "other").
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "proxy/request_metrics.h"

namespace graymesh::proxy {

// Upper bounds of the TCP connection duration histogram, seconds (plus +Inf):
// connections live from milliseconds to hours.
inline constexpr std::array<double, 9> kTcpDurationBounds = {0.01, 0.1, 1,    10,  60,
                                                             300,  1800, 3600, 86400};

// What one finished TCP connection is recorded with. Views only need to
// live for the call.
struct TcpRecord {
  std::string_view source;          // the listener's name
  std::string_view destination;     // the listener's service
  std::string_view lane_requested;  // "" = base
  std::string_view lane_served;     // lane of the endpoint connected; "" = base or none
  bool connected = false;           // an upstream took the connection
  uint64_t bytes_received = 0;      // from the client, sent upstream
  uint64_t bytes_sent = 0;          // from upstream, sent to the client
  double seconds = 0;               // accept to close
};

struct TcpCounts {
  uint64_t connections = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::array<uint64_t, kTcpDurationBounds.size() + 1> buckets{};  // per bucket, last = +Inf
  double seconds = 0;
  void Add(const TcpCounts& o);
};

struct TcpSeriesSample {
  std::string source, destination, lane_requested, lane_served;
  std::string result;  // "connected" | "failed"
  TcpCounts counts;
};

class TcpMetrics {
 public:
  // Worker thread only.
  void Record(const TcpRecord& r);
  std::vector<TcpSeriesSample> Samples() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string, bool>;
  std::map<Key, TcpCounts, std::less<>> series_;
};

// Sums series with equal labels; sorted by labels.
std::vector<TcpSeriesSample> MergeTcpSeries(std::vector<TcpSeriesSample> all);
// graymesh_tcp_connections_total, graymesh_tcp_received_bytes_total,
// graymesh_tcp_sent_bytes_total, graymesh_tcp_connection_duration_seconds.
std::string RenderTcpMetrics(const std::vector<TcpSeriesSample>& series);

}  // namespace graymesh::proxy
