#include "proxy/upstream.h"

#include <algorithm>

namespace graymesh::proxy {
namespace {

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
                           uint64_t seed, std::shared_ptr<health::ServiceHealth> health,
                           int64_t now_ms, bool at_start)
    : snap_(std::move(snap)),
      info_(&info),
      endpoints_(info.endpoints.size()),
      health_(std::move(health)) {
  const int n = int(endpoints_.size());
  if (health_ != nullptr) {
    std::vector<std::shared_ptr<health::EndpointHealth>> members;
    for (int i = 0; i < n; ++i) {
      const EndpointInfo& e = info.endpoints[i];
      endpoints_[i].health = health_->Join(e.address_text, e.ready_since_ms, now_ms, at_start);
      members.push_back(endpoints_[i].health);
    }
    health_->SetMembers(std::move(members));
  }
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

Choice ServiceState::PickIn(int s, int exclude) {
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
}

Choice ServiceState::LastResort(int s, int exclude, int64_t now_ms) {
  if (!HealthOn()) return {};
  Subset& sub = subsets_[s];
  const size_t n = sub.hosts.size();
  for (size_t k = 0; k < n; ++k) {
    const int slot = int((sub.last_resort + k) % n);
    const int host = sub.hosts[slot];
    if (host == exclude || endpoints_[host].health->out(now_ms)) continue;
    sub.last_resort = uint32_t(slot + 1);
    return {.host = host, .subset = s, .slot = slot};
  }
  return {};
}

Choice ServiceState::Pick(std::string_view lane, bool fallback_to_base, int exclude,
                          int64_t now_ms) {
  int lane_subset = -1;
  if (!lane.empty()) {
    for (size_t s = 2; s < subsets_.size(); ++s) {
      if (subsets_[s].lane == lane) lane_subset = int(s);
    }
    if (lane_subset >= 0) {
      Choice c = PickIn(lane_subset, exclude);
      // Health off: the lane keeps its requests, as it always did.
      if (c.host >= 0 || !HealthOn()) return c;
      if (!fallback_to_base) return LastResort(lane_subset, exclude, now_ms);
    } else if (!fallback_to_base) {
      return {};
    }
  }
  if (!subsets_[0].hosts.empty()) {
    if (Choice c = PickIn(0, exclude); c.host >= 0) return c;
    if (Choice c = LastResort(0, exclude, now_ms); c.host >= 0) return c;
    return lane_subset >= 0 ? LastResort(lane_subset, exclude, now_ms) : Choice{};
  }
  // No base endpoint: base users must not land on gray data, unless the
  // service says any instance may serve them.
  if (info_->base_fallback_any_lane) {
    if (Choice c = PickIn(1, exclude); c.host >= 0) return c;
    return LastResort(1, exclude, now_ms);
  }
  if (lane_subset >= 0) return LastResort(lane_subset, exclude, now_ms);
  return {};
}

void ServiceState::Report(const Choice& c, const health::AttemptResult& r, int64_t now_ms,
                          WorkerStats& stats) {
  subsets_[c.subset].lb->OnFinish(c.slot);
  switch (r.outcome) {
    case health::Outcome::kConnectFail: stats.upstream_cx_connect_fail.Inc(); break;
    case health::Outcome::kReset: stats.upstream_rq_reset.Inc(); break;
    case health::Outcome::kTimeout: stats.upstream_rq_timeout.Inc(); break;
    default: break;
  }
  if (!HealthOn()) return;
  EndpointState& ep = endpoints_[c.host];
  const uint64_t ejections = ep.health->ejections();
  if (health_->Record(*ep.health, r, now_ms)) RefreshWeights(now_ms);
  if (ep.health->ejections() != ejections) stats.upstream_ejections.Inc();
  if (r.draining) DropIdle(c.host);
}

void ServiceState::RefreshWeights(int64_t now_ms) {
  if (health_ == nullptr) return;
  for (Subset& sub : subsets_) {
    // No ramp when every endpoint of the subset is warming: nobody else
    // could take the load.
    bool all_warming = !sub.hosts.empty();
    for (int h : sub.hosts) {
      all_warming = all_warming && health_->Warming(*endpoints_[h].health, now_ms);
    }
    for (size_t slot = 0; slot < sub.hosts.size(); ++slot) {
      const EndpointState& ep = endpoints_[sub.hosts[slot]];
      const uint32_t w =
          health_->EffectiveWeight(*ep.health, ep.info->weight, now_ms, !all_warming);
      if (sub.lb->Weight(int(slot)) != w) sub.lb->SetWeight(int(slot), w);
    }
  }
}

bool ServiceState::LaneOut(std::string_view lane, int64_t now_ms) const {
  if (!HealthOn()) return false;
  for (size_t s = 2; s < subsets_.size(); ++s) {
    if (subsets_[s].lane != lane) continue;
    for (int h : subsets_[s].hosts) {
      if (!endpoints_[h].health->out(now_ms)) return false;
    }
    return !subsets_[s].hosts.empty();
  }
  return false;
}

health::EndpointStatus ServiceState::Status(int i, int64_t now_ms) const {
  const EndpointState& ep = endpoints_[i];
  health::EndpointStatus st{.service = info_->name, .address = ep.info->address_text,
                            .state = health::State::kHealthy, .weight = ep.info->weight,
                            .ejections = 0};
  if (health_ == nullptr) return st;
  st.state = health_->StateOf(*ep.health, now_ms);
  st.ejections = ep.health->ejections();
  // The weight of the subset that serves its lane, as the balancer has it.
  const std::string& lane = ep.info->lane;
  for (const Subset& sub : subsets_) {
    if (sub.lane != lane) continue;
    auto it = std::find(sub.hosts.begin(), sub.hosts.end(), i);
    if (it != sub.hosts.end()) st.weight = sub.lb->Weight(int(it - sub.hosts.begin()));
    break;
  }
  return st;
}

bool ServiceState::TakeIdle(int i, std::shared_ptr<UpstreamConn>* out, uint64_t* stale_dropped) {
  std::vector<std::shared_ptr<UpstreamConn>>& idle = endpoints_[i].idle;
  while (!idle.empty()) {
    std::shared_ptr<UpstreamConn> c = std::move(idle.back());
    idle.pop_back();
    // Closed by its liveness wait: the upstream closed it while it sat here.
    if (c->stream.lowest_layer().is_open()) {
      c->idle = false;  // its wait stays pending: the response reads queue behind it
      *out = std::move(c);
      return true;
    }
    ++*stale_dropped;
  }
  return false;
}

void ServiceState::PutIdle(int i, std::shared_ptr<UpstreamConn>&& c, int64_t now_ms,
                           uint32_t max_idle) {
  std::vector<std::shared_ptr<UpstreamConn>>& idle = endpoints_[i].idle;
  if (retired_ || idle.size() >= max_idle || !c->Reusable()) {
    c.reset();  // closes it
    return;
  }
  c->since_ms = now_ms;
  c->idle = true;
  Watch(c);
  idle.push_back(std::move(c));
}

uint64_t ServiceState::SweepIdle(int64_t cutoff_ms) {
  uint64_t closed_by_peer = 0;
  for (EndpointState& ep : endpoints_) {
    std::erase_if(ep.idle, [&](const std::shared_ptr<UpstreamConn>& c) {
      if (!c->stream.lowest_layer().is_open()) {
        ++closed_by_peer;
        return true;
      }
      return c->since_ms < cutoff_ms;
    });
  }
  return closed_by_peer;
}

void ServiceState::AdoptIdle(ServiceState& old) {
  for (EndpointState& mine : endpoints_) {
    for (EndpointState& theirs : old.endpoints_) {
      if (theirs.info->address != mine.info->address) continue;
      for (auto& c : theirs.idle) mine.idle.push_back(std::move(c));
      theirs.idle.clear();
    }
  }
}

void WorkerUpstreams::Apply(std::shared_ptr<const Snapshot> snap, uint64_t seed,
                            health::HealthTable* health, int64_t now_ms) {
  std::vector<std::shared_ptr<ServiceState>> next;
  next.reserve(snap->services().size());
  const bool at_start = snap_ == nullptr;
  for (const ServiceInfo& info : snap->services()) {
    std::shared_ptr<health::ServiceHealth> sh;
    if (health != nullptr) {
      sh = health->Service(info.name);
      sh->SetPolicy(health::PolicyFor(snap->config(), info.name));
    }
    auto state = std::make_shared<ServiceState>(snap, info, seed, sh, now_ms, at_start);
    state->RefreshWeights(now_ms);
    if (snap_ != nullptr) {
      int old = snap_->FindService(info.name);
      if (old >= 0) state->AdoptIdle(*services_[old]);
    }
    next.push_back(std::move(state));
  }
  for (auto& s : services_) s->Retire();
  services_ = std::move(next);
  snap_ = std::move(snap);
  if (health != nullptr) health->Prune();
}

bool WorkerUpstreams::EvaluateHealth(int64_t now_ms) {
  bool changed = false;
  for (auto& s : services_) {
    if (s->health() != nullptr && s->health()->Evaluate(now_ms)) {
      s->RefreshWeights(now_ms);
      changed = true;
    }
  }
  return changed;
}

std::vector<health::EndpointStatus> WorkerUpstreams::Statuses(int64_t now_ms) const {
  std::vector<health::EndpointStatus> out;
  for (const auto& s : services_) {
    for (int i = 0; i < s->size(); ++i) out.push_back(s->Status(i, now_ms));
  }
  return out;
}

uint64_t WorkerUpstreams::SweepIdle(int64_t cutoff_ms) {
  uint64_t n = 0;
  for (auto& s : services_) n += s->SweepIdle(cutoff_ms);
  return n;
}

}  // namespace graymesh::proxy
