// Heap allocations per request on the plain HTTP/1.1 path in steady state
// (issue 13: none): a real gateway, its mallocs counted by bench/alloc_count.c
// (LD_PRELOAD, a counter in a shared file mapping), under 16 keep-alive
// connections at once, so the frames of a burst of connections are in play
// (Asio's own frame cache keeps 16 per thread; before the session frame pool
// this gateway allocated about 8 times per request here).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "proxy/gateway_fixture.h"
#include "support/load_generator.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

uint64_t ReadCounter(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), sizeof(n));
  return n;
}

TEST(Allocations, NonePerRequestInSteadyState) {
  SampleApp app = SampleApp::Start("app");
  const uint16_t port = FreePort();
  const std::string config =
      WriteTempFile("alloc-gateway.yaml", "workers: 1\nlisteners:\n  - name: ingress\n"
                                          "    address: 127.0.0.1:" + std::to_string(port) +
                                              "\n" + OneServiceAt(app.port));
  const std::string counter = WriteTempFile("allocs", "");
  ChildProcess gw(GraymeshBin(), {"gateway", "--config", config, "--admin", "none"},
                  {std::string("LD_PRELOAD=") + GRAYMESH_ALLOC_COUNT_SO,
                   "GM_ALLOC_COUNT_FILE=" + counter});
  ASSERT_TRUE(WaitForPort(port, 5s)) << gw.Log();

  LoadGenerator load({.port = port, .connections = 16, .pause = 0ms, .get_target = "/",
                      .post_target = ""});
  ASSERT_TRUE(load.WaitForMore(1000, 30s));  // warm-up: pools, buffers, frames
  const uint64_t allocs_before = ReadCounter(counter);
  const uint64_t requests_before = load.requests();
  ASSERT_TRUE(load.WaitForMore(3000, 60s));
  const uint64_t allocs = ReadCounter(counter) - allocs_before;
  const uint64_t requests = load.requests() - requests_before;
  const LoadTally tally = load.Stop();
  EXPECT_EQ(tally.failed(), 0u) << tally.Summary();
  ASSERT_GT(allocs_before, 0u) << "the counter did not count: LD_PRELOAD not applied?";
  // Not 0: a worker's tick (endpoint health) allocates a little per second,
  // whatever the traffic.
  EXPECT_LT(double(allocs) / double(requests), 0.5)
      << allocs << " allocations over " << requests << " requests";
}

}  // namespace
}  // namespace graymesh::test
