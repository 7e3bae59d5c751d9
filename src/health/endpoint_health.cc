#include "health/endpoint_health.h"

#include <algorithm>
#include <string>

#include "health/warmup.h"

namespace graymesh::health {

const char* StateName(State s) {
  switch (s) {
    case State::kHealthy: return "healthy";
    case State::kEjected: return "ejected";
    case State::kWarming: return "warming";
    case State::kDraining: return "draining";
  }
  return "healthy";
}

std::shared_ptr<EndpointHealth> ServiceHealth::Join(const std::string& address,
                                                    int64_t ready_since_ms, int64_t now,
                                                    bool at_start) {
  std::shared_ptr<EndpointHealth> ep;
  if (auto it = by_address_.find(address); it != by_address_.end()) ep = it->second.lock();
  if (ep == nullptr) {
    ep = std::make_shared<EndpointHealth>(address, ready_since_ms);
    by_address_[address] = ep;
    if (ready_since_ms > 0) {
      ep->warm_since_ms_ = ready_since_ms;
    } else if (!at_start) {
      ep->waiting_first_success_ = true;  // a static endpoint added later: warms from its first success
    }
    return ep;
  }
  if (ready_since_ms > ep->ready_since_ms_) {  // restarted (or ready again after a drain)
    ep->ready_since_ms_ = ready_since_ms;
    ep->warm_since_ms_ = ready_since_ms;
    if (ep->draining_until_ > now) Emit(*ep, "returned", "ready again in the registry");
    ep->draining_until_ = 0;
  }
  return ep;
}

void ServiceHealth::SetMembers(std::vector<std::shared_ptr<EndpointHealth>> members) {
  members_ = std::move(members);
  std::erase_if(by_address_, [](const auto& kv) { return kv.second.expired(); });
}

bool ServiceHealth::CountsAsError(const AttemptResult& r) const {
  if (IsNetworkFailure(r.outcome)) return true;
  if (r.outcome != Outcome::kOk || r.status == 0) return false;
  if (r.grpc_status > 0 && r.status == 200) {  // gRPC says how the call went
    const uint16_t g = uint16_t(r.grpc_status);
    if (policy_.outlier && policy_.outlier->error_grpc_statuses) {
      const auto& list = *policy_.outlier->error_grpc_statuses;
      return std::find(list.begin(), list.end(), g) != list.end();
    }
    const auto& list = config::kDefaultErrorGrpcStatuses;
    return std::find(list.begin(), list.end(), g) != list.end();
  }
  if (policy_.outlier && policy_.outlier->error_statuses) {
    const auto& list = *policy_.outlier->error_statuses;
    return std::find(list.begin(), list.end(), r.status) != list.end();
  }
  return r.status >= 500 && r.status <= 599;
}

uint32_t ServiceHealth::MaxEjected() const {
  if (!policy_.outlier || policy_.outlier->max_ejection_percent == 0) return 0;
  const size_t n = members_.size();
  if (n < 2) return 0;  // ejecting the only endpoint helps nobody
  return std::max<uint32_t>(1, uint32_t(n * policy_.outlier->max_ejection_percent / 100));
}

bool ServiceHealth::Eject(EndpointHealth& ep, int64_t now, std::string_view why) {
  if (ep.ejected(now)) return false;
  uint32_t ejected = 0;
  for (const auto& m : members_) ejected += m->ejected(now) ? 1 : 0;
  if (ejected >= MaxEjected()) return false;  // the cap: keep serving from what is left
  const config::OutlierPolicy& o = *policy_.outlier;
  ++ep.times_ejected_;
  const int64_t time =
      std::min<int64_t>(o.base_ejection.count() * ep.times_ejected_, o.max_ejection.count());
  ep.ejected_until_ = now + time;
  ++ep.ejections_;
  ep.consecutive_ = 0;
  ep.probation_ = false;
  ep.window_ = {};
  Emit(ep, "ejected", std::string(why) + " for " + std::to_string(time / 1000) + "s");
  return true;
}

bool ServiceHealth::Record(EndpointHealth& ep, const AttemptResult& r, int64_t now) {
  if (!policy_.enabled || r.outcome == Outcome::kAborted) return false;
  bool changed = false;
  if (r.draining && !ep.draining(now)) {
    ep.draining_until_ = now + policy_.drain_hold_ms;
    Emit(ep, "draining", "answered x-graymesh-draining");
    changed = true;
  }
  const bool error = CountsAsError(r);
  const config::OutlierPolicy* o = policy_.outlier ? &*policy_.outlier : nullptr;
  if (o != nullptr) {
    const int64_t bucket_ms = std::max<int64_t>(1, o->interval.count() / EndpointHealth::kBuckets);
    const int64_t epoch = now / bucket_ms;
    EndpointHealth::Bucket& b = ep.window_[size_t(epoch % EndpointHealth::kBuckets)];
    if (b.epoch != epoch) b = {.epoch = epoch};
    ++b.requests;
    b.errors += error ? 1 : 0;
    const bool slow = o->slow_call_threshold.count() > 0 && r.outcome == Outcome::kOk &&
                      r.latency_ms >= o->slow_call_threshold.count();
    b.slow += slow ? 1 : 0;
  }
  if (!error) {
    ep.consecutive_ = 0;
    ep.probation_ = false;
    if (ep.suspect_until_ != 0) {
      ep.suspect_until_ = 0;
      changed = true;
    }
    if (ep.first_success_ms_ == 0) {
      ep.first_success_ms_ = now;
      if (ep.waiting_first_success_) {
        ep.waiting_first_success_ = false;
        ep.warm_since_ms_ = now;
        changed = true;
      }
    }
    return changed;
  }
  ++ep.consecutive_;
  if (IsNetworkFailure(r.outcome) && !ep.suspect(now)) {
    ep.suspect_until_ = now + policy_.suspect_ms;
    changed = true;
  }
  if (o != nullptr) {
    if (ep.probation_) {
      changed |= Eject(ep, now, "failed on probation");
    } else if (o->consecutive_errors > 0 && ep.consecutive_ >= o->consecutive_errors) {
      changed |= Eject(ep, now, std::to_string(ep.consecutive_) + " consecutive errors");
    }
  }
  return changed;
}

bool ServiceHealth::Evaluate(int64_t now) {
  if (!policy_.enabled) return false;
  bool changed = false;
  const config::OutlierPolicy* o = policy_.outlier ? &*policy_.outlier : nullptr;
  for (const auto& m : members_) {
    EndpointHealth& ep = *m;
    if (ep.ejected_until_ != 0 && ep.ejected_until_ <= now) {
      ep.ejected_until_ = 0;
      ep.probation_ = true;
      ep.last_return_ms_ = now;
      if (policy_.warmup) ep.warm_since_ms_ = now;
      Emit(ep, "returned", "on probation");
      changed = true;
    }
    if (ep.draining_until_ != 0 && ep.draining_until_ <= now) {
      ep.draining_until_ = 0;
      ep.probation_ = true;
      if (policy_.warmup) ep.warm_since_ms_ = now;
      Emit(ep, "returned", "drain hold over");
      changed = true;
    }
    if (ep.suspect_until_ != 0 && ep.suspect_until_ <= now) {
      ep.suspect_until_ = 0;
      changed = true;
    }
    // Warming endpoints ramp every tick; the tick that ends the ramp sets
    // the full weight.
    const bool warming = Warming(ep, now);
    if (warming || ep.was_warming_) changed = true;
    ep.was_warming_ = warming;
    if (o == nullptr || ep.ejected(now)) continue;
    if (ep.times_ejected_ > 0 && ep.last_return_ms_ != 0 &&
        now - ep.last_return_ms_ >= o->max_ejection.count()) {
      ep.times_ejected_ = 0;  // healthy for a whole cap: the backoff starts over
    }
    const int64_t bucket_ms = std::max<int64_t>(1, o->interval.count() / EndpointHealth::kBuckets);
    const int64_t oldest = now / bucket_ms - EndpointHealth::kBuckets + 1;
    uint64_t requests = 0, errors = 0, slow = 0;
    for (const auto& b : ep.window_) {
      if (b.epoch < oldest) continue;
      requests += b.requests;
      errors += b.errors;
      slow += b.slow;
    }
    if (requests < o->min_requests || requests == 0) continue;
    if (o->error_rate_percent > 0 && errors * 100 >= requests * o->error_rate_percent) {
      changed |= Eject(ep, now, "error rate " + std::to_string(errors * 100 / requests) + "% of " +
                                    std::to_string(requests) + " requests");
    } else if (o->slow_call_threshold.count() > 0 &&
               slow * 100 >= requests * o->slow_call_percent) {
      changed |= Eject(ep, now, "slow calls " + std::to_string(slow * 100 / requests) + "% of " +
                                    std::to_string(requests) + " requests");
    }
  }
  return changed;
}

bool ServiceHealth::Warming(const EndpointHealth& ep, int64_t now) const {
  if (!policy_.enabled || !policy_.warmup) return false;
  if (ep.waiting_first_success_) return true;
  return WarmupFactor(*policy_.warmup, ep.warm_since_ms_, now) < 1.0;
}

State ServiceHealth::StateOf(const EndpointHealth& ep, int64_t now) const {
  if (!policy_.enabled) return State::kHealthy;
  if (ep.draining(now)) return State::kDraining;
  if (ep.ejected(now)) return State::kEjected;
  if (Warming(ep, now)) return State::kWarming;
  return State::kHealthy;
}

uint32_t ServiceHealth::EffectiveWeight(const EndpointHealth& ep, uint32_t weight, int64_t now,
                                        bool ramp) const {
  if (!policy_.enabled) return weight;
  if (ep.out(now) || ep.suspect(now)) return 0;
  if (!ramp || !policy_.warmup) return weight;
  if (ep.waiting_first_success_) {
    return WarmWeight(weight, policy_.warmup->min_weight_percent / 100.0);
  }
  return WarmWeight(weight, WarmupFactor(*policy_.warmup, ep.warm_since_ms_, now));
}

void ServiceHealth::Emit(const EndpointHealth& ep, std::string_view what,
                         std::string_view detail) const {
  if (listener_) listener_(*this, ep, what, detail);
}

std::shared_ptr<ServiceHealth> HealthTable::Service(const std::string& name) {
  auto& slot = services_[name];
  if (slot == nullptr) slot = std::make_shared<ServiceHealth>(name);
  return slot;
}

void HealthTable::Prune() {
  std::erase_if(services_, [](const auto& kv) { return kv.second.use_count() == 1; });
}

HealthPolicy PolicyFor(const config::Config& cfg, const std::string& service) {
  HealthPolicy p;
  p.enabled = cfg.upstream.health;
  // As long as the callee may take to drain; at least a second, so the mark
  // still means something with `drain: 0`.
  p.drain_hold_ms = std::max<int64_t>(1000, cfg.timeouts.drain.count());
  for (const config::Service& s : cfg.services) {
    if (s.name != service) continue;
    p.outlier = s.outlier;
    p.warmup = s.warmup;
  }
  for (const config::ServicePolicy& sp : cfg.policies) {
    if (sp.service != service) continue;
    if (sp.outlier) p.outlier = sp.outlier;
    if (sp.warmup) p.warmup = sp.warmup;
  }
  return p;
}

}  // namespace graymesh::health
