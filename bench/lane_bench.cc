// Cost of one EntranceRules::Match() over 50 lanes (exact, prefix, regex, in
// and sticky-percent conditions on headers, cookies and the path) for a
// 15-header request that matches the 40th lane, and one that matches none
// (every lane evaluated). Target: < 2 us for the no-match case.
#include <benchmark/benchmark.h>

#include "bench/lane_fixture.h"

namespace graymesh::lane {
namespace {

using namespace bench;

void BM_MatchFortieth(benchmark::State& state) {
  const auto rules = EntranceRules::Compile(Lanes(), Scope{});
  const Request rq("/svc39/orders");
  if (rules->Match(rq.view) != "tag-39") state.SkipWithError("wrong lane");
  for (auto _ : state) benchmark::DoNotOptimize(rules->Match(rq.view));
}

void BM_MatchNone(benchmark::State& state) {
  const auto rules = EntranceRules::Compile(Lanes(), Scope{});
  const Request rq("/catalog/items");
  if (!rules->Match(rq.view).empty()) state.SkipWithError("unexpected match");
  for (auto _ : state) benchmark::DoNotOptimize(rules->Match(rq.view));
}

BENCHMARK(BM_MatchFortieth);
BENCHMARK(BM_MatchNone);

}  // namespace
}  // namespace graymesh::lane

BENCHMARK_MAIN();
