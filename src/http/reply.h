// Responses the proxy makes itself: errors and 100 Continue. Each error names
// its reason in one line, in the body and in `x-graymesh-reason`, so a user
// can tell a proxy error from an upstream one.
#pragma once

#include <string>
#include <string_view>

namespace graymesh::http {

inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view StatusText(int status);

// A complete response with `connection: close` when `close` is set, and
// `x-graymesh-draining: 1` when `draining` is (a draining sidecar's inbound
// side marks its own errors as it marks relayed responses). Bytes of
// `reason` outside printable ASCII are written as \xNN escapes.
std::string ErrorReply(int status, std::string_view reason, bool close, bool draining = false);

}  // namespace graymesh::http
