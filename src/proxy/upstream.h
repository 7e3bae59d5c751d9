// Per-worker upstream state: for each service of the current snapshot, a
// balancer per lane subset and, for each endpoint, a pool of idle keep-alive
// connections and its health (health/endpoint_health.h), which outlives the
// snapshot. Owned by one worker thread; nothing here is shared or locked.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "health/attempt.h"
#include "health/endpoint_health.h"
#include "lb/balancer.h"
#include "proxy/snapshot.h"
#include "proxy/stats.h"
#include "proxy/upstream_conn.h"

namespace graymesh::proxy {

struct EndpointState {
  const EndpointInfo* info = nullptr;
  // LIFO: the warmest connection is reused first. Each has its readability
  // wait pending (proxy/upstream_conn.h); one the upstream closed meanwhile
  // is already closed here and skipped by TakeIdle.
  std::vector<std::shared_ptr<UpstreamConn>> idle;
  // TLS services: the session to resume on the next connection (made on
  // the first one).
  std::shared_ptr<tls::SessionSlot> tls_session;
  std::shared_ptr<health::EndpointHealth> health;  // shared with later snapshots
};

// A lane's share of a service's endpoints, with its own balancer.
struct Subset {
  std::string lane;        // "" = base
  std::vector<int> hosts;  // endpoint indexes
  std::unique_ptr<lb::Balancer> lb;
  uint32_t last_resort = 0;  // rotates LastResort's choice
};

// An endpoint chosen for a request: `subset` and `slot` say whose balancer
// to tell when the request starts and ends.
struct Choice {
  int host = -1;
  int subset = -1;
  int slot = -1;
};

class ServiceState {
 public:
  // `snap` owns `info`; held so a request in flight outlives a swap.
  // `health` is this service's health on this worker (null: none kept).
  // `at_start`: the worker's first snapshot (static endpoints do not warm).
  ServiceState(std::shared_ptr<const Snapshot> snap, const ServiceInfo& info, uint64_t seed,
               std::shared_ptr<health::ServiceHealth> health = nullptr, int64_t now_ms = 0,
               bool at_start = true);

  const ServiceInfo& info() const { return *info_; }
  // The snapshot `info` belongs to.
  const Snapshot& snapshot() const { return *snap_; }
  // An endpoint for a request in `lane` (docs/design.md, lane model): that lane's
  // endpoints; if it has none, base ones when `fallback_to_base`, else none.
  // Base requests go to base endpoints only; to any endpoint when the
  // service has none and its info says base_fallback_any_lane. `exclude`
  // (-1 = none) is the host a retry avoids. With health on, ejected, draining
  // and suspect endpoints have weight 0: a lane whose endpoints are all out
  // falls back to base at once when `fallback_to_base`; failing that, an
  // endpoint that is only suspect (not ejected or draining) is taken rather
  // than none. No lock, no allocation.
  Choice Pick(std::string_view lane, bool fallback_to_base, int exclude, int64_t now_ms = 0);
  void OnStart(const Choice& c) { subsets_[c.subset].lb->OnStart(c.slot); }
  // The one place an attempt's result goes: the balancer (request done), the
  // endpoint's health (which may take it out of rotation at once) and the
  // counters. A draining endpoint's idle connections are closed here.
  void Report(const Choice& c, const health::AttemptResult& r, int64_t now_ms,
              WorkerStats& stats);
  // Sets every subset's balancer weights from configured weight and health
  // (ejection, drain, suspect, warmup).
  void RefreshWeights(int64_t now_ms);
  // Whether the lane has endpoints and every one of them is ejected or draining.
  bool LaneOut(std::string_view lane, int64_t now_ms) const;
  health::ServiceHealth* health() const { return health_.get(); }
  // This endpoint's state and effective weight now (for /metrics and /config).
  health::EndpointStatus Status(int i, int64_t now_ms) const;
  // Whether any endpoint carries `lane`.
  bool HasLane(std::string_view lane) const;
  bool HasBase() const { return !subsets_[0].hosts.empty(); }
  EndpointState& endpoint(int i) { return endpoints_[i]; }
  int size() const { return int(endpoints_.size()); }

  // A live idle connection to endpoint `i` into `out`; false (and `out`
  // untouched) when there is none. Connections the upstream closed while
  // idle are dropped here and counted in `stale_dropped`. No syscall.
  bool TakeIdle(int i, std::shared_ptr<UpstreamConn>* out, uint64_t* stale_dropped);
  // Returns a connection for reuse and arms its liveness wait; closes it when
  // the pool is full or retired, or (TLS) when its TLS layer holds anything.
  void PutIdle(int i, std::shared_ptr<UpstreamConn>&& c, int64_t now_ms, uint32_t max_idle);
  // Closes connections idle since before `cutoff_ms`, and drops those the
  // upstream closed: returns how many of those there were.
  uint64_t SweepIdle(int64_t cutoff_ms);
  // Closes every idle connection to endpoint `i`.
  void DropIdle(int i) { endpoints_[i].idle.clear(); }

  // A newer snapshot replaced this one: connections returned later are closed.
  void Retire() { retired_ = true; }
  // Moves idle connections of endpoints with the same address from `old`.
  void AdoptIdle(ServiceState& old);

 private:
  Choice PickIn(int s, int exclude);
  // An endpoint of subset `s` that is not ejected or draining, other than
  // `exclude`, ignoring the suspect mark; -1 host when none.
  Choice LastResort(int s, int exclude, int64_t now_ms);
  bool HealthOn() const { return health_ != nullptr && health_->policy().enabled; }

  std::shared_ptr<const Snapshot> snap_;
  const ServiceInfo* info_;
  std::vector<EndpointState> endpoints_;
  // [0] base, [1] every endpoint, then one per lane tag.
  std::vector<Subset> subsets_;
  std::shared_ptr<health::ServiceHealth> health_;
  bool retired_ = false;
};

// The services of one snapshot, as one worker sees them.
class WorkerUpstreams {
 public:
  // Switches to `snap`, carrying idle connections over to endpoints that stay;
  // endpoint health carries over by address (`health`, the worker's table).
  void Apply(std::shared_ptr<const Snapshot> snap, uint64_t seed,
             health::HealthTable* health = nullptr, int64_t now_ms = 0);
  // The ticker: lets each service's health judge its window and ramp warming
  // endpoints, and refreshes balancer weights where anything changed.
  // True when any endpoint's state or weight may have changed.
  bool EvaluateHealth(int64_t now_ms);
  // Every endpoint of the current snapshot, for /metrics and the report.
  std::vector<health::EndpointStatus> Statuses(int64_t now_ms) const;

  const Snapshot* snapshot() const { return snap_.get(); }
  const std::shared_ptr<const Snapshot>& snapshot_ptr() const { return snap_; }
  // Shared so a request in flight keeps its service alive across a swap.
  const std::shared_ptr<ServiceState>& service(int i) const { return services_[i]; }
  // What ServiceState::SweepIdle returns, summed (upstream_cx_stale).
  uint64_t SweepIdle(int64_t cutoff_ms);

 private:
  std::shared_ptr<const Snapshot> snap_;
  std::vector<std::shared_ptr<ServiceState>> services_;
};

}  // namespace graymesh::proxy
