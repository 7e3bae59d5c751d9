// Rule documents <-> JSON. The JSON of a rule's spec has the shape of its
// YAML `spec` (camelCase keys, durations as "120s"), so `graymesh get -o yaml`
// prints documents that `graymesh apply -f` takes back. JSON is read back
// through config::ParseRuleDocuments (JSON is YAML), so the control plane, a
// file and a snapshot are validated by the very same code.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace graymesh::wire {

inline constexpr const char* kTrafficLane = "TrafficLane";
inline constexpr const char* kRoute = "Route";
inline constexpr const char* kServicePolicy = "ServicePolicy";
inline constexpr const char* kCanary = "Canary";

// "TrafficLane", "Route", "ServicePolicy" or "Canary" for any case of those;
// "" else.
std::string CanonicalKind(const std::string& kind);

nlohmann::json LaneSpecToJson(const config::Lane& lane);  // without name
nlohmann::json RouteSpecToJson(const config::Route& route);
nlohmann::json PolicySpecToJson(const config::ServicePolicy& policy);  // without name
nlohmann::json CanarySpecToJson(const config::CanarySpec& canary);      // without name
nlohmann::json RuleSpecToJson(const config::RuleDocument& doc);

// "120s", "1500ms": the form ParseDuration reads back exactly.
std::string FormatDuration(config::Millis d);

// Parses {kind, name, spec} objects as rule documents. Throws
// config::ConfigError naming `source` (e.g. "snapshot").
std::vector<config::RuleDocument> RulesFromJson(const std::vector<nlohmann::json>& docs,
                                                const std::string& source);

}  // namespace graymesh::wire
