// How `graymesh top` prints GET /v1/traffic: a services table, an edges
// table (caller -> callee) and the endpoints, columns as `graymesh get`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace graymesh::control {

std::string FormatTraffic(const nlohmann::json& traffic);

}  // namespace graymesh::control
