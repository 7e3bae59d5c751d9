#include "control/snapshot_build.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>

#include "control/canary.h"
#include "wire/rule_json.h"

namespace graymesh::control {

using nlohmann::json;
using namespace wire;  // the snapshot's types and the rule parser

wire::Snapshot BuildSnapshot(const StoreState& state) {
  Snapshot snap;
  snap.version = state.revision;
  std::map<std::string, SnapshotService> services;
  std::vector<Instance> instances = state.instances;
  ApplyCanaryOverrides(state.rules, &instances);
  for (const Instance& inst : instances) {
    SnapshotEndpoint ep;
    try {
      ep.endpoint.address = config::ParseHostPort(inst.spec.address);
    } catch (const std::invalid_argument& e) {
      // Registered before addresses were validated ("%00:1"): nobody can
      // connect to it, and it must not make every snapshot fail.
      spdlog::warn("instance {} left out of snapshots: {}", inst.id, e.what());
      continue;
    }
    SnapshotService& svc = services[inst.spec.service];
    svc.name = inst.spec.service;
    ep.endpoint.weight = inst.spec.weight;
    ep.endpoint.labels = inst.spec.labels;
    ep.endpoint.lane = inst.spec.lane;
    ep.state = inst.spec.state;
    ep.ready_since_ms = inst.ready_since_ms;
    svc.endpoints.push_back(std::move(ep));
  }
  std::vector<json> docs;
  for (const Rule& r : state.rules) {
    // Canaries are the control plane's own business: proxies see their
    // effect (the canary lane, the overrides above), not the documents.
    if (r.kind == wire::kCanary || r.kind == kCanaryStatus) continue;
    docs.push_back({{"kind", r.kind}, {"name", r.name}, {"spec", json::parse(r.spec_json)}});
  }
  for (config::RuleDocument& d : RulesFromJson(docs, "store")) {
    if (d.kind == kTrafficLane) {
      snap.lanes.push_back(std::move(d.lane));
    } else if (d.kind == kRoute) {
      snap.routes.push_back({d.name, std::move(d.route)});
    } else {
      snap.policies.push_back(std::move(d.policy));
    }
  }
  for (const NamedRoute& r : snap.routes) services[r.route.service].name = r.route.service;
  for (auto& [name, svc] : services) snap.services.push_back(std::move(svc));
  SortRoutes(&snap.routes);
  return snap;
}

}  // namespace graymesh::control
