#include "proxy/tcp_metrics.h"

#include <fmt/format.h>

#include <algorithm>

#include "proxy/metrics_text.h"

namespace graymesh::proxy {
namespace {

auto Labels(const TcpSeriesSample& s) {
  return std::tie(s.source, s.destination, s.lane_requested, s.lane_served, s.result);
}

std::string Bounded(std::string_view v) {
  return v.size() > kMaxLabelLength ? std::string("other") : std::string(v);
}

}  // namespace

void TcpCounts::Add(const TcpCounts& o) {
  connections += o.connections;
  bytes_received += o.bytes_received;
  bytes_sent += o.bytes_sent;
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  seconds += o.seconds;
}

void TcpMetrics::Record(const TcpRecord& r) {
  // One lookup per connection, not per request: a string-keyed map is enough.
  auto it = series_.find(std::tie(r.source, r.destination, r.lane_requested, r.lane_served,
                                  r.connected));
  if (it == series_.end()) {
    Key key{Bounded(r.source), Bounded(r.destination), Bounded(r.lane_requested),
            Bounded(r.lane_served), r.connected};
    if (series_.size() >= kMaxSeries) key = {"other", "other", "other", "other", r.connected};
    it = series_.try_emplace(std::move(key)).first;
  }
  TcpCounts& c = it->second;
  ++c.connections;
  c.bytes_received += r.bytes_received;
  c.bytes_sent += r.bytes_sent;
  const size_t b =
      std::lower_bound(kTcpDurationBounds.begin(), kTcpDurationBounds.end(), r.seconds) -
      kTcpDurationBounds.begin();
  ++c.buckets[b];
  c.seconds += r.seconds;
}

std::vector<TcpSeriesSample> TcpMetrics::Samples() const {
  std::vector<TcpSeriesSample> out;
  out.reserve(series_.size());
  for (const auto& [k, c] : series_) {
    out.push_back({.source = std::get<0>(k),
                   .destination = std::get<1>(k),
                   .lane_requested = std::get<2>(k),
                   .lane_served = std::get<3>(k),
                   .result = std::get<4>(k) ? "connected" : "failed",
                   .counts = c});
  }
  return out;
}

std::vector<TcpSeriesSample> MergeTcpSeries(std::vector<TcpSeriesSample> all) {
  std::sort(all.begin(), all.end(), [](const TcpSeriesSample& a, const TcpSeriesSample& b) {
    return Labels(a) < Labels(b);
  });
  std::vector<TcpSeriesSample> out;
  for (TcpSeriesSample& s : all) {
    if (!out.empty() && Labels(out.back()) == Labels(s)) {
      out.back().counts.Add(s.counts);
    } else {
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string RenderTcpMetrics(const std::vector<TcpSeriesSample>& series) {
  std::string out;
  auto it = std::back_inserter(out);
  auto lanes = [](const TcpSeriesSample& s) {
    return fmt::format("source=\"{}\",destination=\"{}\",lane_requested=\"{}\",lane_served=\"{}\"",
                       PromLabel(s.source), PromLabel(s.destination), PromLabel(s.lane_requested),
                       PromLabel(s.lane_served));
  };
  out += "# HELP graymesh_tcp_connections_total TCP entry connections ended, by listener, "
         "service, lane requested, lane served and whether an upstream was connected.\n"
         "# TYPE graymesh_tcp_connections_total counter\n";
  for (const TcpSeriesSample& s : series) {
    fmt::format_to(it, "graymesh_tcp_connections_total{{{},result=\"{}\"}} {}\n", lanes(s),
                   s.result, s.counts.connections);
  }
  // Bytes without `result`: a failed connection moved none.
  std::map<std::string, TcpCounts> by_lanes;
  for (const TcpSeriesSample& s : series) by_lanes[lanes(s)].Add(s.counts);
  out += "# HELP graymesh_tcp_received_bytes_total Bytes received from TCP entry clients "
         "(sent upstream), counted when the connection ends.\n"
         "# TYPE graymesh_tcp_received_bytes_total counter\n";
  for (const auto& [labels, c] : by_lanes) {
    fmt::format_to(it, "graymesh_tcp_received_bytes_total{{{}}} {}\n", labels, c.bytes_received);
  }
  out += "# HELP graymesh_tcp_sent_bytes_total Bytes sent to TCP entry clients (received from "
         "upstream), counted when the connection ends.\n"
         "# TYPE graymesh_tcp_sent_bytes_total counter\n";
  for (const auto& [labels, c] : by_lanes) {
    fmt::format_to(it, "graymesh_tcp_sent_bytes_total{{{}}} {}\n", labels, c.bytes_sent);
  }
  // The histogram drops lane_requested and result, as the HTTP one does.
  using HistKey = std::tuple<std::string, std::string, std::string>;
  std::map<HistKey, TcpCounts> hist;
  for (const TcpSeriesSample& s : series) {
    hist[HistKey{s.source, s.destination, s.lane_served}].Add(s.counts);
  }
  out += "# HELP graymesh_tcp_connection_duration_seconds TCP entry connections from accept to "
         "close, by listener, service and lane served.\n"
         "# TYPE graymesh_tcp_connection_duration_seconds histogram\n";
  for (const auto& [k, c] : hist) {
    const std::string labels =
        fmt::format("source=\"{}\",destination=\"{}\",lane_served=\"{}\"",
                    PromLabel(std::get<0>(k)), PromLabel(std::get<1>(k)), PromLabel(std::get<2>(k)));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kTcpDurationBounds.size(); ++i) {
      cumulative += c.buckets[i];
      fmt::format_to(it, "graymesh_tcp_connection_duration_seconds_bucket{{{},le=\"{}\"}} {}\n",
                     labels, kTcpDurationBounds[i], cumulative);
    }
    fmt::format_to(it, "graymesh_tcp_connection_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
                   labels, c.connections);
    fmt::format_to(it, "graymesh_tcp_connection_duration_seconds_sum{{{}}} {}\n", labels,
                   c.seconds);
    fmt::format_to(it, "graymesh_tcp_connection_duration_seconds_count{{{}}} {}\n", labels,
                   c.connections);
  }
  return out;
}

}  // namespace graymesh::proxy
