#include "wire/snapshot_json.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "wire/rule_json.h"

namespace graymesh::wire {
namespace {

using nlohmann::json;

// 0: exact host, 1: "*.suffix", 2: any host; the router takes the first match.
int HostRank(const std::string& host) {
  if (host.empty()) return 2;
  return host.starts_with("*.") ? 1 : 0;
}

const json& Field(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    throw std::invalid_argument("snapshot: " + where + ": missing \"" + key + "\"");
  }
  return obj.at(key);
}

std::string StringField(const json& obj, const char* key, const std::string& where) {
  const json& v = Field(obj, key, where);
  if (!v.is_string())
    throw std::invalid_argument("snapshot: " + where + "." + key + ": not a string");
  return v.get<std::string>();
}

const json& ArrayField(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  if (!obj.contains(key) || obj.at(key).is_null()) return kEmpty;
  if (!obj.at(key).is_array()) {
    throw std::invalid_argument(std::string("snapshot: ") + key + ": not an array");
  }
  return obj.at(key);
}

// {"name": N, ...spec} -> {"kind": K, "name": N, "spec": {...}}.
json AsDocument(const char* kind, const json& item) {
  if (!item.is_object())
    throw std::invalid_argument(std::string("snapshot: ") + kind + ": not an object");
  json spec = item;
  spec.erase("name");
  return {{"kind", kind}, {"name", item.value("name", json(""))}, {"spec", spec}};
}

SnapshotEndpoint EndpointFromJson(const json& e, const std::string& where) {
  SnapshotEndpoint out;
  try {
    out.endpoint.address = config::ParseHostPort(StringField(e, "address", where));
  } catch (const std::invalid_argument& err) {
    throw std::invalid_argument("snapshot: " + where + ".address: " + err.what());
  }
  if (e.contains("weight")) {
    const json& w = e.at("weight");
    if (!w.is_number_unsigned() || w.get<uint64_t>() < 1 || w.get<uint64_t>() > 10'000) {
      throw std::invalid_argument("snapshot: " + where + ".weight: must be 1..10000");
    }
    out.endpoint.weight = w.get<uint32_t>();
  }
  if (e.contains("labels")) {
    if (!e.at("labels").is_object())
      throw std::invalid_argument("snapshot: " + where + ".labels: not an object");
    for (const auto& [k, v] : e.at("labels").items()) {
      if (!v.is_string())
        throw std::invalid_argument("snapshot: " + where + ".labels." + k + ": not a string");
      out.endpoint.labels[k] = v.get<std::string>();
    }
  }
  // The lane label is the lane, as in a static file; "lane" must agree.
  if (auto it = out.endpoint.labels.find("lane"); it != out.endpoint.labels.end()) {
    out.endpoint.lane = it->second;
  }
  if (e.contains("lane") && e.at("lane").is_string() && !e.at("lane").get<std::string>().empty()) {
    out.endpoint.lane = e.at("lane").get<std::string>();
    out.endpoint.labels["lane"] = out.endpoint.lane;
  }
  if (e.contains("state")) {
    auto st =
        e.at("state").is_string() ? ParseState(e.at("state").get<std::string>()) : std::nullopt;
    if (!st)
      throw std::invalid_argument("snapshot: " + where +
                                  ".state: must be starting, ready, draining or unhealthy");
    out.state = *st;
  }
  if (e.contains("readySince") && e.at("readySince").is_number_integer()) {
    out.ready_since_ms = e.at("readySince").get<int64_t>();
    out.endpoint.ready_since_ms = out.ready_since_ms;  // warmup counts from it
  }
  return out;
}

}  // namespace

std::string FormatHostPort(const config::HostPort& hp) {
  if (hp.host.find(':') != std::string::npos) {
    return "[" + hp.host + "]:" + std::to_string(hp.port);
  }
  return hp.ToString();
}

void SortRoutes(std::vector<NamedRoute>* routes) {
  std::stable_sort(routes->begin(), routes->end(), [](const NamedRoute& a, const NamedRoute& b) {
    auto key = [](const NamedRoute& r) {
      return std::tuple<int, int64_t, const std::string&>(
          HostRank(r.route.host), -static_cast<int64_t>(r.route.path_prefix.size()), r.name);
    };
    return key(a) < key(b);
  });
}

Snapshot MergeForFill(Snapshot fresh, const Snapshot& last_good) {
  for (const SnapshotService& old : last_good.services) {
    auto it = std::find_if(fresh.services.begin(), fresh.services.end(),
                           [&](const SnapshotService& s) { return s.name == old.name; });
    if (it == fresh.services.end()) {
      fresh.services.push_back(old);
      continue;
    }
    for (const SnapshotEndpoint& e : old.endpoints) {
      bool known = std::any_of(it->endpoints.begin(), it->endpoints.end(),
                               [&](const SnapshotEndpoint& f) {
                                 return f.endpoint.address == e.endpoint.address;
                               });
      if (!known) it->endpoints.push_back(e);
    }
  }
  std::sort(fresh.services.begin(), fresh.services.end(),
            [](const SnapshotService& a, const SnapshotService& b) { return a.name < b.name; });
  auto add_missing = [](auto& into, const auto& from, auto name) {
    for (const auto& item : from) {
      bool known = std::any_of(into.begin(), into.end(),
                               [&](const auto& f) { return name(f) == name(item); });
      if (!known) into.push_back(item);
    }
  };
  add_missing(fresh.lanes, last_good.lanes, [](const config::Lane& l) { return l.name; });
  add_missing(fresh.routes, last_good.routes, [](const NamedRoute& r) { return r.name; });
  add_missing(fresh.policies, last_good.policies,
              [](const config::ServicePolicy& p) { return p.service; });
  SortRoutes(&fresh.routes);
  return fresh;
}

Snapshot SnapshotFromConfig(const config::Config& cfg, int64_t version) {
  Snapshot snap;
  snap.version = version;
  for (const config::Service& s : cfg.services) {
    SnapshotService& svc = snap.services.emplace_back();
    svc.name = s.name;
    svc.lb = s.lb;
    for (const config::Endpoint& e : s.endpoints)
      svc.endpoints.push_back({e, InstanceState::kReady, 0});
  }
  snap.lanes = cfg.lanes;
  for (size_t i = 0; i < cfg.routes.size(); ++i) {
    snap.routes.push_back({"route-" + std::to_string(i), cfg.routes[i]});
  }
  snap.policies = cfg.policies;
  return snap;
}

json SnapshotToJson(const Snapshot& snap) {
  json j = {{"version", snap.version},
            {"store", snap.store},
            {"fillingUntil", snap.filling_until_ms},
            {"services", json::array()},
            {"lanes", json::array()},
            {"routes", json::array()},
            {"policies", json::array()}};
  for (const SnapshotService& s : snap.services) {
    json svc = {{"name", s.name},
                {"lb", s.lb == config::LbPolicy::kLeastRequest ? "least_request" : "round_robin"},
                {"endpoints", json::array()}};
    for (const SnapshotEndpoint& e : s.endpoints) {
      svc["endpoints"].push_back({{"address", FormatHostPort(e.endpoint.address)},
                                  {"weight", e.endpoint.weight},
                                  {"labels", e.endpoint.labels},
                                  {"lane", e.endpoint.lane},
                                  {"state", StateName(e.state)},
                                  {"readySince", e.ready_since_ms}});
    }
    j["services"].push_back(std::move(svc));
  }
  for (const config::Lane& l : snap.lanes) {
    json item = LaneSpecToJson(l);
    item["name"] = l.name;
    j["lanes"].push_back(std::move(item));
  }
  for (const NamedRoute& r : snap.routes) {
    json item = RouteSpecToJson(r.route);
    item["name"] = r.name;
    j["routes"].push_back(std::move(item));
  }
  for (const config::ServicePolicy& p : snap.policies) {
    json item = PolicySpecToJson(p);
    item["name"] = p.service;
    j["policies"].push_back(std::move(item));
  }
  return j;
}

json SnapshotToJson(const config::Config& cfg, int64_t version) {
  return SnapshotToJson(SnapshotFromConfig(cfg, version));
}

Snapshot SnapshotFromJson(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("snapshot: not a JSON object");
  Snapshot snap;
  const json& version = Field(j, "version", "top level");
  if (!version.is_number_integer() ||
      (version.is_number_unsigned() ? version.get<uint64_t>() > uint64_t(INT64_MAX)
                                    : version.get<int64_t>() < 0)) {
    throw std::invalid_argument("snapshot: version: not a non-negative integer");
  }
  snap.version = version.get<int64_t>();
  if (j.contains("store")) {
    if (!j.at("store").is_string()) throw std::invalid_argument("snapshot: store: not a string");
    snap.store = j.at("store").get<std::string>();
  }
  if (j.contains("fillingUntil")) {
    if (!j.at("fillingUntil").is_number_integer()) {
      throw std::invalid_argument("snapshot: fillingUntil: not an integer");
    }
    snap.filling_until_ms = j.at("fillingUntil").get<int64_t>();
  }
  std::set<std::string> names;
  for (const json& s : ArrayField(j, "services")) {
    SnapshotService& svc = snap.services.emplace_back();
    svc.name = StringField(s, "name", "services[]");
    if (svc.name.empty() || !names.insert(svc.name).second) {
      throw std::invalid_argument("snapshot: services: empty or repeated name \"" + svc.name +
                                  "\"");
    }
    // Optional; a wrong type is refused like any other field (found by
    // fuzz/snapshot_json_fuzz.cc: json::value threw its own type_error).
    const std::string lb = s.contains("lb") ? StringField(s, "lb", "services[]") : "";
    svc.lb = lb == "least_request" ? config::LbPolicy::kLeastRequest
                                   : config::LbPolicy::kRoundRobin;
    for (const json& e : ArrayField(s, "endpoints")) {
      svc.endpoints.push_back(EndpointFromJson(e, "services[" + svc.name + "].endpoints[]"));
    }
  }
  // Rules go through the rule parser, so a snapshot is held to the rules of
  // a file; one parse for all of them keeps names unique per kind.
  std::vector<json> docs;
  for (const json& l : ArrayField(j, "lanes")) docs.push_back(AsDocument(kTrafficLane, l));
  for (const json& r : ArrayField(j, "routes")) docs.push_back(AsDocument(kRoute, r));
  for (const json& p : ArrayField(j, "policies")) docs.push_back(AsDocument(kServicePolicy, p));
  for (config::RuleDocument& d : RulesFromJson(docs, "snapshot")) {
    if (d.kind == kTrafficLane) {
      snap.lanes.push_back(std::move(d.lane));
    } else if (d.kind == kRoute) {
      if (!names.contains(d.route.service)) {
        throw std::invalid_argument("snapshot: route " + d.name + ": unknown service \"" +
                                    d.route.service + "\"");
      }
      snap.routes.push_back({d.name, std::move(d.route)});
    } else {
      snap.policies.push_back(std::move(d.policy));
    }
  }
  return snap;
}

void ApplySnapshotJson(const json& j, config::Config* into) {
  Snapshot snap = SnapshotFromJson(j);
  std::vector<config::Service> services;
  for (SnapshotService& s : snap.services) {
    config::Service& svc = services.emplace_back();
    svc.name = s.name;
    svc.lb = s.lb;
    for (SnapshotEndpoint& e : s.endpoints) {
      if (e.state == InstanceState::kReady) svc.endpoints.push_back(std::move(e.endpoint));
    }
  }
  std::vector<config::Route> routes;
  for (NamedRoute& r : snap.routes) routes.push_back(std::move(r.route));
  // Nothing above touched `into`: an error leaves it as it was.
  into->services = std::move(services);
  into->routes = std::move(routes);
  into->lanes = std::move(snap.lanes);
  into->policies = std::move(snap.policies);
}

}  // namespace graymesh::wire
