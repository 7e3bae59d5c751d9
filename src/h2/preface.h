// Telling HTTP/2 with prior knowledge from HTTP/1.x on one port: an HTTP/2
// client opens with the fixed connection preface (RFC 9113 §3.4), which no
// HTTP/1.1 request line can start with.
#pragma once

#include <string_view>

namespace graymesh::h2 {

inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Sniff { kHttp1, kHttp2, kNeedMore };

// What the first bytes of a connection say: kNeedMore while they are a
// proper prefix of the preface (the rest has not arrived yet).
Sniff ClassifyFirstBytes(std::string_view first);

}  // namespace graymesh::h2
