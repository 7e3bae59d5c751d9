#include "proxy/hop_by_hop.h"

#include <string>

#include "http/headers.h"
#include "lane/propagation.h"

namespace graymesh::proxy {
namespace {

// Headers that decide how the proxy frames, routes or dyes a message.
bool Protected(std::string_view name) {
  switch (name.size()) {
    case 4: return http::IEquals(name, "host");
    case 7: return http::IEquals(name, "baggage");
    case 11: return http::IEquals(name, "traceparent");
    case 14: return http::IEquals(name, "content-length");
    case 15:
      return http::IEquals(name, lane::kLaneHeader) || http::IEquals(name, "x-forwarded-for");
    case 17:
      return http::IEquals(name, "transfer-encoding") || http::IEquals(name, lane::kSourceHeader);
    default: return false;
  }
}

}  // namespace

bool DroppedByConnection(std::span<const std::string_view> connection_lines,
                         std::string_view name, std::span<const std::string> extra_protected) {
  bool named = false;
  for (std::string_view line : connection_lines) {
    if (http::HasToken(line, name)) {
      named = true;
      break;
    }
  }
  if (!named || Protected(name)) return false;
  for (const std::string& p : extra_protected) {
    if (http::IEquals(name, p)) return false;
  }
  return true;
}

bool ListsHeaders(std::span<const std::string_view> connection_lines) {
  for (std::string_view line : connection_lines) {
    while (!line.empty()) {
      size_t comma = line.find(',');
      std::string_view item = http::Trim(line.substr(0, comma));
      if (!item.empty() && !http::IEquals(item, "keep-alive") && !http::IEquals(item, "close")) {
        return true;
      }
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace graymesh::proxy
