// The registry half of the API: register, heartbeat, state, deregister, list.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>

#include "config/config.h"
#include "control/api.h"
#include "control/canary.h"
#include "wire/json_limits.h"
#include "wire/snapshot_json.h"

namespace graymesh::control {
namespace {

// The states an instance may give itself; retired and rolled-back are the
// control plane's (canaries).
std::optional<InstanceState> SettableState(const std::string& s) {
  std::optional<InstanceState> st = ParseState(s);
  if (st == InstanceState::kRetired || st == InstanceState::kRolledBack) return std::nullopt;
  return st;
}

// Instances as consumers see them: with the canaries' overrides.
std::vector<Instance> Overridden(Store& store, std::vector<Instance> instances) {
  ApplyCanaryOverrides(store.ListRules(kCanaryStatus), &instances);
  return instances;
}


using nlohmann::json;

// A request body as a JSON object, or the reason it is not one. Depth is
// bounded while parsing (json_limits.h): nothing below may recurse into it.
std::optional<json> ParseObject(const std::string& body, std::string* error) {
  std::optional<json> j = wire::ParseJson(body, error);
  if (!j) return std::nullopt;
  if (!j->is_object()) {
    *error = "invalid JSON: expected an object, got " + std::string(j->type_name());
    return std::nullopt;
  }
  return j;
}

// An integer min..max, refusing fractions, strings and anything that does not
// fit (nlohmann keeps large positive integers unsigned).
std::optional<int64_t> IntegerIn(const json& v, int64_t min, int64_t max) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(max)) return std::nullopt;
    return int64_t(u) >= min ? std::optional<int64_t>(int64_t(u)) : std::nullopt;
  }
  if (!v.is_number_integer()) return std::nullopt;
  const int64_t i = v.get<int64_t>();
  return i >= min && i <= max ? std::optional<int64_t>(i) : std::nullopt;
}

// Validates a registration like a config file: unknown keys and wrong types
// are errors, never silently ignored. Returns "" or the reason.
std::string ParseSpec(const json& j, InstanceSpec* out) {
  for (const auto& [key, unused] : j.items()) {
    if (key != "service" && key != "address" && key != "lane" && key != "labels" &&
        key != "weight" && key != "state") {
      return "unknown key \"" + key + "\" (expected service, address, lane, labels, weight, state)";
    }
  }
  if (!j.contains("service") || !j["service"].is_string()) return "service: required string";
  out->service = j["service"].get<std::string>();
  if (!IsLabelValue(out->service)) {
    return "service: must be at most 63 letters, digits, '-', '_' or '.', starting and ending "
           "with a letter or digit, got \"" +
           out->service + "\"";
  }
  if (!j.contains("address") || !j["address"].is_string()) return "address: required string";
  try {
    config::HostPort hp = config::ParseHostPort(j["address"].get<std::string>());
    if (hp.port == 0) return "address: port must be 1..65535, got 0";
    out->address = wire::FormatHostPort(hp);
  } catch (const std::invalid_argument& e) {
    return std::string("address: ") + e.what();
  }
  if (j.contains("labels")) {
    if (!j["labels"].is_object()) return "labels: expected an object of strings";
    for (const auto& [k, v] : j["labels"].items()) {
      if (k.empty() || !v.is_string()) return "labels." + k + ": expected a string";
      out->labels[k] = v.get<std::string>();
    }
  }
  // The lane is the `lane` label (as in a static file); `lane` is a shortcut.
  std::string lane = out->labels.contains("lane") ? out->labels["lane"] : "";
  if (j.contains("lane")) {
    if (!j["lane"].is_string()) return "lane: expected a string";
    std::string given = j["lane"].get<std::string>();
    if (!given.empty() && !lane.empty() && given != lane) {
      return "lane: \"" + given + "\" differs from labels.lane \"" + lane + "\"";
    }
    if (!given.empty()) lane = given;
  }
  if (!lane.empty() && !IsLabelValue(lane)) return "lane: not a valid tag \"" + lane + "\"";
  out->lane = lane;
  if (lane.empty()) {
    out->labels.erase("lane");
  } else {
    out->labels["lane"] = lane;
  }
  if (j.contains("weight")) {
    const json& w = j["weight"];
    const std::optional<int64_t> weight = IntegerIn(w, 1, 10'000);
    if (!weight) return "weight: must be an integer 1..10000, got " + wire::JsonExcerpt(w);
    out->weight = uint32_t(*weight);
  }
  if (j.contains("state")) {
    auto st = j["state"].is_string() ? SettableState(j["state"].get<std::string>()) : std::nullopt;
    if (!st) return "state: must be starting, ready, draining or unhealthy, got " + wire::JsonExcerpt(j["state"]);
    out->state = *st;
  }
  return "";
}

json TtlJson(const std::string& id, std::chrono::seconds ttl) {
  return {{"id", id}, {"ttlSeconds", ttl.count()}};
}

}  // namespace

json InstanceToJson(const Instance& i) {
  return {{"id", i.id},
          {"service", i.spec.service},
          {"address", i.spec.address},
          {"lane", i.spec.lane},
          {"labels", i.spec.labels},
          {"weight", i.spec.weight},
          {"state", StateName(i.spec.state)},
          {"registeredAt", i.registered_at_ms},
          {"readySince", i.ready_since_ms},
          {"revision", i.revision}};
}

net::HttpReply Api::Register(const Request& req) {
  std::string error;
  std::optional<json> body = ParseObject(req.body, &error);
  if (!body) return ErrorReply(400, error);
  InstanceSpec spec;
  if (error = ParseSpec(*body, &spec); !error.empty()) return ErrorReply(400, error);
  // What it was before, for the events (an unknown id is a new registration).
  std::optional<Instance> before = store_.GetInstance(InstanceId(spec.service, spec.address));
  RegisterResult r = store_.Register(spec, options_.lease_ttl);
  ++counters_.registrations;
  if (r.created) {
    before.reset();
  } else if (!before) {
    before = Instance{.id = r.id, .spec = spec};  // changed meanwhile: nothing to say
  }
  RecordInstanceChange(before, Instance{.id = r.id, .spec = spec});
  if (r.created) {
    spdlog::info("registered {} ({} {} lane '{}' {})", r.id, spec.service, spec.address, spec.lane,
                 StateName(spec.state));
  }
  return JsonReply(r.created ? 201 : 200, TtlJson(r.id, options_.lease_ttl));
}

net::HttpReply Api::Heartbeat(const std::string& id) {
  if (!store_.KeepAlive(id, options_.lease_ttl)) {
    return ErrorReply(404, "unknown instance " + id + " (lease expired?): register again");
  }
  return JsonReply(200, TtlJson(id, options_.lease_ttl));
}

net::HttpReply Api::UpdateInstance(const std::string& id, const Request& req) {
  std::string error;
  std::optional<json> body = ParseObject(req.body, &error);
  if (!body) return ErrorReply(400, error);
  for (const auto& [key, unused] : body->items()) {
    if (key != "state") return ErrorReply(400, "unknown key \"" + key + "\" (expected state)");
  }
  const json& s = (*body)["state"];
  auto state = s.is_string() ? SettableState(s.get<std::string>()) : std::nullopt;
  if (!state) {
    return ErrorReply(400, "state: must be starting, ready, draining or unhealthy, got " + wire::JsonExcerpt(s));
  }
  std::optional<Instance> before = store_.GetInstance(id);
  std::optional<Instance> inst = store_.SetState(id, *state, options_.lease_ttl);
  if (!inst) return ErrorReply(404, "unknown instance " + id);
  RecordInstanceChange(before.value_or(*inst), *inst);
  spdlog::info("instance {} is {}", id, StateName(*state));
  return JsonReply(200, InstanceToJson(*inst));
}

net::HttpReply Api::Deregister(const std::string& id) {
  std::optional<Instance> before = store_.GetInstance(id);
  if (!store_.Deregister(id)) return ErrorReply(404, "unknown instance " + id);
  ++counters_.deregistrations;
  known_instances_.erase(id);
  RecordInstance("deregistered", before.value_or(Instance{.id = id}),
                 before ? before->spec.address : "");
  spdlog::info("deregistered {}", id);
  return JsonReply(200, {{"id", id}, {"deleted", true}, {"revision", store_.Revision()}});
}

// What consumers report of the instance: `ejectedBy`, the proxies whose
// last report (within 30 s) has it ejected.
json Api::WithHealth(json instance) const {
  json by = json::array();
  for (const std::string& node : traffic_.EjectedBy(instance.value("service", ""),
                                                    instance.value("address", ""),
                                                    UnixMillis() - 30'000)) {
    by.push_back(node);
  }
  instance["ejectedBy"] = by;
  return instance;
}

net::HttpReply Api::ListInstances(const Request& req) {
  const int64_t revision = store_.Revision();
  json items = json::array();
  for (const Instance& i :
       Overridden(store_, store_.ListInstances(std::string(req.QueryParam("service"))))) {
    items.push_back(WithHealth(InstanceToJson(i)));
  }
  return JsonReply(200, {{"revision", revision}, {"instances", items}});
}

net::HttpReply Api::GetInstance(const std::string& id) {
  std::optional<Instance> inst = store_.GetInstance(id);
  if (!inst) return ErrorReply(404, "unknown instance " + id);
  return JsonReply(200, WithHealth(InstanceToJson(Overridden(store_, {*inst})[0])));
}

net::HttpReply Api::ListServices() {
  struct Counts {
    int instances = 0;
    int ready = 0;
  };
  std::map<std::string, std::map<std::string, Counts>> services;  // service -> lane -> counts
  const int64_t revision = store_.Revision();
  for (const Instance& i : Overridden(store_, store_.ListInstances(""))) {
    Counts& c = services[i.spec.service][i.spec.lane];
    ++c.instances;
    if (i.spec.state == InstanceState::kReady) ++c.ready;
  }
  json items = json::array();
  for (const auto& [name, lanes] : services) {
    json svc = {{"name", name}, {"instances", 0}, {"ready", 0}, {"lanes", json::array()}};
    for (const auto& [lane, c] : lanes) {
      svc["instances"] = svc["instances"].get<int>() + c.instances;
      svc["ready"] = svc["ready"].get<int>() + c.ready;
      svc["lanes"].push_back({{"lane", lane}, {"instances", c.instances}, {"ready", c.ready}});
    }
    items.push_back(std::move(svc));
  }
  return JsonReply(200, {{"revision", revision}, {"services", items}});
}

}  // namespace graymesh::control
