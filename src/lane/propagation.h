// How a lane travels with a request (DESIGN.md §3): the x-graymesh-lane
// header (plus configured aliases), the W3C baggage member graymesh-lane, and
// the trace id of traceparent for apps that forward nothing else.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace graymesh::lane {

inline constexpr std::string_view kLaneHeader = "x-graymesh-lane";
inline constexpr std::string_view kBaggageKey = "graymesh-lane";
inline constexpr std::string_view kSourceHeader = "x-graymesh-source";
// W3C Baggage limits: a header we write never grows past them.
inline constexpr size_t kMaxBaggageBytes = 8192;

// The value of the graymesh-lane member of a baggage header, or "".
std::string_view LaneFromBaggage(std::string_view baggage);

// The 32-hex-digit trace id of a traceparent header, or "" when malformed.
std::string_view TraceIdFromTraceparent(std::string_view traceparent);

// Appends to `out` the baggage value to send: `existing` without its
// graymesh-lane member, plus graymesh-lane=LANE. Returns false (and appends
// nothing) when the result would exceed kMaxBaggageBytes.
bool AppendBaggageWithLane(std::string_view existing, std::string_view lane, std::string* out);

// A lane tag is safe to carry in a header and baggage: 1..63 of [A-Za-z0-9._-].
bool ValidLaneTag(std::string_view tag);

}  // namespace graymesh::lane
