// Pushes this proxy's traffic to the control plane: every `interval` one
// POST /v1/reports with the cumulative counters since the proxy started
// (docs/metrics.md has the body). Push, not pull: proxies already reach the
// control plane (watch, lease), while the control plane may not reach them
// (NAT, pod networks), and a proxy's report names its own node.
//
// Runs on a thread of its own; nothing here is on the request path. The
// collect callback must stay valid until Stop() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "wire/api_client.h"
#include "proxy/metrics_text.h"

namespace graymesh::proxy {

struct TrafficReporterOptions {
  std::vector<wire::ControlUrl> urls;  // tried in turn after a failure
  std::string token;
  std::string node;     // this proxy process, unique in the mesh
  std::string service;  // sidecars: their service; gateways: ""
  std::string gateway;  // gateways: their name; sidecars: ""
  std::chrono::milliseconds interval{5000};
  std::function<TrafficSample()> collect;
  std::function<std::string()> instance;  // registered instance id, "" = none yet; may be null
};

// The report body for one sample.
nlohmann::json BuildTrafficReport(const TrafficReporterOptions& opt, const TrafficSample& t,
                                  const std::string& instance, int64_t started_ms,
                                  int64_t now_ms);

class TrafficReporter {
 public:
  explicit TrafficReporter(TrafficReporterOptions options);
  ~TrafficReporter();
  void Start();
  void Stop();

 private:
  void Loop();

  TrafficReporterOptions opt_;
  int64_t started_ms_;
  std::atomic<bool> stop_{false};
  size_t current_ = 0;  // index into opt_.urls
  std::thread thread_;
};

}  // namespace graymesh::proxy
