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

// The same no-match request deeper in the chain: the headers the rules read
// are not there, the values come carried in baggage (graymesh-h-*), so every
// absent header costs a look at the baggage members too.
void BM_MatchNoneCarried(benchmark::State& state) {
  const auto rules = EntranceRules::Compile(Lanes(), Scope{});
  Request rq("/catalog/items");
  rq.headers.resize(8);  // Host .. traceparent: none that a rule reads
  rq.view.headers = rq.headers;
  const std::string carried = "graymesh-h-x-user-id=" + rq.user +
                              ",graymesh-h-x-h0=val-none,graymesh-h-x-h1=pre-none-,"
                              "graymesh-h-x-h2=id-2-x,graymesh-h-x-h7=id-999-1";
  rq.view.carried = carried;
  rq.view.baggage = "userId=alice,graymesh-lane=gray";
  if (!rules->Match(rq.view).empty()) state.SkipWithError("unexpected match");
  for (auto _ : state) benchmark::DoNotOptimize(rules->Match(rq.view));
}

BENCHMARK(BM_MatchFortieth);
BENCHMARK(BM_MatchNone);
BENCHMARK(BM_MatchNoneCarried);

}  // namespace
}  // namespace graymesh::lane

BENCHMARK_MAIN();
