// The listener names of the gateways watching this control plane: a gateway
// sends them on its snapshot long poll (`/v1/snapshot?...&gateway=a,b`), so
// `apply` can warn about a TrafficLane whose `entrance.gateway` no connected
// gateway has (a typo, or the listener `--listen` names: `ingress`).
//
// A name counts as connected while a watch that sent it is waiting, and for
// kLinger after its last watch ended (a gateway between two long polls, or
// reconnecting). Only this replica's watchers are known.
//
// Thread-safety: none; all calls on the API's io_context thread.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace graymesh::wire {

class GatewayListeners {
 public:
  using Clock = std::chrono::steady_clock;
  // Longer than the longest long poll (60 s) plus a reconnect.
  static constexpr std::chrono::seconds kLinger{75};
  static constexpr size_t kMaxNames = 1024;  // a misbehaving client cannot grow it further

  // "a,b": the names, or "" with `error` set (empty item, over 63
  // characters, or a character that is not a letter, digit, '-', '_' or '.').
  static std::vector<std::string> Parse(std::string_view list, std::string* error);

  // A watch with `names` started / ended.
  void Begin(const std::vector<std::string>& names, Clock::time_point now);
  void End(const std::vector<std::string>& names, Clock::time_point now);
  // Names connected at `now`, sorted.
  std::vector<std::string> Connected(Clock::time_point now) const;

 private:
  struct Seen {
    int watching = 0;
    Clock::time_point last;
  };
  void Forget(Clock::time_point now);
  std::map<std::string, Seen, std::less<>> seen_;
};

// The warnings for lanes of an apply: one per TrafficLane whose
// entrance.gateway is not in `connected`.
struct LaneGateway {
  std::string lane;
  std::string gateway;
};
std::vector<std::string> GatewayWarnings(const std::vector<LaneGateway>& lanes,
                                         const std::vector<std::string>& connected);

}  // namespace graymesh::wire
