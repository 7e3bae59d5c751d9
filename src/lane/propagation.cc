#include "lane/propagation.h"

#include "http/headers.h"

namespace graymesh::lane {
namespace {

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string_view LaneFromBaggage(std::string_view baggage) {
  std::string_view lane;
  ForEachBaggageMember(baggage, [&](std::string_view, std::string_view key, std::string_view value) {
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

bool HasMeshMembers(std::string_view baggage) {
  bool found = false;
  ForEachBaggageMember(baggage, [&](std::string_view, std::string_view key, std::string_view) {
    found = key.starts_with(kMeshMemberPrefix);
    return found;
  });
  return found;
}

void AppendWithoutMeshMembers(std::string_view baggage, std::string* out) {
  bool first = true;
  ForEachBaggageMember(baggage, [&](std::string_view member, std::string_view key,
                                    std::string_view) {
    if (key.starts_with(kMeshMemberPrefix)) return false;
    if (!first) out->append(",");
    out->append(member);
    first = false;
    return false;
  });
}

bool ComposeBaggage(std::string_view existing, std::string_view carried, std::string_view lane,
                    std::string* out) {
  const size_t start = out->size();
  AppendWithoutMeshMembers(existing, out);
  auto separate = [&] {
    if (out->size() > start) out->append(",");
  };
  if (!carried.empty()) {
    separate();
    out->append(carried);
  }
  if (!lane.empty()) {
    separate();
    out->append(kBaggageKey).append("=").append(lane);
  }
  if (out->size() - start > kMaxBaggageBytes) {
    out->resize(start);
    return false;
  }
  return true;
}

bool AppendBaggageWithLane(std::string_view existing, std::string_view lane, std::string* out) {
  return ComposeBaggage(existing, {}, lane, out);
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
