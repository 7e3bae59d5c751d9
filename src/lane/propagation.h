// How a lane travels with a request (docs/design.md, lane model): the x-graymesh-lane
// header (plus configured aliases), the W3C baggage member graymesh-lane, and
// the trace id of traceparent for apps that forward nothing else.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "http/headers.h"

namespace graymesh::lane {

inline constexpr std::string_view kLaneHeader = "x-graymesh-lane";
inline constexpr std::string_view kBaggageKey = "graymesh-lane";
inline constexpr std::string_view kSourceHeader = "x-graymesh-source";
// Baggage members the mesh writes all start with this; from an untrusted
// client they are removed (listener `trust`).
inline constexpr std::string_view kMeshMemberPrefix = "graymesh-";
// W3C Baggage limits: a header we write never grows past them.
inline constexpr size_t kMaxBaggageBytes = 8192;

// Calls fn(member, key, value) for each list-member of a baggage value, until
// fn returns true. `member` is the whole trimmed member (properties too);
// `key` and `value` are trimmed, `value` without properties and still
// percent-encoded. Members without '=' are skipped.
template <typename Fn>
void ForEachBaggageMember(std::string_view baggage, Fn&& fn) {
  while (!baggage.empty()) {
    const size_t comma = baggage.find(',');
    const std::string_view member = http::Trim(baggage.substr(0, comma));
    const std::string_view kv = member.substr(0, member.find(';'));  // drop properties
    const size_t eq = kv.find('=');
    if (eq != std::string_view::npos) {
      if (fn(member, http::Trim(kv.substr(0, eq)), http::Trim(kv.substr(eq + 1)))) return;
    }
    if (comma == std::string_view::npos) return;
    baggage.remove_prefix(comma + 1);
  }
}

// Whether the baggage holds a member whose key starts with kMeshMemberPrefix.
bool HasMeshMembers(std::string_view baggage);

// Appends `baggage` without its graymesh-* members.
void AppendWithoutMeshMembers(std::string_view baggage, std::string* out);

// Appends the baggage value to send on: the members of `existing` except the
// graymesh-* ones, then `carried` (graymesh-* members, "k=v,k=v", may be
// empty), then graymesh-lane=LANE when `lane` is not empty. Returns false (and
// appends nothing) when the result would exceed kMaxBaggageBytes.
bool ComposeBaggage(std::string_view existing, std::string_view carried, std::string_view lane,
                    std::string* out);

// The value of the graymesh-lane member of a baggage header, or "".
std::string_view LaneFromBaggage(std::string_view baggage);

// The 32-hex-digit trace id of a traceparent header, or "" when malformed.
std::string_view TraceIdFromTraceparent(std::string_view traceparent);

// ComposeBaggage with no carried values: `existing` without its graymesh-*
// members, plus graymesh-lane=LANE.
bool AppendBaggageWithLane(std::string_view existing, std::string_view lane, std::string* out);

// A lane tag is safe to carry in a header and baggage: 1..63 of [A-Za-z0-9._-].
bool ValidLaneTag(std::string_view tag);

}  // namespace graymesh::lane
