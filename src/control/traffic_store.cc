#include "control/traffic_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

namespace graymesh::control {
namespace {

using nlohmann::json;

constexpr int64_t kDenseMs = 120'000;   // every report kept this far back
constexpr int64_t kSparseMs = 10'000;   // then one per this

using EdgeKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
EdgeKey KeyOf(const EdgeTotals& e) {
  return {e.direction, e.source, e.destination, e.lane_requested, e.lane_served};
}

// The traffic of one edge over the window, summed over nodes.
struct Flow {
  double rps = 0;
  double errors_rps = 0;
  // Upper bound -> requests in that bucket alone (not cumulative) in the
  // window. Per-bucket counts add up across proxies whose bounds differ: a
  // proxy's count at a bound it does not report is its count at the largest
  // bound it has below, which cumulative counts summed bound by bound lose.
  std::map<double, double> buckets;
  void Add(const Flow& o) {
    rps += o.rps;
    errors_rps += o.errors_rps;
    for (const auto& [b, n] : o.buckets) buckets[b] += n;
  }
};

// Per-bucket counts of reported cumulative ones; a count lower than the
// bucket below it (a malformed report) counts as none.
std::vector<double> BucketCounts(const EdgeTotals& e) {
  std::vector<double> out(e.buckets.size());
  uint64_t below = 0;
  for (size_t i = 0; i < e.buckets.size(); ++i) {
    const uint64_t c = e.buckets[i].second;
    out[i] = c > below ? double(c - below) : 0.0;
    below = std::max(below, c);
  }
  return out;
}

bool SameBounds(const EdgeTotals& a, const EdgeTotals& b) {
  if (a.buckets.size() != b.buckets.size()) return false;
  for (size_t i = 0; i < a.buckets.size(); ++i) {
    if (a.buckets[i].first != b.buckets[i].first) return false;
  }
  return true;
}

void AddFlow(Flow* f, const EdgeTotals& last, const EdgeTotals* base, double span_s) {
  uint64_t requests = last.requests, errors = last.errors;
  bool from_zero = base == nullptr || base->requests > last.requests ||
                   base->errors > last.errors || !SameBounds(*base, last);
  if (!from_zero) {
    requests -= base->requests;
    errors -= base->errors;
  }
  f->rps += requests / span_s;
  f->errors_rps += errors / span_s;
  std::vector<double> counts = BucketCounts(last);
  if (!from_zero) {
    const std::vector<double> before = BucketCounts(*base);
    for (size_t i = 0; i < counts.size(); ++i) counts[i] = std::max(0.0, counts[i] - before[i]);
  }
  for (size_t i = 0; i < counts.size(); ++i) f->buckets[last.buckets[i].first] += counts[i];
}

// Like Prometheus' histogram_quantile: linear within the bucket; in the +Inf
// bucket, the largest finite bound.
double Quantile(const std::map<double, double>& buckets, double q) {
  double total = 0;
  for (const auto& [bound, n] : buckets) total += n;
  if (total <= 0) return 0;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [bound, n] : buckets) {
    if (n > 0 && below + n >= rank) {
      if (std::isinf(bound)) return lower;
      return lower + (bound - lower) * (rank - below) / n;
    }
    if (!std::isinf(bound)) lower = bound;
    below += n;
  }
  return lower;
}

struct LaneKey {
  std::string requested, served;
  bool operator<(const LaneKey& o) const {
    return std::tie(requested, served) < std::tie(o.requested, o.served);
  }
};

// Flows of one service or one edge, by lane pair.
struct Group {
  std::map<LaneKey, Flow> lanes;
  json ToJson(bool edge) const {
    Flow all;
    double gray = 0, fallbacks = 0;
    json by_lane = json::array();
    for (const auto& [k, f] : lanes) {
      all.Add(f);
      if (!k.served.empty()) gray += f.rps;
      if (k.served != k.requested) fallbacks += f.rps;
      by_lane.push_back({{"laneRequested", k.requested}, {"laneServed", k.served}, {"rps", f.rps},
                         {"errorRate", f.rps > 0 ? f.errors_rps / f.rps : 0.0}});
    }
    json j = {{"rps", all.rps},
              {"errorRate", all.rps > 0 ? all.errors_rps / all.rps : 0.0},
              {"p99Seconds", Quantile(all.buckets, 0.99)},
              {"byLane", std::move(by_lane)}};
    if (edge) {
      j["grayShare"] = all.rps > 0 ? gray / all.rps : 0.0;
      j["fallbacks"] = fallbacks;
    }
    return j;
  }
};

}  // namespace

TrafficStore::TrafficStore(std::chrono::milliseconds retention, size_t max_nodes)
    : retention_(retention), max_nodes_(max_nodes) {}

void TrafficStore::Add(TrafficReport report, int64_t received_ms) {
  ++reports_;
  auto it = nodes_.find(report.node);
  if (it == nodes_.end()) {
    if (nodes_.size() >= max_nodes_) {
      auto oldest = std::min_element(nodes_.begin(), nodes_.end(), [](const auto& a, const auto& b) {
        return a.second.back().at_ms < b.second.back().at_ms;
      });
      nodes_.erase(oldest);
    }
    it = nodes_.emplace(report.node, std::deque<Sample>{}).first;
  }
  std::deque<Sample>& samples = it->second;
  if (on_ejected_) {
    for (const EndpointTotals& e : report.endpoints) {
      if (e.state != "ejected") continue;
      bool was_ejected = false;
      if (!samples.empty()) {
        for (const EndpointTotals& p : samples.back().report->endpoints) {
          was_ejected = was_ejected || (p.service == e.service && p.address == e.address &&
                                        p.state == "ejected");
        }
      }
      if (!was_ejected) on_ejected_(e, report.node, received_ms);
    }
  }
  samples.push_back({received_ms, std::make_shared<const TrafficReport>(std::move(report))});
  // Older than the retention: gone (the newest always stays).
  while (samples.size() > 1 && samples.front().at_ms < received_ms - retention_.count()) {
    samples.pop_front();
  }
  // Past the dense part: one per kSparseMs.
  // No sample kept yet: the oldest stays. (A sentinel of INT64_MIN made
  // at_ms - last_kept overflow, which UBSan reports.)
  std::optional<int64_t> last_kept;
  for (auto s = samples.begin(); s != samples.end() && s->at_ms < received_ms - kDenseMs;) {
    if (last_kept && s->at_ms - *last_kept < kSparseMs && std::next(s) != samples.end()) {
      s = samples.erase(s);
    } else {
      last_kept = s->at_ms;
      ++s;
    }
  }
  // Drop nodes not heard from for the whole retention.
  for (auto n = nodes_.begin(); n != nodes_.end();) {
    if (n->second.back().at_ms < received_ms - retention_.count()) {
      n = nodes_.erase(n);
    } else {
      ++n;
    }
  }
}

json TrafficStore::Query(int64_t now_ms, int64_t window_ms) const {
  const int64_t start = now_ms - window_ms;
  std::map<EdgeKey, Flow> flows;
  // Each registered instance's own traffic: its sidecar's inbound side.
  std::map<std::pair<std::string, std::string>, Flow> by_instance;  // (service, id)
  json endpoints = json::array();
  for (const auto& [node, samples] : nodes_) {
    const Sample& last = samples.back();
    if (last.at_ms <= start || last.at_ms > now_ms) continue;
    const TrafficReport& l = *last.report;
    for (const EndpointTotals& e : l.endpoints) {
      endpoints.push_back({{"service", e.service}, {"address", e.address}, {"reportedBy", node},
                           {"state", e.state}, {"weight", e.weight}, {"ejections", e.ejections}});
    }
    // The base: the last report at or before the window's start; for a node
    // that started inside the window, zero; else its first report.
    const Sample* base = nullptr;
    for (const Sample& s : samples) {
      if (s.at_ms > start) break;
      base = &s;
    }
    const bool started_inside = l.started_ms + (last.at_ms - l.now_ms) >= start;
    if (base == nullptr && !started_inside) base = &samples.front();
    if (base != nullptr && base->report->started_ms != l.started_ms) base = nullptr;  // restarted
    double span_ms;
    if (base == nullptr) {
      span_ms = std::min<double>(double(window_ms), double(l.now_ms - l.started_ms));
    } else {
      span_ms = double(last.at_ms - base->at_ms);
    }
    if (base == &last || span_ms <= 0) continue;  // one report: no rate yet
    std::map<EdgeKey, const EdgeTotals*> before;
    if (base != nullptr) {
      for (const EdgeTotals& e : base->report->edges) before.emplace(KeyOf(e), &e);
    }
    for (const EdgeTotals& e : l.edges) {
      auto b = before.find(KeyOf(e));
      const EdgeTotals* base_edge = b == before.end() ? nullptr : b->second;
      AddFlow(&flows[KeyOf(e)], e, base_edge, span_ms / 1000.0);
      if (!e.caller_side() && !l.instance.empty()) {
        AddFlow(&by_instance[{l.service, l.instance}], e, base_edge, span_ms / 1000.0);
      }
    }
  }

  // Services from the callers' side; a service no caller reported, from its own inbound side.
  std::map<std::string, Group> by_service, inbound_only;
  std::map<std::pair<std::string, std::string>, Group> by_edge;
  for (const auto& [k, f] : flows) {
    const auto& [direction, source, destination, requested, served] = k;
    if (destination.empty()) continue;  // answered before a service was chosen
    LaneKey lane{requested, served};
    if (direction == "inbound") {
      inbound_only[destination].lanes[lane].Add(f);
      continue;
    }
    for (Group* g : {&by_service[destination], &by_edge[{source, destination}]}) {
      g->lanes[lane].Add(f);
    }
  }
  for (auto& [name, g] : inbound_only) by_service.emplace(name, std::move(g));

  json services = json::array();
  for (const auto& [name, g] : by_service) {
    json j = g.ToJson(false);
    j["name"] = name;
    services.push_back(std::move(j));
  }
  json edges = json::array();
  for (const auto& [k, g] : by_edge) {
    json j = g.ToJson(true);
    j["source"] = k.first;
    j["destination"] = k.second;
    edges.push_back(std::move(j));
  }
  json instances = json::array();
  for (const auto& [k, f] : by_instance) {
    instances.push_back({{"service", k.first},
                         {"instance", k.second},
                         {"rps", f.rps},
                         {"errorRate", f.rps > 0 ? f.errors_rps / f.rps : 0.0},
                         {"p99Seconds", Quantile(f.buckets, 0.99)}});
  }
  return {{"windowSeconds", window_ms / 1000.0}, {"nowMs", now_ms},
          {"services", std::move(services)}, {"edges", std::move(edges)},
          {"instances", std::move(instances)}, {"endpoints", std::move(endpoints)}};
}

std::pair<const TrafficStore::Sample*, const TrafficStore::Sample*> TrafficStore::At(
    const std::deque<Sample>& samples, int64_t from_ms, int64_t to_ms) {
  const Sample* at_from = nullptr;
  const Sample* at_to = nullptr;
  for (const Sample& s : samples) {
    if (s.at_ms <= from_ms) at_from = &s;
    if (s.at_ms <= to_ms) at_to = &s;
  }
  return {at_from, at_to};
}

std::vector<std::string> TrafficStore::EjectedBy(std::string_view service,
                                                std::string_view address, int64_t since_ms) const {
  std::vector<std::string> out;
  for (const auto& [node, samples] : nodes_) {
    if (samples.back().at_ms <= since_ms) continue;  // not heard from lately
    for (const EndpointTotals& e : samples.back().report->endpoints) {
      if (e.service == service && e.address == address && e.state == "ejected") out.push_back(node);
    }
  }
  return out;
}

bool TrafficStore::CallersReport(std::string_view service) const {
  for (const auto& [node, samples] : nodes_) {
    for (const EdgeTotals& e : samples.back().report->edges) {
      if (e.destination == service && e.caller_side()) return true;
    }
  }
  return false;
}

uint64_t TrafficStore::FailedBetween(std::string_view service, int64_t from_ms,
                                     int64_t to_ms) const {
  // Errors of `service` a report holds, caller-side or inbound.
  auto errors = [service](const TrafficReport& r, bool caller) {
    uint64_t n = 0;
    for (const EdgeTotals& e : r.edges) {
      if (e.destination == service && e.caller_side() == caller) n += e.errors;
    }
    return n;
  };
  auto between = [&](bool caller) {
    uint64_t total = 0;
    for (const auto& [node, samples] : nodes_) {
      const auto [at_from, at_to] = At(samples, from_ms, to_ms);
      if (at_to == nullptr) continue;
      const uint64_t to = errors(*at_to->report, caller);
      uint64_t from = 0;
      if (at_from != nullptr && at_from->report->started_ms == at_to->report->started_ms) {
        from = std::min(to, errors(*at_from->report, caller));
      }
      total += to - from;
    }
    return total;
  };
  return between(CallersReport(service));
}

TrafficStore::LaneTotals TrafficStore::LaneBetween(std::string_view service,
                                                   std::string_view lane_served, int64_t from_ms,
                                                   int64_t to_ms) const {
  const bool any_caller = CallersReport(service);
  Flow f;  // counts over the span, not rates: span 1
  for (const auto& [node, samples] : nodes_) {
    const auto [at_from, at_to] = At(samples, from_ms, to_ms);
    if (at_to == nullptr) continue;
    const bool same_run =
        at_from != nullptr && at_from->report->started_ms == at_to->report->started_ms;
    for (const EdgeTotals& e : at_to->report->edges) {
      if (e.destination != service || e.lane_served != lane_served) continue;
      if (e.caller_side() != any_caller) continue;
      const EdgeTotals* base = nullptr;
      if (same_run) {
        for (const EdgeTotals& b : at_from->report->edges) {
          if (KeyOf(b) == KeyOf(e)) base = &b;
        }
      }
      // A node first heard of inside the span counts from zero only if it
      // started inside it; one heard of before the span with no sample at
      // its start has nothing to diff against and is left out.
      if (!same_run && at_from == nullptr && at_to->report->started_ms < from_ms) continue;
      AddFlow(&f, e, base, 1.0);
    }
  }
  // Rounded; a sum over nodes past 2^64 (counters near their limit) stays at
  // the largest count instead of an out-of-range conversion.
  auto count = [](double n) {
    return n + 0.5 >= 18446744073709551616.0 ? UINT64_MAX : uint64_t(n + 0.5);
  };
  return {count(f.rps), count(f.errors_rps), Quantile(f.buckets, 0.99)};
}

}  // namespace graymesh::control
