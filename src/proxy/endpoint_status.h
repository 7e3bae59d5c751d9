// Endpoint health as the admin side shows it: every worker's published
// states merged into one row per (service, address), for /metrics, /config
// and the traffic report's `endpoints` array. Called from any thread (each
// worker's list is copied under its own lock, off the request path).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "health/endpoint_health.h"
#include "proxy/worker.h"

namespace graymesh::proxy {

// One row per endpoint: the worst state any worker has it in (draining, then
// ejected, then warming, then healthy), the lowest effective weight, and the
// ejections of all workers added up. In the current snapshot's order.
std::vector<health::EndpointStatus> MergedEndpointStatuses(
    const std::vector<std::unique_ptr<Worker>>& workers);

// [{"service", "address", "state", "weight", "ejections"}], as the traffic
// report's `endpoints`.
nlohmann::json EndpointStatusJson(const std::vector<health::EndpointStatus>& rows);

}  // namespace graymesh::proxy
