// Load balancers. A worker owns its balancers: no locks, no atomics; hosts are
// indexes 0..n-1 into the endpoint list the balancer was built for. Weights are
// the input that warmup and outlier ejection change later (SetWeight).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace graymesh::lb {

class Balancer {
 public:
  virtual ~Balancer() = default;

  // Returns a host index, or -1 when every host has weight 0 or is `exclude`.
  // `exclude` (-1 = none) lets a retry avoid the host that just failed.
  virtual int Pick(int exclude = -1) = 0;

  // Request accounting, for least-request. Every Pick that is used must be
  // followed by OnStart and, later, exactly one OnFinish.
  virtual void OnStart(int host) {}
  virtual void OnFinish(int host) {}

  // 0 removes the host from rotation until it gets a weight again.
  virtual void SetWeight(int host, uint32_t weight) = 0;
  virtual uint32_t Weight(int host) const = 0;
  virtual int size() const = 0;
};

// Smooth weighted round robin via an earliest-deadline-first schedule
// (O(log n) a pick), deterministic for equal weights. `seed` offsets the start
// so workers do not all begin on host 0.
std::unique_ptr<Balancer> MakeRoundRobin(std::span<const uint32_t> weights, uint64_t seed);

// Power of two choices on active requests; candidates drawn in proportion to
// weight. `seed` feeds a small fast PRNG owned by the balancer.
std::unique_ptr<Balancer> MakeLeastRequest(std::span<const uint32_t> weights, uint64_t seed);

}  // namespace graymesh::lb
