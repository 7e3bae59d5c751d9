// Small, allocation-free helpers over header names and values.
#pragma once

#include <string_view>

namespace graymesh::http {

// ASCII case-insensitive equality, the way header names compare.
bool IEquals(std::string_view a, std::string_view b);

// True when the comma-separated `list` (e.g. a Connection value) holds `token`.
bool HasToken(std::string_view list, std::string_view token);

// Hop-by-hop headers (RFC 9110 7.6.1), never forwarded.
bool IsHopByHop(std::string_view name);

// Strips optional whitespace from both ends.
std::string_view Trim(std::string_view s);

}  // namespace graymesh::http
