// The rules half of the API: apply (all or nothing), list, get, delete.
#include <spdlog/spdlog.h>

#include "config/config.h"
#include "control/api.h"
#include "control/canary.h"
#include "wire/rule_json.h"

namespace graymesh::control {
namespace {

using nlohmann::json;

const char* ChangeName(RuleChange c) {
  switch (c) {
    case RuleChange::kCreated:
      return "created";
    case RuleChange::kUpdated:
      return "configured";  // kubectl's word
    case RuleChange::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

// The canonical kind, or an error reply.
std::optional<net::HttpReply> CheckKind(const std::string& kind, std::string* canonical) {
  *canonical = wire::CanonicalKind(kind);
  if (canonical->empty()) {
    return ErrorReply(
        400, "unknown kind \"" + kind + "\" (expected TrafficLane, Route, ServicePolicy or Canary)");
  }
  return std::nullopt;
}

}  // namespace

void Api::RecordRule(const char* kind, const config::RuleDocument& d, const char* change) {
  // The service a rule is about, where it names one; the lane it dyes into.
  std::string service = d.kind == wire::kServicePolicy ? d.name
                        : d.kind == wire::kRoute       ? d.route.service
                                                 : d.lane.service;
  std::string lane = d.kind == wire::kTrafficLane ? d.lane.tag : "";
  events_.Record(Event{.kind = kind,
                       .service = std::move(service),
                       .lane = std::move(lane),
                       .detail = d.kind + " " + d.name + " " + change});
}

json RuleToJson(const Rule& r) {
  json spec = json::parse(r.spec_json, nullptr, false);
  return {{"kind", r.kind},
          {"name", r.name},
          {"spec", spec},
          {"revision", r.revision},
          {"updatedAt", r.updated_at_ms}};
}

net::HttpReply Api::ApplyRules(const Request& req) {
  // The file name only labels errors; the CLI sends what the user typed.
  std::string file(req.Header("x-graymesh-file"));
  if (file.empty()) file = std::string(req.QueryParam("file"));
  if (file.empty()) file = "request";
  std::vector<config::RuleDocument> docs;
  try {
    docs = config::ParseRuleDocuments(req.body, file);
  } catch (const config::ConfigError& e) {
    ++counters_.applies_failed;
    return ErrorReply(400, e.what());
  }
  if (docs.empty()) {
    ++counters_.applies_failed;
    return ErrorReply(400, file + ": no rule documents");
  }
  std::vector<Rule> rules;
  for (const config::RuleDocument& d : docs) {
    rules.push_back(Rule{.kind = d.kind, .name = d.name, .spec_json = wire::RuleSpecToJson(d).dump()});
  }
  std::vector<RuleChange> changes = store_.ApplyRules(rules);
  ++counters_.applies_ok;
  json results = json::array();
  for (size_t i = 0; i < rules.size(); ++i) {
    results.push_back(
        {{"kind", rules[i].kind}, {"name", rules[i].name}, {"result", ChangeName(changes[i])}});
    if (changes[i] != RuleChange::kUnchanged) {
      spdlog::info("{} {} {}", rules[i].kind, rules[i].name, ChangeName(changes[i]));
      RecordRule("rule-applied", docs[i], ChangeName(changes[i]));
    }
  }
  // Rules that name a gateway listener no connected gateway has dye nothing:
  // stored all the same (the gateway may come later), and said so.
  std::vector<wire::LaneGateway> lanes;
  for (const config::RuleDocument& d : docs) {
    if (d.kind == wire::kTrafficLane) lanes.push_back({d.name, d.lane.gateway});
  }
  std::vector<std::string> warnings =
      wire::GatewayWarnings(lanes, gateways_.Connected(std::chrono::steady_clock::now()));
  for (const std::string& w : warnings) spdlog::warn("apply: {}", w);
  return JsonReply(200, {{"revision", store_.Revision()},
                         {"results", results},
                         {"warnings", warnings}});
}

net::HttpReply Api::ListRules(const std::string& kind) {
  std::string canonical;
  if (!kind.empty()) {
    if (auto bad = CheckKind(kind, &canonical)) return *bad;
  }
  const int64_t revision = store_.Revision();
  json items = json::array();
  for (const Rule& r : store_.ListRules(canonical)) {
    if (r.kind != kCanaryStatus) items.push_back(RuleToJson(r));  // see /v1/canaries
  }
  return JsonReply(200, {{"revision", revision}, {"rules", items}});
}

net::HttpReply Api::GetRule(const std::string& kind, const std::string& name) {
  std::string canonical;
  if (auto bad = CheckKind(kind, &canonical)) return *bad;
  std::optional<Rule> r = store_.GetRule(canonical, name);
  if (!r) return ErrorReply(404, canonical + " \"" + name + "\" not found");
  return JsonReply(200, RuleToJson(*r));
}

net::HttpReply Api::DeleteRule(const std::string& kind, const std::string& name) {
  std::string canonical;
  if (auto bad = CheckKind(kind, &canonical)) return *bad;
  const std::optional<Rule> before = store_.GetRule(canonical, name);  // for the event
  if (!store_.DeleteRule(canonical, name)) {
    return ErrorReply(404, canonical + " \"" + name + "\" not found");
  }
  spdlog::info("{} {} deleted", canonical, name);
  // The stored spec is canonical JSON: the service and tag it named, if any.
  const json spec = before ? json::parse(before->spec_json, nullptr, false) : json();
  auto field = [&spec](const json::json_pointer& p) {
    return spec.is_object() && spec.contains(p) && spec[p].is_string() ? spec[p].get<std::string>()
                                                                       : std::string();
  };
  std::string service = canonical == wire::kServicePolicy ? name
                        : canonical == wire::kRoute       ? field(json::json_pointer("/service"))
                                                    : field(json::json_pointer("/entrance/service"));
  events_.Record(Event{.kind = "rule-deleted",
                       .service = std::move(service),
                       .lane = canonical == wire::kTrafficLane ? field(json::json_pointer("/tag")) : "",
                       .detail = canonical + " " + name + " deleted"});
  return JsonReply(
      200,
      {{"kind", canonical}, {"name", name}, {"deleted", true}, {"revision", store_.Revision()}});
}

}  // namespace graymesh::control
