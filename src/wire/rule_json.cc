#include "wire/rule_json.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <utility>

#include "config/yaml_limits.h"

namespace graymesh::wire {
namespace {

using config::StringMatch;
using nlohmann::json;

json ConditionToJson(const StringMatch& m) {
  switch (m.op) {
    case StringMatch::Op::kExact:
      return {{"exact", m.value}};
    case StringMatch::Op::kPrefix:
      return {{"prefix", m.value}};
    case StringMatch::Op::kRegex:
      return {{"regex", m.value}};
    case StringMatch::Op::kIn:
      return {{"in", m.values}};
    case StringMatch::Op::kRange: {
      json range = json::object();
      if (std::isfinite(m.min)) range["min"] = m.min;  // an open bound is left out
      if (std::isfinite(m.max)) range["max"] = m.max;
      return {{"range", range}};
    }
    case StringMatch::Op::kPresent:
      return {{"present", true}};
    case StringMatch::Op::kAbsent:
      return {{"present", false}};
  }
  return json::object();
}

json NamedToJson(const std::vector<std::pair<std::string, StringMatch>>& named) {
  json out = json::object();
  for (const auto& [name, m] : named) out[name] = ConditionToJson(m);
  return out;
}

json ClauseToJson(const config::MatchClause& c) {
  json out = json::object();
  if (!c.headers.empty()) out["headers"] = NamedToJson(c.headers);
  if (!c.cookies.empty()) out["cookies"] = NamedToJson(c.cookies);
  if (!c.query.empty()) out["query"] = NamedToJson(c.query);
  if (!c.baggage.empty()) out["baggage"] = NamedToJson(c.baggage);
  if (!c.path.empty()) out["path"] = ConditionToJson(c.path[0]);
  if (!c.method.empty()) out["method"] = ConditionToJson(c.method[0]);
  if (!c.source_service.empty()) out["sourceService"] = ConditionToJson(c.source_service[0]);
  if (!c.source_address.empty()) out["sourceAddress"] = ConditionToJson(c.source_address[0]);
  if (c.percent >= 0) {
    out["percent"] = c.percent;
    out["stickyOn"] = c.sticky_on;
  }
  return out;
}

const char* FallbackName(config::Fallback f) {
  return f == config::Fallback::kNone ? "none" : "base";
}

}  // namespace

std::string CanonicalKind(const std::string& kind) {
  for (const char* k : {kTrafficLane, kRoute, kServicePolicy, kCanary}) {
    if (kind.size() != std::string_view(k).size()) continue;
    bool same = true;
    for (size_t i = 0; i < kind.size(); ++i) {
      same = same && std::tolower(static_cast<unsigned char>(kind[i])) ==
                         std::tolower(static_cast<unsigned char>(k[i]));
    }
    if (same) return k;
  }
  return "";
}

std::string FormatDuration(config::Millis d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

json LaneSpecToJson(const config::Lane& lane) {
  json out = {
      {"tag", lane.tag}, {"priority", lane.priority}, {"fallback", FallbackName(lane.fallback)}};
  if (!lane.match.empty()) {
    json entrance = json::object();
    if (!lane.gateway.empty()) entrance["gateway"] = lane.gateway;
    if (!lane.service.empty()) entrance["service"] = lane.service;
    entrance["match"] = json::array();
    for (const config::MatchClause& c : lane.match) entrance["match"].push_back(ClauseToJson(c));
    out["entrance"] = entrance;
  }
  return out;
}

json RouteSpecToJson(const config::Route& route) {
  json out = {{"service", route.service}};
  if (!route.host.empty()) out["host"] = route.host;
  if (!route.path_prefix.empty()) out["pathPrefix"] = route.path_prefix;
  return out;
}

json PolicySpecToJson(const config::ServicePolicy& p) {
  json out = json::object();
  if (p.warmup) {
    out["warmup"] = {{"window", FormatDuration(p.warmup->window)},
                     {"aggression", p.warmup->aggression},
                     {"minWeightPercent", p.warmup->min_weight_percent}};
  }
  if (p.outlier) {
    const config::OutlierPolicy& o = *p.outlier;
    out["outlier"] = {{"consecutiveErrors", o.consecutive_errors},
                      {"errorRatePercent", o.error_rate_percent},
                      {"minRequests", o.min_requests},
                      {"interval", FormatDuration(o.interval)},
                      {"baseEjection", FormatDuration(o.base_ejection)},
                      {"maxEjection", FormatDuration(o.max_ejection)},
                      {"maxEjectionPercent", o.max_ejection_percent},
                      {"slowCallThreshold", FormatDuration(o.slow_call_threshold)},
                      {"slowCallPercent", o.slow_call_percent}};
    if (o.error_statuses) out["outlier"]["errorStatuses"] = *o.error_statuses;
    if (o.error_grpc_statuses) out["outlier"]["errorGrpcStatuses"] = *o.error_grpc_statuses;
  }
  if (p.lossless) {  // only the fields set: an unset one keeps the sidecar's value
    out["lossless"] = json::object();
    if (p.lossless->delay_registration) {
      out["lossless"]["delayRegistration"] = FormatDuration(*p.lossless->delay_registration);
    }
    if (p.lossless->drain_timeout) {
      out["lossless"]["drainTimeout"] = FormatDuration(*p.lossless->drain_timeout);
    }
  }
  if (p.fallback) out["fallback"] = FallbackName(*p.fallback);
  if (p.base_fallback) {
    out["baseFallback"] = *p.base_fallback == config::BaseFallback::kAnyLane ? "anyLane" : "none";
  }
  if (p.protocol) {
    out["protocol"] = *p.protocol == config::UpstreamProtocol::kHttp1   ? "http1"
                      : *p.protocol == config::UpstreamProtocol::kHttp2 ? "http2"
                                                                        : "auto";
  }
  if (p.tls) {
    out["tls"] = json::object();
    if (!p.tls->ca.empty()) out["tls"]["ca"] = p.tls->ca;
    if (!p.tls->sni.empty()) out["tls"]["sni"] = p.tls->sni;
  }
  return out;
}

json CanarySpecToJson(const config::CanarySpec& c) {
  json out = {{"lane", c.lane},
              {"steps", c.steps},
              {"interval", FormatDuration(c.interval)},
              {"maxErrorRate", c.max_error_rate},
              {"maxP99", FormatDuration(c.max_p99)},
              {"minRequests", c.min_requests},
              {"failureLimit", c.failure_limit},
              {"stickyOn", c.sticky_on}};
  if (!c.on_promote.empty()) out["onPromote"] = c.on_promote;
  if (!c.on_rollback.empty()) out["onRollback"] = c.on_rollback;
  return out;
}

json RuleSpecToJson(const config::RuleDocument& doc) {
  if (doc.kind == kTrafficLane) return LaneSpecToJson(doc.lane);
  if (doc.kind == kRoute) return RouteSpecToJson(doc.route);
  if (doc.kind == kCanary) return CanarySpecToJson(doc.canary);
  return PolicySpecToJson(doc.policy);
}

std::vector<config::RuleDocument> RulesFromJson(const std::vector<json>& docs,
                                                const std::string& source) {
  // A JSON text is a YAML flow document; dump(1) puts a space after every
  // ':' and ',' as YAML wants. The YAML loader takes at most kMaxYamlBytes
  // per text, which a store of many rules can exceed: parsed in texts below
  // that, with names kept unique across them here.
  std::vector<config::RuleDocument> out;
  std::set<std::pair<std::string, std::string>> seen;
  std::string text;
  auto parse = [&] {
    if (text.empty()) return;
    for (config::RuleDocument& d : config::ParseRuleDocuments(text, source)) {
      if (!seen.emplace(d.kind, d.name).second) {
        throw config::ConfigError(source, 0, "name: duplicate " + d.kind + " \"" + d.name + "\"");
      }
      out.push_back(std::move(d));
    }
    text.clear();
  };
  for (const json& d : docs) {
    std::string one = "---\n" + d.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
    if (text.size() + one.size() > config::kMaxYamlBytes) parse();
    text += one;
  }
  parse();
  return out;
}

}  // namespace graymesh::wire
