// Which lane a request travels in (docs/design.md, lane model), one function
// for HTTP/1.1 (session_lane.cc) and HTTP/2 (h2/lane_headers.cc): a trusted
// lane header, then the lane member of baggage, then what loose mode learnt
// for the trace, then the entrance rules that apply at this listener, then
// the node's own tag (not at a gateway). Trust, carried values and the
// headers sent on stay with each protocol; only the choice is here.
//
// Runs on the worker thread; the returned view points into `signals`, the
// snapshot or the node configuration, all of which the caller holds.
#pragma once

#include <array>
#include <string_view>

#include "config/config.h"
#include "lane/entrance.h"
#include "lane/propagation.h"
#include "lane/trace_map.h"
#include "proxy/snapshot.h"

namespace graymesh::proxy {

struct LaneSignals {
  std::string_view header_lane;  // x-graymesh-lane (or an alias) of a trusted client, else ""
  std::string_view baggage;      // as believed (an untrusted client's mesh members removed)
  uint8_t learnt = 0;            // loose mode: the trace's TraceLaneMap id, 0 = none
  int service = -1;              // the service the request goes to
};

// The entrance rules that apply at `listener` for `service`, in order
// (gateway: the listener's, then the service's; outbound: the service's;
// inbound: the node's). Null entries for none.
inline std::array<const lane::EntranceRules*, 2> EntranceRulesFor(
    const Snapshot& snap, const config::Listener& listener, int service) {
  switch (listener.kind) {
    case config::ListenerKind::kGateway:
      return {snap.GatewayRules(listener.name), snap.ServiceRules(service)};
    case config::ListenerKind::kOutbound:
      return {snap.ServiceRules(service), nullptr};
    case config::ListenerKind::kInbound:
      return {snap.InboundRules(), nullptr};
    case config::ListenerKind::kTcp:
      break;
  }
  return {nullptr, nullptr};
}

// `view()` gives the request as entrance rules read it (a const
// lane::RequestView&); it is called only when a rule is there to read it.
template <typename ViewFn>
std::string_view ChooseLane(const Snapshot& snap, const config::Listener& listener,
                            const LaneSignals& in, std::string_view node_lane, ViewFn&& view) {
  if (lane::ValidLaneTag(in.header_lane)) return in.header_lane;
  if (std::string_view l = lane::LaneFromBaggage(in.baggage); !l.empty()) return l;
  if (in.learnt != 0 && in.learnt != lane::TraceLaneMap::kSeenBase) {
    if (std::string_view l = lane::LaneIds::Name(in.learnt); !l.empty()) return l;
  }
  const auto rules = EntranceRulesFor(snap, listener, in.service);
  if (rules[0] != nullptr || rules[1] != nullptr) {
    const lane::RequestView& v = view();
    for (const lane::EntranceRules* r : rules) {
      if (r == nullptr) continue;
      if (std::string_view l = r->Match(v); !l.empty()) return l;
    }
  }
  if (listener.kind != config::ListenerKind::kGateway) return node_lane;
  return {};
}

}  // namespace graymesh::proxy
