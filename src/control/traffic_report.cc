#include "control/traffic_report.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace graymesh::control {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument(field + ": " + why);
}

std::string Str(const json& obj, const std::string& key, const std::string& path,
                bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) Bad(path + key, "missing");
    return "";
  }
  if (!it->is_string()) Bad(path + key, "expected a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxReportString) {
    Bad(path + key, "longer than " + std::to_string(kMaxReportString) + " characters");
  }
  return s;
}

uint64_t Count(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    Bad(path + key, "expected a non-negative integer");
  }
  return it->get<uint64_t>();
}

// Unix ms up to the end of year 9999: differences of two of them, or of one
// and the control plane's clock, never overflow in the store.
int64_t Millis(const json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) Bad(key, "expected an integer (Unix ms)");
  const bool fits = it->is_number_unsigned() ? it->get<uint64_t>() <= uint64_t(kMaxReportMillis)
                                             : it->get<int64_t>() >= 0 &&
                                                   it->get<int64_t>() <= kMaxReportMillis;
  if (!fits) {
    Bad(key, "must be Unix ms from 0 to " + std::to_string(kMaxReportMillis) + ", got " +
                 it->dump());
  }
  return it->get<int64_t>();
}

const json& Array(const json& obj, const std::string& key, size_t max) {
  static const json kEmpty = json::array();
  auto it = obj.find(key);
  if (it == obj.end()) return kEmpty;
  if (!it->is_array()) Bad(key, "expected an array");
  if (it->size() > max) Bad(key, "more than " + std::to_string(max) + " entries");
  return *it;
}

std::vector<std::pair<double, uint64_t>> Buckets(const json& e, const std::string& path) {
  std::vector<std::pair<double, uint64_t>> out;
  auto it = e.find("latencyBuckets");
  if (it == e.end()) return out;
  const std::string field = path + "latencyBuckets";
  if (!it->is_array()) Bad(field, "expected an array of [upperBound, count]");
  if (it->size() > kMaxReportBuckets) {
    Bad(field, "more than " + std::to_string(kMaxReportBuckets) + " buckets");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& b = (*it)[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!b.is_array() || b.size() != 2) Bad(at, "expected [upperBound, count]");
    double bound;
    if (b[0].is_string() && b[0].get_ref<const std::string&>() == "+Inf") {
      bound = std::numeric_limits<double>::infinity();
    } else if (b[0].is_number() && std::isfinite(b[0].get<double>()) && b[0].get<double>() >= 0) {
      bound = b[0].get<double>();  // seconds: a negative one made the p99 negative
    } else {
      Bad(at, "upper bound must be a non-negative number (seconds) or \"+Inf\"");
    }
    if (!b[1].is_number_unsigned() && !(b[1].is_number_integer() && b[1].get<int64_t>() >= 0)) {
      Bad(at, "count must be a non-negative integer");
    }
    const uint64_t n = b[1].get<uint64_t>();
    if (!out.empty() && (bound <= out.back().first || n < out.back().second)) {
      Bad(at, "bounds must ascend and counts must not fall (they are cumulative)");
    }
    out.emplace_back(bound, n);
  }
  if (!out.empty() && !std::isinf(out.back().first)) Bad(field, "the last bound must be \"+Inf\"");
  return out;
}

}  // namespace

TrafficReport ParseTrafficReport(const json& j) {
  if (!j.is_object()) Bad("report", "expected a JSON object");
  TrafficReport r;
  r.node = Str(j, "node", "", true);
  if (r.node.empty()) Bad("node", "must not be empty");
  r.service = Str(j, "service", "", false);
  r.instance = Str(j, "instance", "", false);
  r.gateway = Str(j, "gateway", "", false);
  r.started_ms = Millis(j, "startedMs");
  r.now_ms = Millis(j, "nowMs");
  const json& edges = Array(j, "edges", kMaxReportEdges);
  for (size_t i = 0; i < edges.size(); ++i) {
    const json& e = edges[i];
    const std::string path = "edges[" + std::to_string(i) + "].";
    if (!e.is_object()) Bad(path.substr(0, path.size() - 1), "expected an object");
    EdgeTotals t;
    t.direction = Str(e, "direction", path, true);
    if (t.direction != "inbound" && t.direction != "outbound" && t.direction != "gateway") {
      Bad(path + "direction", "must be inbound, outbound or gateway, got \"" + t.direction + "\"");
    }
    t.source = Str(e, "source", path, false);
    t.destination = Str(e, "destination", path, false);
    t.lane_requested = Str(e, "laneRequested", path, false);
    t.lane_served = Str(e, "laneServed", path, false);
    t.requests = Count(e, "requests", path);
    t.errors = Count(e, "errors", path);
    if (t.errors > t.requests) Bad(path + "errors", "more errors than requests");
    t.buckets = Buckets(e, path);
    if (auto s = e.find("latencySum"); s != e.end()) {
      if (!s->is_number() || !std::isfinite(s->get<double>()) || s->get<double>() < 0) {
        Bad(path + "latencySum", "expected a non-negative number");
      }
      t.latency_sum = s->get<double>();
    }
    r.edges.push_back(std::move(t));
  }
  const json& eps = Array(j, "endpoints", kMaxReportEndpoints);
  for (size_t i = 0; i < eps.size(); ++i) {
    const json& e = eps[i];
    const std::string path = "endpoints[" + std::to_string(i) + "].";
    if (!e.is_object()) Bad(path.substr(0, path.size() - 1), "expected an object");
    EndpointTotals t;
    t.service = Str(e, "service", path, true);
    t.address = Str(e, "address", path, true);
    t.state = Str(e, "state", path, false);
    if (t.state.empty()) t.state = "healthy";
    if (t.state != "healthy" && t.state != "ejected" && t.state != "warming" &&
        t.state != "draining") {
      Bad(path + "state", "must be healthy, ejected, warming or draining, got \"" + t.state + "\"");
    }
    t.weight = Count(e, "weight", path);
    t.ejections = Count(e, "ejections", path);
    r.endpoints.push_back(std::move(t));
  }
  return r;
}

}  // namespace graymesh::control
