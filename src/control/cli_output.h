// How `graymesh get` prints what the API returns: a kubectl-like table
// (upper-case headers, columns two spaces apart), YAML (rules as documents
// that `graymesh apply -f` takes back) or JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace graymesh::control {

// What `graymesh get` can list, from the user's word ("lanes", "lane",
// "TrafficLane", "svc", ...). kUnknown for anything else.
enum class Resource { kUnknown, kServices, kInstances, kLanes, kRoutes, kPolicies, kCanaries };
Resource ParseResource(const std::string& word);
// The rule kind of a rule resource ("TrafficLane", ...); "" for the others.
std::string ResourceKind(Resource r);
// "services", "instances", "lanes", "routes", "policies".
std::string ResourceName(Resource r);

using Table = std::vector<std::vector<std::string>>;  // first row: headers
std::string FormatTable(const Table& rows);

// Rows for a list of API objects (instances, services, or rules of one kind).
// `now_ms` is for the AGE column.
Table MakeTable(Resource r, const std::vector<nlohmann::json>& items, int64_t now_ms);

// "45s", "12m", "3h", "5d": how long ago, like kubectl's AGE.
std::string FormatAge(int64_t ms);

// Rules as `---` separated {kind, name, spec} documents; anything else as a
// YAML list (or one object when `single`).
std::string FormatYaml(Resource r, const std::vector<nlohmann::json>& items, bool single);
std::string FormatJson(Resource r, const std::vector<nlohmann::json>& items, bool single);

}  // namespace graymesh::control
