#include "proxy/upstream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace graymesh::proxy {
namespace {

// A pooled connection is usable only if reading it would block: EOF or stray
// bytes mean the upstream closed it or broke framing while it sat idle.
bool StillOpen(asio::ip::tcp::socket& s) {
  char byte;
  ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Subset MakeSubset(const ServiceInfo& info, std::string lane, std::vector<int> hosts,
                  uint64_t seed) {
  std::vector<uint32_t> weights;
  weights.reserve(hosts.size());
  for (int h : hosts) weights.push_back(info.endpoints[h].weight);
  Subset s{.lane = std::move(lane), .hosts = std::move(hosts), .lb = nullptr};
  s.lb = info.lb == config::LbPolicy::kLeastRequest ? lb::MakeLeastRequest(weights, seed)
                                                   : lb::MakeRoundRobin(weights, seed);
  return s;
}

}  // namespace

ServiceState::ServiceState(std::shared_ptr<const Snapshot> snap, const ServiceInfo& info,
                           uint64_t seed)
    : snap_(std::move(snap)), info_(&info), endpoints_(info.endpoints.size()) {
  const int n = int(endpoints_.size());
  std::vector<int> base, all;
  std::vector<std::string> lanes;
  for (int i = 0; i < n; ++i) {
    endpoints_[i].info = &info.endpoints[i];
    all.push_back(i);
    const std::string& lane = info.endpoints[i].lane;
    if (lane.empty()) {
      base.push_back(i);
    } else if (std::find(lanes.begin(), lanes.end(), lane) == lanes.end()) {
      lanes.push_back(lane);
    }
  }
  subsets_.push_back(MakeSubset(info, "", std::move(base), seed));
  subsets_.push_back(MakeSubset(info, "*", std::move(all), seed));
  for (const std::string& lane : lanes) {
    std::vector<int> hosts;
    for (int i = 0; i < n; ++i) {
      if (info.endpoints[i].lane == lane) hosts.push_back(i);
    }
    subsets_.push_back(MakeSubset(info, lane, std::move(hosts), seed));
  }
}

bool ServiceState::HasLane(std::string_view lane) const {
  for (size_t s = 2; s < subsets_.size(); ++s) {
    if (subsets_[s].lane == lane) return true;
  }
  return false;
}

Choice ServiceState::Pick(std::string_view lane, bool fallback_to_base, int exclude) {
  auto pick_in = [&](int s) -> Choice {
    const Subset& sub = subsets_[s];
    if (sub.hosts.empty()) return {};
    int skip = -1;
    if (exclude >= 0) {
      auto it = std::find(sub.hosts.begin(), sub.hosts.end(), exclude);
      if (it != sub.hosts.end()) skip = int(it - sub.hosts.begin());
    }
    int slot = sub.lb->Pick(skip);
    if (slot < 0) return {};
    return {.host = sub.hosts[slot], .subset = s, .slot = slot};
  };
  if (!lane.empty()) {
    for (size_t s = 2; s < subsets_.size(); ++s) {
      if (subsets_[s].lane == lane) return pick_in(int(s));
    }
    if (!fallback_to_base) return {};
  }
  if (!subsets_[0].hosts.empty()) return pick_in(0);
  // No base endpoint: base users must not land on gray data, unless the
  // service says any instance may serve them.
  if (info_->base_fallback_any_lane) return pick_in(1);
  return {};
}

bool ServiceState::TakeIdle(int i, asio::ip::tcp::socket* out, uint64_t* stale_dropped) {
  std::vector<IdleConn>& idle = endpoints_[i].idle;
  while (!idle.empty()) {
    asio::ip::tcp::socket s = std::move(idle.back().socket);
    idle.pop_back();
    if (StillOpen(s)) {
      *out = std::move(s);
      return true;
    }
    ++*stale_dropped;
    asio::error_code ignored;
    s.close(ignored);
  }
  return false;
}

void ServiceState::PutIdle(int i, asio::ip::tcp::socket&& s, int64_t now_ms, uint32_t max_idle) {
  std::vector<IdleConn>& idle = endpoints_[i].idle;
  if (retired_ || idle.size() >= max_idle) {
    asio::error_code ignored;
    s.close(ignored);
    return;
  }
  idle.push_back({std::move(s), now_ms});
}

void ServiceState::SweepIdle(int64_t cutoff_ms) {
  for (EndpointState& ep : endpoints_) {
    size_t old = 0;
    while (old < ep.idle.size() && ep.idle[old].since_ms < cutoff_ms) ++old;
    if (old > 0) ep.idle.erase(ep.idle.begin(), ep.idle.begin() + old);  // closes them
  }
}

void ServiceState::AdoptIdle(ServiceState& old) {
  for (EndpointState& mine : endpoints_) {
    for (EndpointState& theirs : old.endpoints_) {
      if (theirs.info->address != mine.info->address) continue;
      for (IdleConn& c : theirs.idle) mine.idle.push_back(std::move(c));
      theirs.idle.clear();
    }
  }
}

void WorkerUpstreams::Apply(std::shared_ptr<const Snapshot> snap, uint64_t seed) {
  std::vector<std::shared_ptr<ServiceState>> next;
  next.reserve(snap->services().size());
  for (const ServiceInfo& info : snap->services()) {
    auto state = std::make_shared<ServiceState>(snap, info, seed);
    if (snap_ != nullptr) {
      int old = snap_->FindService(info.name);
      if (old >= 0) state->AdoptIdle(*services_[old]);
    }
    next.push_back(std::move(state));
  }
  for (auto& s : services_) s->Retire();
  services_ = std::move(next);
  snap_ = std::move(snap);
}

void WorkerUpstreams::SweepIdle(int64_t cutoff_ms) {
  for (auto& s : services_) s->SweepIdle(cutoff_ms);
}

}  // namespace graymesh::proxy
