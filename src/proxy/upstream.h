// Per-worker upstream state: for each service of the current snapshot, a
// balancer and, for each endpoint, a pool of idle keep-alive connections.
// Owned by one worker thread; nothing here is shared or locked.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lb/balancer.h"
#include "proxy/snapshot.h"

namespace graymesh::proxy {

struct IdleConn {
  asio::ip::tcp::socket socket;
  int64_t since_ms;
};

struct EndpointState {
  const EndpointInfo* info = nullptr;
  std::vector<IdleConn> idle;  // LIFO: the warmest connection is reused first
};

// A lane's share of a service's endpoints, with its own balancer.
struct Subset {
  std::string lane;        // "" = base
  std::vector<int> hosts;  // endpoint indexes
  std::unique_ptr<lb::Balancer> lb;
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
  ServiceState(std::shared_ptr<const Snapshot> snap, const ServiceInfo& info, uint64_t seed);

  const ServiceInfo& info() const { return *info_; }
  // An endpoint for a request in `lane` (docs/design.md, lane model): that lane's
  // endpoints; if it has none, base ones when `fallback_to_base`, else none.
  // Base requests go to base endpoints only; to any endpoint when the
  // service has none and its info says base_fallback_any_lane. `exclude`
  // (-1 = none) is the host a retry avoids. No lock, no allocation.
  Choice Pick(std::string_view lane, bool fallback_to_base, int exclude);
  void OnStart(const Choice& c) { subsets_[c.subset].lb->OnStart(c.slot); }
  void OnFinish(const Choice& c) { subsets_[c.subset].lb->OnFinish(c.slot); }
  // Whether any endpoint carries `lane`.
  bool HasLane(std::string_view lane) const;
  bool HasBase() const { return !subsets_[0].hosts.empty(); }
  EndpointState& endpoint(int i) { return endpoints_[i]; }
  int size() const { return int(endpoints_.size()); }

  // A live idle connection to endpoint `i`, or a closed socket when there is
  // none. Connections the upstream closed while idle are dropped here.
  bool TakeIdle(int i, asio::ip::tcp::socket* out, uint64_t* stale_dropped);
  // Returns a connection for reuse; closes it when the pool is full or retired.
  void PutIdle(int i, asio::ip::tcp::socket&& s, int64_t now_ms, uint32_t max_idle);
  // Closes connections idle since before `cutoff_ms`.
  void SweepIdle(int64_t cutoff_ms);

  // A newer snapshot replaced this one: connections returned later are closed.
  void Retire() { retired_ = true; }
  // Moves idle connections of endpoints with the same address from `old`.
  void AdoptIdle(ServiceState& old);

 private:
  std::shared_ptr<const Snapshot> snap_;
  const ServiceInfo* info_;
  std::vector<EndpointState> endpoints_;
  // [0] base, [1] every endpoint, then one per lane tag.
  std::vector<Subset> subsets_;
  bool retired_ = false;
};

// The services of one snapshot, as one worker sees them.
class WorkerUpstreams {
 public:
  // Switches to `snap`, carrying idle connections over to endpoints that stay.
  void Apply(std::shared_ptr<const Snapshot> snap, uint64_t seed);

  const Snapshot* snapshot() const { return snap_.get(); }
  // Shared so a request in flight keeps its service alive across a swap.
  const std::shared_ptr<ServiceState>& service(int i) const { return services_[i]; }
  void SweepIdle(int64_t cutoff_ms);

 private:
  std::shared_ptr<const Snapshot> snap_;
  std::vector<std::shared_ptr<ServiceState>> services_;
};

}  // namespace graymesh::proxy
