// How the proxy reads a request-target and the Host header (RFC 9112 §3.2,
// RFC 3986 §3.2): which authority routes the request and becomes the Host
// sent upstream, and which origin-form target is forwarded. Pure functions
// over views into the caller's buffer; no allocation.
#pragma once

#include <string_view>

namespace graymesh::proxy {

struct AbsoluteTarget {
  std::string_view authority;  // host[:port], may be empty (then invalid for http)
  std::string_view rest;       // path and query; "" or "?q" when the path is empty
};

// True when `target` is absolute-form with an http or https scheme, in any
// case ("HTTP://a/x"); `out` then holds its parts.
bool SplitAbsoluteForm(std::string_view target, AbsoluteTarget* out);

// True for `uri-host [":" port]` as Host carries it: a registered name (with
// %-escapes), an IPv4 address or a bracketed IPv6 literal; never userinfo,
// whitespace, control bytes or anything after the port. Empty is invalid.
bool ValidAuthority(std::string_view authority);

}  // namespace graymesh::proxy
