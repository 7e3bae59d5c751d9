#include "h2/grpc_status.h"

#include <fmt/format.h>

#include <iterator>

namespace graymesh::h2 {

bool IsGrpcContentType(std::string_view ct) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (ct.size() < kGrpc.size() || ct.substr(0, kGrpc.size()) != kGrpc) return false;
  return ct.size() == kGrpc.size() || ct[kGrpc.size()] == '+' || ct[kGrpc.size()] == ';';
}

std::optional<int64_t> ParseGrpcTimeout(std::string_view v) {
  if (v.size() < 2 || v.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : v.substr(0, v.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  switch (v.back()) {
    case 'H': return n * 3'600'000;
    case 'M': return n * 60'000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return (n + 999) / 1000;
    case 'n': return (n + 999'999) / 1'000'000;
    default: return std::nullopt;
  }
}

int GrpcStatusFor(int http_status) {
  switch (http_status) {
    case 502:
    case 503: return 14;
    case 504: return 4;
    case 404:
    case 501: return 12;
    case 413:
    case 431: return 8;
    default: return 13;
  }
}

std::string PercentEncodeGrpcMessage(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(char(c));
    } else {
      fmt::format_to(std::back_inserter(out), "%{:02X}", c);
    }
  }
  return out;
}

}  // namespace graymesh::h2
