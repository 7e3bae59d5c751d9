// The snapshot the control plane serves at GET /v1/snapshot, and its
// conversion to and from config::Config, which is what a proxy runs on:
//
//   {"version": REV, "store": ID, "fillingUntil": UNIX_MS,
//    "services": [{"name", "lb", "endpoints": [{"address": "h:p", "weight",
//                  "labels": {...}, "lane", "state", "readySince"}]}],
//    "lanes":    [{"name", ...TrafficLane spec}],
//    "routes":   [{"name", "host", "pathPrefix", "service"}],
//    "policies": [{"name": SERVICE, ...ServicePolicy spec}]}
//
// Lanes, routes and policies have the shape of their rule documents' specs
// (docs/control.md), plus "name". `state` is starting|ready|draining and
// `readySince` the unix time in ms it became ready (0 = never). `store` is
// the store's Id(); `fillingUntil` the end of the fill period, while
// instances come back after the control plane started (0 = none).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "wire/instance_state.h"

namespace graymesh::wire {

struct SnapshotEndpoint {
  config::Endpoint endpoint;
  InstanceState state = InstanceState::kReady;
  int64_t ready_since_ms = 0;
};

struct SnapshotService {
  std::string name;
  config::LbPolicy lb = config::LbPolicy::kRoundRobin;
  std::vector<SnapshotEndpoint> endpoints;
};

struct NamedRoute {
  std::string name;
  config::Route route;
};

struct Snapshot {
  int64_t version = 0;
  std::string store;              // "" from an older control plane
  int64_t filling_until_ms = 0;
  std::vector<SnapshotService> services;  // by name
  std::vector<config::Lane> lanes;
  std::vector<NamedRoute> routes;  // in match order (see SortRoutes)
  std::vector<config::ServicePolicy> policies;
};

// Puts routes in match order, most specific first: exact host, then
// wildcard host, then any host; within those the longest path prefix; then
// by name.
void SortRoutes(std::vector<NamedRoute>* routes);

// Every endpoint of `cfg` as ready; routes named route-0, route-1, ...
Snapshot SnapshotFromConfig(const config::Config& cfg, int64_t version);

nlohmann::json SnapshotToJson(const Snapshot& snapshot);
nlohmann::json SnapshotToJson(const config::Config& cfg, int64_t version);

// "host:port", with an IPv6 host bracketed so that ParseHostPort reads it back.
std::string FormatHostPort(const config::HostPort& hp);

// Parses and validates a snapshot. Throws std::invalid_argument (shape) or
// config::ConfigError (a rule).
Snapshot SnapshotFromJson(const nlohmann::json& j);

// The fill period (docs/control.md): what a proxy runs on while a registry
// of another store than before fills. `fresh` plus whatever `last_good` had
// that `fresh` does not name: endpoints by address within a service (an
// address `fresh` lists in any state is its word), services, lanes, routes
// and policies by name. Routes are put back in match order.
Snapshot MergeForFill(Snapshot fresh, const Snapshot& last_good);

// For a proxy: replaces `into`'s services, routes, lanes and policies with the
// snapshot's, leaving listeners, node, timeouts, limits, upstream and workers
// as they are. Only ready endpoints are kept: starting ones do not take
// traffic yet and draining ones are on their way out. On error `into` is
// unchanged. Throws like SnapshotFromJson.
void ApplySnapshotJson(const nlohmann::json& j, config::Config* into);

}  // namespace graymesh::wire
