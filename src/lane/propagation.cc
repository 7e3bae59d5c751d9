#include "lane/propagation.h"

#include "http/headers.h"

namespace graymesh::lane {
namespace {

// Calls fn(member, key, value) for each list-member of a baggage value;
// stops when fn returns true.
template <typename Fn>
void ForEachMember(std::string_view baggage, Fn fn) {
  while (!baggage.empty()) {
    size_t comma = baggage.find(',');
    std::string_view member = http::Trim(baggage.substr(0, comma));
    std::string_view kv = member.substr(0, member.find(';'));  // drop properties
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) {
      if (fn(member, http::Trim(kv.substr(0, eq)), http::Trim(kv.substr(eq + 1)))) return;
    }
    if (comma == std::string_view::npos) return;
    baggage.remove_prefix(comma + 1);
  }
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string_view LaneFromBaggage(std::string_view baggage) {
  std::string_view lane;
  ForEachMember(baggage, [&](std::string_view, std::string_view key, std::string_view value) {
    if (key != kBaggageKey) return false;
    lane = value;
    return true;
  });
  return ValidLaneTag(lane) ? lane : std::string_view();
}

std::string_view TraceIdFromTraceparent(std::string_view tp) {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2)
  tp = http::Trim(tp);
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-') return {};
  std::string_view id = tp.substr(3, 32);
  bool all_zero = true;
  for (char c : id) {
    if (!IsHex(c)) return {};
    all_zero = all_zero && c == '0';
  }
  return all_zero ? std::string_view() : id;
}

bool AppendBaggageWithLane(std::string_view existing, std::string_view lane, std::string* out) {
  size_t start = out->size();
  ForEachMember(existing, [&](std::string_view member, std::string_view key, std::string_view) {
    if (key != kBaggageKey) out->append(member).append(",");
    return false;
  });
  out->append(kBaggageKey).append("=").append(lane);
  if (out->size() - start > kMaxBaggageBytes) {
    out->resize(start);
    return false;
  }
  return true;
}

bool ValidLaneTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 63) return false;
  for (char c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace graymesh::lane
