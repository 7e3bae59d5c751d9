#include "proxy/traffic_reporter.h"

#include <spdlog/spdlog.h>

#include <map>
#include <tuple>

#include "wire/instance_state.h"

namespace graymesh::proxy {
namespace {

using nlohmann::json;

}  // namespace

json BuildTrafficReport(const TrafficReporterOptions& opt, const TrafficSample& t,
                        const std::string& instance, int64_t started_ms, int64_t now_ms) {
  // An edge is a series without its status class.
  using Key = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  struct Edge {
    SeriesCounts counts;
    uint64_t errors = 0;
  };
  std::map<Key, Edge> edges;
  for (const SeriesSample& s : t.series) {
    Edge& e = edges[Key{s.direction, s.source, s.destination, s.lane_requested, s.lane_served}];
    e.counts.Add(s.counts);
    if (s.code_class == "5xx") e.errors += s.counts.count;
  }
  json out_edges = json::array();
  for (const auto& [k, e] : edges) {
    json buckets = json::array();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBounds.size(); ++i) {
      cumulative += e.counts.buckets[i];
      buckets.push_back(json::array({kLatencyBounds[i], cumulative}));
    }
    buckets.push_back(json::array({"+Inf", e.counts.count}));
    out_edges.push_back({{"direction", std::get<0>(k)},
                         {"source", std::get<1>(k)},
                         {"destination", std::get<2>(k)},
                         {"laneRequested", std::get<3>(k)},
                         {"laneServed", std::get<4>(k)},
                         {"requests", e.counts.count},
                         {"errors", e.errors},
                         {"latencyBuckets", std::move(buckets)},
                         {"latencySum", e.counts.sum}});
  }
  json endpoints = json::array();
  for (const EndpointSample& e : t.endpoints) {
    endpoints.push_back({{"service", e.service},
                         {"address", e.address},
                         {"state", e.state},
                         {"weight", e.weight},
                         {"ejections", e.ejections}});
  }
  return {{"node", opt.node},         {"service", opt.service},   {"instance", instance},
          {"gateway", opt.gateway},   {"startedMs", started_ms},  {"nowMs", now_ms},
          {"edges", std::move(out_edges)}, {"endpoints", std::move(endpoints)}};
}

TrafficReporter::TrafficReporter(TrafficReporterOptions options)
    : opt_(std::move(options)), started_ms_(wire::UnixMillis()) {}

TrafficReporter::~TrafficReporter() { Stop(); }

void TrafficReporter::Start() {
  if (opt_.urls.empty() || !opt_.collect || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void TrafficReporter::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TrafficReporter::Loop() {
  bool failing = false;
  auto next = std::chrono::steady_clock::now() + opt_.interval;
  while (!stop_) {
    if (std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    next += opt_.interval;
    const TrafficSample t = opt_.collect();
    const std::string instance = opt_.instance ? opt_.instance() : "";
    const std::string body =
        BuildTrafficReport(opt_, t, instance, started_ms_, wire::UnixMillis()).dump();
    const wire::ControlUrl& url = opt_.urls[current_ % opt_.urls.size()];
    wire::ApiResult r =
        wire::CallControl(url, opt_.token, "POST", "/v1/reports", body,
                             {{"content-type", "application/json"}}, std::chrono::seconds(2));
    if (r.status == 204 || r.status == 200) {
      if (failing) spdlog::info("control: traffic reports accepted again");
      failing = false;
      continue;
    }
    if (r.status == 0 || r.status >= 500) ++current_;  // try the next replica
    if (!failing) {
      spdlog::warn("control: traffic report refused ({})",
                   r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
    }
    failing = true;
    // Behind schedule (a slow control plane): skip missed beats, the counters are cumulative.
    next = std::max(next, std::chrono::steady_clock::now() + opt_.interval);
  }
}

}  // namespace graymesh::proxy
