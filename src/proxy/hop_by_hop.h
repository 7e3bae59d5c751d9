// Which received header lines stay on this hop. Hop-by-hop headers (RFC 9110
// §7.6.1) and those a Connection line names are not forwarded, except the
// headers the proxy itself frames, routes or dyes by: a Connection value can
// never make the next hop read a message differently from the proxy.
#pragma once

#include <span>
#include <string_view>

namespace graymesh::proxy {

// Connection header lines kept per message; more is refused as malformed.
inline constexpr int kMaxConnectionLines = 4;

// True when a Connection value names `name` and `name` is not one the proxy
// relies on (framing, Host, lane and trace headers, `extra_protected`).
bool DroppedByConnection(std::span<const std::string_view> connection_lines,
                         std::string_view name,
                         std::span<const std::string> extra_protected = {});

// True when any Connection line names something beyond keep-alive / close.
bool ListsHeaders(std::span<const std::string_view> connection_lines);

}  // namespace graymesh::proxy
