// libFuzzer target for proxies' traffic reports as the control plane reads
// them (POST /v1/reports): a bounded parse of the body, ParseTrafficReport,
// then the TrafficStore that keeps them and the views computed from them
// (GET /v1/traffic, release events, canary judgement). The input is one
// report, or a JSON array of up to 8 reports received 5 s apart, so the
// store diffs one against the other. Refusals must be std::invalid_argument;
// whatever is taken must be kept and queried without a crash, a sanitizer
// report, or a negative rate or latency.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/traffic_report.h"
#include "control/traffic_store.h"
#include "wire/json_limits.h"

using graymesh::control::TrafficReport;
using graymesh::control::TrafficStore;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Rates in a view are never negative (counters that fall count from zero).
void CheckRates(const nlohmann::json& j) {
  if (j.is_object()) {
    for (const char* key : {"rps", "errorRate", "p99Seconds", "grayShare", "fallbacks"}) {
      auto it = j.find(key);
      if (it != j.end()) Check(!it->is_number() || it->get<double>() >= 0);
    }
  }
  if (j.is_structured()) {
    for (const auto& v : j) CheckRates(v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<nlohmann::json> body = graymesh::wire::ParseJson(text, &error);
  if (!body) return 0;
  std::vector<nlohmann::json> bodies;
  if (body->is_array()) {
    for (const auto& b : *body) {
      if (bodies.size() == 8) break;
      bodies.push_back(b);
    }
  } else {
    bodies.push_back(*body);
  }
  constexpr int64_t kStart = 1'700'000'000'000;
  int64_t now = kStart;
  TrafficStore store(std::chrono::minutes(65), 4);
  std::vector<std::string> services, lanes{""};
  int ejected = 0;
  store.SetOnEjected([&](const auto&, const std::string&, int64_t) { ++ejected; });
  for (const nlohmann::json& b : bodies) {
    TrafficReport r;
    try {
      r = graymesh::control::ParseTrafficReport(b);
    } catch (const std::invalid_argument&) {
      continue;
    }
    for (const auto& e : r.edges) {
      services.push_back(e.destination);
      lanes.push_back(e.lane_served);
    }
    for (const auto& e : r.endpoints) services.push_back(e.service);
    store.Add(std::move(r), now);
    now += 5'000;
  }
  Check(store.nodes() <= 4);
  for (int64_t window : {1'000, 60'000, 3'600'000}) CheckRates(store.Query(now, window));
  for (size_t i = 0; i < services.size() && i < 8; ++i) {
    store.FailedBetween(services[i], kStart, now);
    store.FailedBetween(services[i], kStart + 5'000, now - 5'000);
    for (size_t k = 0; k < lanes.size() && k < 4; ++k) {
      const TrafficStore::LaneTotals t = store.LaneBetween(services[i], lanes[k], kStart - 1, now);
      Check(t.p99_seconds >= 0);
    }
  }
  return 0;
}
