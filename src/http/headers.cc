#include "http/headers.h"

namespace graymesh::http {
namespace {

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c | 0x20) : c; }

}  // namespace

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (IEquals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool IsHopByHop(std::string_view name) {
  // Switch on length first: most names are rejected by one comparison.
  switch (name.size()) {
    case 2: return IEquals(name, "te");
    case 7: return IEquals(name, "trailer") || IEquals(name, "upgrade");
    case 10: return IEquals(name, "connection") || IEquals(name, "keep-alive");
    case 16: return IEquals(name, "proxy-connection");
    case 17: return IEquals(name, "transfer-encoding");
    case 18: return IEquals(name, "proxy-authenticate");
    case 19: return IEquals(name, "proxy-authorization");
    default: return false;
  }
}

}  // namespace graymesh::http
