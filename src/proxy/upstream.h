// Per-worker upstream state: for each service of the current snapshot, a
// balancer and, for each endpoint, a pool of idle keep-alive connections.
// Owned by one worker thread; nothing here is shared or locked.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
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

class ServiceState {
 public:
  // `snap` owns `info`; held so a request in flight outlives a swap.
  ServiceState(std::shared_ptr<const Snapshot> snap, const ServiceInfo& info, uint64_t seed);

  const ServiceInfo& info() const { return *info_; }
  lb::Balancer& balancer() { return *lb_; }
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
  std::unique_ptr<lb::Balancer> lb_;
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
