#include "http/headers.h"

namespace graymesh::http {

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
