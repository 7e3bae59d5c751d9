// Finding named items in a request without allocating: a header, a cookie
// inside the Cookie header(s), a parameter inside the query string. The Find*
// functions return whether the item is present and, if so, its value; the
// first occurrence wins. Present-but-empty ("a=" or "a") differs from absent,
// which is what `present: true/false` tests.
#pragma once

#include <span>
#include <string_view>
#include <utility>

#include "http/headers.h"

namespace graymesh::lane::detail {

using HeaderList = std::span<const std::pair<std::string_view, std::string_view>>;

// Header names compare as HTTP says; values are trimmed of optional space.
using http::IEquals;
inline std::string_view TrimSpace(std::string_view s) { return http::Trim(s); }

// Calls f(name, value) for each "name=value" item of a Cookie header value
// ("a=1; b=2") or of a query string ("a=1&b&c="), until f returns true.
// Cookies (RFC 6265 5.2): names and values are trimmed, a value in double
// quotes is unquoted, items without '=' are skipped. Query items are raw
// (not percent-decoded) and "b" is the name b with an empty value.
template <typename F>
bool ForEachPair(std::string_view list, bool cookie, F&& f) {
  const char sep = cookie ? ';' : '&';
  while (!list.empty()) {
    const size_t end = list.find(sep);
    std::string_view item = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
    const size_t eq = item.find('=');
    if (!cookie) {
      if (item.empty()) continue;
      if (f(item.substr(0, eq),
            eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1))) {
        return true;
      }
      continue;
    }
    if (eq == std::string_view::npos) continue;
    std::string_view value = TrimSpace(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (f(TrimSpace(item.substr(0, eq)), value)) return true;
  }
  return false;
}

// `name` in any case.
bool FindHeader(HeaderList headers, std::string_view name, std::string_view* value);

// Scans every `cookie` header (HTTP/2 may split cookies over several); names
// are case-sensitive.
bool FindCookie(HeaderList headers, std::string_view name, std::string_view* value);

bool FindQueryParam(std::string_view query, std::string_view name, std::string_view* value);

}  // namespace graymesh::lane::detail
