#include "proxy/chooser.h"

namespace graymesh::proxy {

Choice EndpointChooser::Next(int64_t now_ms) {
  Choice c = svc_.Pick(lane_, fallback_, exclude_, now_ms);
  // The failed endpoint was the only one left: try it again rather than none.
  if (c.host < 0 && attempts_ > 0) c = svc_.Pick(lane_, fallback_, -1, now_ms);
  ++attempts_;
  return c;
}

std::string EndpointChooser::Refusal(int64_t now_ms) const {
  const std::string& name = svc_.info().name;
  const std::string lane(lane_);
  if (!lane.empty() && !fallback_ && !svc_.HasLane(lane_)) {
    return "service '" + name + "' has no instance in lane '" + lane + "' (fallback: none)";
  }
  if (!lane.empty() && !fallback_ && svc_.LaneOut(lane_, now_ms)) {
    return "every instance of service '" + name + "' in lane '" + lane +
           "' is ejected or draining (fallback: none)";
  }
  if (svc_.size() > 0 && !svc_.HasBase() && (lane.empty() || fallback_)) {
    if (lane.empty()) return "service '" + name + "' has no base instance";
    return "service '" + name + "' has no instance in lane '" + lane + "' and no base instance";
  }
  return "no endpoint available for service '" + name + "'";
}

}  // namespace graymesh::proxy
