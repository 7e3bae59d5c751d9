// Small, allocation-free helpers over header names and values. IEquals and
// Trim run for every header of every request (head interpretation, head
// rewriting, lane rules), so they are inline: a call with a literal compiles
// to a length check and a few byte compares.
#pragma once

#include <string_view>

namespace graymesh::http {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? char(c | 0x20) : c; }

// ASCII case-insensitive equality, the way header names compare.
inline bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// True when the comma-separated `list` (e.g. a Connection value) holds `token`.
bool HasToken(std::string_view list, std::string_view token);

// Hop-by-hop headers (RFC 9110 7.6.1), never forwarded.
bool IsHopByHop(std::string_view name);

// Strips optional whitespace from both ends.
inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace graymesh::http
