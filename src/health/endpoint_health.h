// Per-endpoint health, as one worker sees it: outlier ejection, warmup,
// draining, and the suspect mark a failed attempt leaves for the retry.
//
// Lifetime: a worker's HealthTable keeps one ServiceHealth per service name
// and, in it, one EndpointHealth per endpoint address; snapshots come and go
// around them (proxy::ServiceState holds shared_ptrs), so an endpoint that
// stays in the next snapshot keeps its counters, ejection and warmup start.
// Threads: everything here belongs to one worker thread; no locks, no atomics.
// Time is the caller's (health::Clock), so tests drive it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "health/attempt.h"

namespace graymesh::health {

enum class State : uint8_t { kHealthy, kEjected, kWarming, kDraining };
const char* StateName(State s);

// What a service's endpoints are judged by. No outlier = no ejection (a failed
// attempt still makes its endpoint suspect for the retry); no warmup = full
// weight at once. enabled = false turns every reaction off.
struct HealthPolicy {
  bool enabled = true;
  std::optional<config::OutlierPolicy> outlier;
  std::optional<config::WarmupPolicy> warmup;
  int64_t suspect_ms = 1000;      // how long a network failure keeps an endpoint aside
  int64_t drain_hold_ms = 30000;  // how long a draining endpoint stays out of rotation
};

class EndpointHealth {
 public:
  EndpointHealth(std::string address, int64_t ready_since_ms)
      : address_(std::move(address)), ready_since_ms_(ready_since_ms) {}

  const std::string& address() const { return address_; }
  uint64_t ejections() const { return ejections_; }
  bool ejected(int64_t now) const { return ejected_until_ > now; }
  bool draining(int64_t now) const { return draining_until_ > now; }
  bool suspect(int64_t now) const { return suspect_until_ > now; }
  // Out of rotation by ejection or drain (a suspect one is only set aside).
  bool out(int64_t now) const { return ejected(now) || draining(now); }
  uint32_t consecutive_errors() const { return consecutive_; }

 private:
  friend class ServiceHealth;
  struct Bucket {
    int64_t epoch = -1;  // now / bucket length when it was last reset
    uint32_t requests = 0, errors = 0, slow = 0;
  };
  static constexpr int kBuckets = 10;

  std::string address_;
  int64_t ready_since_ms_;       // from the registry; 0 = static endpoint
  int64_t warm_since_ms_ = 0;    // warmup start; 0 = none running
  bool waiting_first_success_ = false;  // static endpoint added after start
  int64_t first_success_ms_ = 0;
  int64_t ejected_until_ = 0;
  int64_t draining_until_ = 0;
  int64_t suspect_until_ = 0;
  int64_t last_return_ms_ = 0;
  uint32_t times_ejected_ = 0;   // the multiplier of the ejection time
  uint64_t ejections_ = 0;       // total, for metrics
  uint32_t consecutive_ = 0;
  bool probation_ = false;       // returned from ejection: a failure ejects again at once
  bool was_warming_ = false;     // at the last Evaluate
  std::array<Bucket, kBuckets> window_{};
};

// One endpoint's state as the admin side and the traffic report read it.
struct EndpointStatus {
  std::string service;
  std::string address;
  State state = State::kHealthy;
  uint32_t weight = 0;  // effective: 0 when ejected or draining, ramped while warming
  uint64_t ejections = 0;
};

class ServiceHealth {
 public:
  // Called on ejections, returns and drains, for the log: (endpoint, what, detail).
  using Listener = std::function<void(const ServiceHealth&, const EndpointHealth&,
                                      std::string_view what, std::string_view detail)>;

  explicit ServiceHealth(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  const HealthPolicy& policy() const { return policy_; }
  void SetPolicy(HealthPolicy p) { policy_ = std::move(p); }
  void SetListener(Listener l) { listener_ = std::move(l); }

  // The entry for `address` (made on first sight), now a member of the
  // current snapshot. A later readySince means the instance restarted: its
  // drain mark goes and warmup starts again. `at_start`: the service is being
  // built for the first time (static endpoints then do not warm).
  std::shared_ptr<EndpointHealth> Join(const std::string& address, int64_t ready_since_ms,
                                       int64_t now, bool at_start);
  // The members of the current snapshot (the ones ejection caps count), in
  // endpoint order; entries of addresses that left are forgotten once no
  // snapshot holds them.
  void SetMembers(std::vector<std::shared_ptr<EndpointHealth>> members);
  const std::vector<std::shared_ptr<EndpointHealth>>& members() const { return members_; }

  // Counts one attempt. True when the endpoint's place in rotation changed
  // (ejected, draining, suspect, back), so weights need refreshing at once.
  bool Record(EndpointHealth& ep, const AttemptResult& r, int64_t now);
  // The ticker: error rates, slow calls, returns from ejection and drain.
  // True when any weight may have changed (warming endpoints ramp too).
  bool Evaluate(int64_t now);

  State StateOf(const EndpointHealth& ep, int64_t now) const;
  // 0 when out of rotation; `ramp` false when every endpoint of the subset is
  // warming (no ramp then: there is no one to take the load).
  uint32_t EffectiveWeight(const EndpointHealth& ep, uint32_t weight, int64_t now,
                           bool ramp) const;
  // Whether `ep` is still warming up.
  bool Warming(const EndpointHealth& ep, int64_t now) const;
  // The most endpoints that may be ejected at once.
  uint32_t MaxEjected() const;

 private:
  bool CountsAsError(const AttemptResult& r) const;
  bool Eject(EndpointHealth& ep, int64_t now, std::string_view why);
  void Emit(const EndpointHealth& ep, std::string_view what, std::string_view detail) const;

  std::string name_;
  HealthPolicy policy_;
  Listener listener_;
  std::unordered_map<std::string, std::weak_ptr<EndpointHealth>> by_address_;
  std::vector<std::shared_ptr<EndpointHealth>> members_;
};

// A worker's health state: one ServiceHealth per service name.
class HealthTable {
 public:
  std::shared_ptr<ServiceHealth> Service(const std::string& name);
  // Every known service's endpoints, with weights given by `weight_of`
  // (configured weight of a member by index), for /metrics and the report.
  const std::unordered_map<std::string, std::shared_ptr<ServiceHealth>>& services() const {
    return services_;
  }
  // Drops services no snapshot uses any more.
  void Prune();

 private:
  std::unordered_map<std::string, std::shared_ptr<ServiceHealth>> services_;
};

// Builds a service's policy from the configuration: its ServicePolicy's
// sections, else the static service's, and upstream.health.
HealthPolicy PolicyFor(const config::Config& cfg, const std::string& service);

}  // namespace graymesh::health
