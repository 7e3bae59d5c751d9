// gRPC over HTTP/2 as the proxy needs it: telling gRPC requests, reading
// grpc-timeout, and the status a proxy-made error carries for a gRPC client
// (https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace graymesh::h2 {

// content-type application/grpc, application/grpc+proto, ...
bool IsGrpcContentType(std::string_view content_type);
// "100m", "5S", "1H" (at most 8 digits and one unit of H M S m u n) as
// milliseconds, rounded up; nullopt when malformed.
std::optional<int64_t> ParseGrpcTimeout(std::string_view value);
// The gRPC status code for an error reply the proxy makes with `http_status`:
// 503/502 -> 14 UNAVAILABLE, 504 -> 4 DEADLINE_EXCEEDED, 404/501 -> 12
// UNIMPLEMENTED, 413/431 -> 8 RESOURCE_EXHAUSTED, else 13 INTERNAL.
int GrpcStatusFor(int http_status);
// grpc-message is percent-encoded: bytes outside printable ASCII and '%'.
std::string PercentEncodeGrpcMessage(std::string_view text);

}  // namespace graymesh::h2
