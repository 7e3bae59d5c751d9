// The traffic half of the API: proxies' reports in (POST /v1/reports), the
// traffic view out (GET /v1/traffic), and the control plane's push metrics.
#include <fmt/format.h>

#include "config/config.h"
#include "control/api.h"
#include "wire/json_limits.h"

namespace graymesh::control {
namespace {

constexpr int64_t kDefaultWindowMs = 60'000;
constexpr int64_t kMaxWindowMs = 3'600'000;

}  // namespace

net::HttpReply Api::Report(const Request& req) {
  TrafficReport report;
  try {
    report = ParseTrafficReport(wire::ParseJsonOrThrow(req.body, "report"));
  } catch (const std::exception& e) {
    ++counters_.reports_refused;
    return ErrorReply(400, std::string("traffic report refused: ") + e.what());
  }
  traffic_.Add(std::move(report), UnixMillis());
  Reply r;
  r.status = 204;
  return r;
}

net::HttpReply Api::Traffic(const Request& req) {
  int64_t window_ms = kDefaultWindowMs;
  if (std::string_view w = req.QueryParam("window"); !w.empty()) {
    try {
      window_ms = config::ParseDuration(std::string(w)).count();
    } catch (const std::exception& e) {
      return ErrorReply(400, "window: " + std::string(e.what()));
    }
    if (window_ms < 1000 || window_ms > kMaxWindowMs) {
      return ErrorReply(400, "window: must be 1s..1h, got \"" + std::string(w.substr(0, 64)) + "\"");
    }
  }
  return JsonReply(200, traffic_.Query(UnixMillis(), window_ms));
}

void Api::CountPush(double seconds) {
  size_t i = 0;
  while (i < kPushBounds.size() && seconds > kPushBounds[i]) ++i;
  ++counters_.push_buckets[i];
  ++counters_.pushes;
  counters_.push_seconds += seconds;
}

std::string Api::TrafficMetrics() const {
  std::string out;
  auto it = std::back_inserter(out);
  out += "# HELP graymesh_control_pushes_total Snapshots sent to watchers woken by a change.\n"
         "# TYPE graymesh_control_pushes_total counter\n";
  fmt::format_to(it, "graymesh_control_pushes_total {}\n", counters_.pushes);
  out += "# HELP graymesh_control_push_latency_seconds From a store change to the snapshot "
         "reply of each woken watcher.\n# TYPE graymesh_control_push_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kPushBounds.size(); ++i) {
    cumulative += counters_.push_buckets[i];
    fmt::format_to(it, "graymesh_control_push_latency_seconds_bucket{{le=\"{}\"}} {}\n",
                   kPushBounds[i], cumulative);
  }
  fmt::format_to(it, "graymesh_control_push_latency_seconds_bucket{{le=\"+Inf\"}} {}\n",
                 counters_.pushes);
  fmt::format_to(it, "graymesh_control_push_latency_seconds_sum {}\n", counters_.push_seconds);
  fmt::format_to(it, "graymesh_control_push_latency_seconds_count {}\n", counters_.pushes);
  out += "# HELP graymesh_control_traffic_reporters Proxies whose traffic reports are kept.\n"
         "# TYPE graymesh_control_traffic_reporters gauge\n";
  fmt::format_to(it, "graymesh_control_traffic_reporters {}\n", traffic_.nodes());
  out += "# HELP graymesh_control_reports_total Traffic reports accepted.\n"
         "# TYPE graymesh_control_reports_total counter\n";
  fmt::format_to(it, "graymesh_control_reports_total {}\n", traffic_.reports());
  out += "# HELP graymesh_control_reports_refused_total Traffic reports refused (400).\n"
         "# TYPE graymesh_control_reports_refused_total counter\n";
  fmt::format_to(it, "graymesh_control_reports_refused_total {}\n", counters_.reports_refused);
  return out;
}

}  // namespace graymesh::control
