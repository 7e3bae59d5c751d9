// Cost of one Pick() through the Balancer interface (virtual call included),
// for 2..1000 hosts with equal or unequal weights. Target: < 50 ns at 1000.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "lb/balancer.h"

namespace graymesh::lb {
namespace {

// range(0) = hosts, range(1) = 1 for unequal weights (1..100, spread out).
std::vector<uint32_t> Weights(const benchmark::State& state) {
  std::vector<uint32_t> w(state.range(0), 100);
  if (state.range(1)) {
    for (size_t i = 0; i < w.size(); ++i) w[i] = 1 + (i * 37) % 100;
  }
  return w;
}

void BM_RoundRobinPick(benchmark::State& state) {
  auto b = MakeRoundRobin(Weights(state), 1);
  for (auto _ : state) benchmark::DoNotOptimize(b->Pick());
}

void BM_LeastRequestPick(benchmark::State& state) {
  auto b = MakeLeastRequest(Weights(state), 1);
  for (auto _ : state) benchmark::DoNotOptimize(b->Pick());
}

// Pick plus its accounting, with ~n/4 requests in flight spread unevenly, so
// the active-count comparison is not always a tie.
void BM_LeastRequestPickStartFinish(benchmark::State& state) {
  auto b = MakeLeastRequest(Weights(state), 1);
  std::vector<int> ring(std::max<int64_t>(state.range(0) / 4, 1), -1);
  size_t next = 0;
  for (auto _ : state) {
    const int host = b->Pick();
    b->OnStart(host);
    if (ring[next] >= 0) b->OnFinish(ring[next]);
    ring[next] = host;
    next = next + 1 == ring.size() ? 0 : next + 1;
  }
}

void Hosts(benchmark::internal::Benchmark* b) {
  b->ArgNames({"hosts", "unequal"})->ArgsProduct({{2, 10, 100, 1000}, {0, 1}});
}

BENCHMARK(BM_RoundRobinPick)->Apply(Hosts);
BENCHMARK(BM_LeastRequestPick)->Apply(Hosts);
BENCHMARK(BM_LeastRequestPickStartFinish)->Apply(Hosts);

}  // namespace
}  // namespace graymesh::lb

BENCHMARK_MAIN();
