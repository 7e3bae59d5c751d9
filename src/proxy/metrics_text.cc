#include "proxy/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace graymesh::proxy {
namespace {

auto Labels(const SeriesSample& s) {
  return std::tie(s.direction, s.source, s.destination, s.lane_requested, s.lane_served,
                  s.code_class);
}

}  // namespace

std::string PromLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<SeriesSample> MergeSeries(std::vector<SeriesSample> all) {
  std::sort(all.begin(), all.end(),
            [](const SeriesSample& a, const SeriesSample& b) { return Labels(a) < Labels(b); });
  std::vector<SeriesSample> out;
  for (SeriesSample& s : all) {
    if (!out.empty() && Labels(out.back()) == Labels(s)) {
      out.back().counts.Add(s.counts);
    } else {
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string RenderTrafficMetrics(const TrafficSample& t) {
  std::string out;
  auto it = std::back_inserter(out);
  out +=
      "# HELP graymesh_requests_total Requests answered, by edge, lane requested, lane served "
      "and status class.\n# TYPE graymesh_requests_total counter\n";
  for (const SeriesSample& s : t.series) {
    fmt::format_to(it,
                   "graymesh_requests_total{{direction=\"{}\",source=\"{}\",destination=\"{}\","
                   "lane_requested=\"{}\",lane_served=\"{}\",code_class=\"{}\"}} {}\n",
                   s.direction, PromLabel(s.source), PromLabel(s.destination),
                   PromLabel(s.lane_requested), PromLabel(s.lane_served), s.code_class,
                   s.counts.count);
  }
  // The histogram drops lane_requested and code_class: fewer series.
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, SeriesCounts> hist;
  for (const SeriesSample& s : t.series) {
    hist[Key{s.direction, s.source, s.destination, s.lane_served}].Add(s.counts);
  }
  out +=
      "# HELP graymesh_request_duration_seconds Time from request head received to response "
      "sent, by edge and lane served.\n# TYPE graymesh_request_duration_seconds histogram\n";
  for (const auto& [k, c] : hist) {
    const std::string labels =
        fmt::format("direction=\"{}\",source=\"{}\",destination=\"{}\",lane_served=\"{}\"",
                    std::get<0>(k), PromLabel(std::get<1>(k)), PromLabel(std::get<2>(k)),
                    PromLabel(std::get<3>(k)));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBounds.size(); ++i) {
      cumulative += c.buckets[i];
      fmt::format_to(it, "graymesh_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                     kLatencyBounds[i], cumulative);
    }
    fmt::format_to(it, "graymesh_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
                   c.count);
    fmt::format_to(it, "graymesh_request_duration_seconds_sum{{{}}} {}\n", labels, c.sum);
    fmt::format_to(it, "graymesh_request_duration_seconds_count{{{}}} {}\n", labels, c.count);
  }
  out += RenderTcpMetrics(t.tcp);
  out += "# HELP graymesh_active_requests Requests received and not yet answered.\n"
         "# TYPE graymesh_active_requests gauge\n";
  fmt::format_to(it, "graymesh_active_requests {}\n", t.active_requests);
  out += "# HELP graymesh_endpoint_weight Effective weight of each upstream endpoint.\n"
         "# TYPE graymesh_endpoint_weight gauge\n";
  for (const EndpointSample& e : t.endpoints) {
    fmt::format_to(it, "graymesh_endpoint_weight{{service=\"{}\",address=\"{}\",lane=\"{}\"}} {}\n",
                   PromLabel(e.service), PromLabel(e.address), PromLabel(e.lane), e.weight);
  }
  out += "# HELP graymesh_endpoint_healthy 1 when the endpoint takes requests (not ejected).\n"
         "# TYPE graymesh_endpoint_healthy gauge\n";
  for (const EndpointSample& e : t.endpoints) {
    fmt::format_to(it, "graymesh_endpoint_healthy{{service=\"{}\",address=\"{}\",state=\"{}\"}} {}\n",
                   PromLabel(e.service), PromLabel(e.address), e.state,
                   e.state == "ejected" ? 0 : 1);
  }
  out += "# HELP graymesh_endpoint_ejected 1 while outlier detection keeps the endpoint out.\n"
         "# TYPE graymesh_endpoint_ejected gauge\n";
  for (const EndpointSample& e : t.endpoints) {
    fmt::format_to(it, "graymesh_endpoint_ejected{{service=\"{}\",address=\"{}\"}} {}\n",
                   PromLabel(e.service), PromLabel(e.address), e.state == "ejected" ? 1 : 0);
  }
  out += "# HELP graymesh_endpoint_ejections_total Times the endpoint was ejected.\n"
         "# TYPE graymesh_endpoint_ejections_total counter\n";
  for (const EndpointSample& e : t.endpoints) {
    fmt::format_to(it, "graymesh_endpoint_ejections_total{{service=\"{}\",address=\"{}\"}} {}\n",
                   PromLabel(e.service), PromLabel(e.address), e.ejections);
  }
  return out;
}

}  // namespace graymesh::proxy

#include "proxy/snapshot.h"

namespace graymesh::proxy {

std::vector<EndpointSample> ConfiguredEndpoints(const Snapshot& snap) {
  std::vector<EndpointSample> out;
  for (const ServiceInfo& s : snap.services()) {
    for (const EndpointInfo& e : s.endpoints) {
      out.push_back({.service = s.name, .address = e.address_text, .lane = e.lane,
                     .state = "healthy", .weight = e.weight});
    }
  }
  return out;
}

}  // namespace graymesh::proxy

namespace graymesh::proxy {

std::string RenderServerGauges(int64_t active_connections, uint64_t retries, bool draining) {
  return fmt::format(
      "# HELP graymesh_active_connections Client connections open.\n"
      "# TYPE graymesh_active_connections gauge\ngraymesh_active_connections {}\n"
      "# HELP graymesh_retries_total Requests retried on another endpoint.\n"
      "# TYPE graymesh_retries_total counter\ngraymesh_retries_total {}\n"
      "# HELP graymesh_draining 1 once the proxy drains.\n"
      "# TYPE graymesh_draining gauge\ngraymesh_draining {}\n",
      active_connections, retries, draining ? 1 : 0);
}

}  // namespace graymesh::proxy
