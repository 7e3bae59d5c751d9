// What a proxy's GET /metrics and its traffic reports are made from: the
// labelled request series of every worker, merged, and the endpoints as the
// proxy sees them. Rendered here in the Prometheus text format
// (docs/metrics.md lists every family).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/request_metrics.h"
#include "proxy/tcp_metrics.h"

namespace graymesh::proxy {

struct EndpointSample {
  std::string service, address, lane;
  std::string state = "healthy";  // healthy | ejected | warming | draining
  uint32_t weight = 0;            // effective weight
  uint64_t ejections = 0;
};

struct TrafficSample {
  std::vector<SeriesSample> series;  // one per label set, summed over workers
  std::vector<TcpSeriesSample> tcp;  // TCP entry connections, likewise
  std::vector<EndpointSample> endpoints;
  int64_t active_requests = 0;
};

// Sums series with equal labels; the result is sorted by labels.
std::vector<SeriesSample> MergeSeries(std::vector<SeriesSample> all);

// The families of the labelled metrics (requests, duration histogram,
// endpoints, active requests, TCP entry connections).
std::string RenderTrafficMetrics(const TrafficSample& t);

// `value` escaped for a Prometheus label value.
std::string PromLabel(const std::string& value);

}  // namespace graymesh::proxy

namespace graymesh::proxy {
class Snapshot;
// Every endpoint of the snapshot, healthy at its configured weight (until
// the endpoint health state reports its own).
std::vector<EndpointSample> ConfiguredEndpoints(const Snapshot& snap);
}  // namespace graymesh::proxy

namespace graymesh::proxy {
// graymesh_active_connections, graymesh_retries_total, graymesh_draining.
std::string RenderServerGauges(int64_t active_connections, uint64_t retries, bool draining);
}  // namespace graymesh::proxy
