// RequestView lookups: linear scans over views. Requests carry tens of
// headers at most, and the cookie and query strings are short, so a scan
// beats building any index per request.
#include <string_view>

#include "lane/entrance.h"
#include "lane/lookup.h"

namespace graymesh::lane {
namespace detail {
namespace {

bool FindPair(std::string_view list, bool cookie, std::string_view name, std::string_view* value) {
  return ForEachPair(list, cookie, [&](std::string_view n, std::string_view v) {
    if (n != name) return false;
    *value = v;
    return true;
  });
}

}  // namespace

bool FindHeader(HeaderList headers, std::string_view name, std::string_view* value) {
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) {
      *value = v;
      return true;
    }
  }
  return false;
}

bool FindCookie(HeaderList headers, std::string_view name, std::string_view* value) {
  if (name.empty()) return false;
  for (const auto& [n, v] : headers) {
    if (IEquals(n, "cookie") && FindPair(v, true, name, value)) return true;
  }
  return false;
}

bool FindQueryParam(std::string_view query, std::string_view name, std::string_view* value) {
  if (name.empty()) return false;
  return FindPair(query, false, name, value);
}

}  // namespace detail

std::string_view RequestView::Header(std::string_view name) const {
  std::string_view v;
  return detail::FindHeader(headers, name, &v) ? v : std::string_view();
}

bool RequestView::HasHeader(std::string_view name) const {
  std::string_view v;
  return detail::FindHeader(headers, name, &v);
}

std::string_view RequestView::Cookie(std::string_view name) const {
  std::string_view v;
  return detail::FindCookie(headers, name, &v) ? v : std::string_view();
}

std::string_view RequestView::QueryParam(std::string_view name) const {
  std::string_view v;
  return detail::FindQueryParam(query, name, &v) ? v : std::string_view();
}

}  // namespace graymesh::lane
