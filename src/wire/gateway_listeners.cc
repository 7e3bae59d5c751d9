#include "wire/gateway_listeners.h"

#include <algorithm>

namespace graymesh::wire {
namespace {

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

}  // namespace

std::vector<std::string> GatewayListeners::Parse(std::string_view list, std::string* error) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string_view name = list.substr(start, comma - start);
    if (name.empty() || name.size() > 63 || !std::all_of(name.begin(), name.end(), NameChar)) {
      *error = "gateway: listener names are 1..63 letters, digits, '-', '_' or '.', "
               "separated by ',', got \"" + std::string(list.substr(0, 200)) + "\"";
      return {};
    }
    out.emplace_back(name);
    start = comma + 1;
  }
  return out;
}

void GatewayListeners::Forget(Clock::time_point now) {
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (it->second.watching == 0 && now - it->second.last > kLinger) {
      it = seen_.erase(it);
    } else {
      ++it;
    }
  }
}

void GatewayListeners::Begin(const std::vector<std::string>& names, Clock::time_point now) {
  Forget(now);
  for (const std::string& n : names) {
    auto it = seen_.find(n);
    if (it == seen_.end()) {
      if (seen_.size() >= kMaxNames) continue;
      it = seen_.emplace(n, Seen{}).first;
    }
    ++it->second.watching;
    it->second.last = now;
  }
}

void GatewayListeners::End(const std::vector<std::string>& names, Clock::time_point now) {
  for (const std::string& n : names) {
    auto it = seen_.find(n);
    if (it == seen_.end()) continue;
    if (it->second.watching > 0) --it->second.watching;
    it->second.last = now;
  }
}

std::vector<std::string> GatewayListeners::Connected(Clock::time_point now) const {
  std::vector<std::string> out;
  for (const auto& [name, s] : seen_) {
    if (s.watching > 0 || now - s.last <= kLinger) out.push_back(name);
  }
  return out;
}

std::vector<std::string> GatewayWarnings(const std::vector<LaneGateway>& lanes,
                                         const std::vector<std::string>& connected) {
  std::vector<std::string> out;
  std::string have;
  for (const std::string& c : connected) have += (have.empty() ? "" : ", ") + c;
  if (have.empty()) have = "none (no gateway is watching this control plane)";
  for (const LaneGateway& l : lanes) {
    if (l.gateway.empty()) continue;
    if (std::find(connected.begin(), connected.end(), l.gateway) != connected.end()) continue;
    out.push_back("TrafficLane " + l.lane + ": entrance.gateway \"" + l.gateway +
                  "\": no connected gateway has a listener of that name, so the rule dyes "
                  "nothing yet (connected gateway listeners: " + have + ")");
  }
  return out;
}

}  // namespace graymesh::wire
