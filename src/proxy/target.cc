#include "proxy/target.h"

#include "http/headers.h"

namespace graymesh::proxy {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// unreserved / sub-delims (RFC 3986 §2.2, §2.3); '%' is checked apart.
bool IsRegNameChar(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

bool ValidRegName(std::string_view host) {
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '%') {
      if (i + 2 >= host.size() || !IsHex(host[i + 1]) || !IsHex(host[i + 2])) return false;
      i += 2;
    } else if (!IsRegNameChar(c)) {
      return false;
    }
  }
  return true;
}

bool ValidPort(std::string_view port) {
  if (port.size() > 5) return false;
  for (char c : port) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

}  // namespace

bool SplitAbsoluteForm(std::string_view target, AbsoluteTarget* out) {
  size_t scheme_end;
  if (target.size() >= 7 && http::IEquals(target.substr(0, 7), "http://")) {
    scheme_end = 7;
  } else if (target.size() >= 8 && http::IEquals(target.substr(0, 8), "https://")) {
    scheme_end = 8;
  } else {
    return false;
  }
  std::string_view rest = target.substr(scheme_end);
  size_t end = rest.find_first_of("/?#");
  out->authority = rest.substr(0, end);
  out->rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  return true;
}

bool ValidAuthority(std::string_view authority) {
  if (authority.empty()) return false;
  std::string_view port;
  if (authority.front() == '[') {  // IP-literal: [v6] (no IPvFuture)
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : authority.substr(1, close - 1)) {
      if (!IsHex(c) && c != ':' && c != '.') return false;
    }
    std::string_view after = authority.substr(close + 1);
    if (after.empty()) return true;
    if (after.front() != ':') return false;
    port = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (host.empty() || !ValidRegName(host)) return false;
    if (colon == std::string_view::npos) return true;
    port = authority.substr(colon + 1);
  }
  return ValidPort(port);
}

}  // namespace graymesh::proxy
