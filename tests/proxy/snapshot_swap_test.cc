// A request keeps the configuration snapshot it started with: long streamed
// responses and retried requests while SIGHUP swaps snapshots many times a
// second. Under AddressSanitizer (the asan preset) a view into a freed
// snapshot shows as a heap-use-after-free in the gateway's log and a failed
// request here.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "proxy/gateway_fixture.h"
#include "proxy/stub_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

// Two services: `slow` streams a long chunked body, `flaky` has a dead
// endpoint next to a live one (so about every other request is retried).
// `weight` varies so every reload compiles a different snapshot.
std::string Config(uint16_t port, uint16_t slow, uint16_t dead, uint16_t live, int weight) {
  return "workers: 1\nlisteners:\n  - name: ingress\n    address: 127.0.0.1:" +
         std::to_string(port) +
         "\nroutes:\n  - { pathPrefix: /slow, service: slow }\n"
         "  - { pathPrefix: /, service: flaky }\n"
         "lanes:\n  - { name: gray, tag: gray, entrance: { match: [ { headers: { x-env: { exact: "
         "gray } } } ] } }\n"
         "services:\n  - name: slow\n    endpoints:\n      - address: 127.0.0.1:" +
         std::to_string(slow) + "\n        weight: " + std::to_string(weight) +
         "\n  - name: flaky\n    endpoints:\n      - address: 127.0.0.1:" + std::to_string(dead) +
         "\n      - address: 127.0.0.1:" + std::to_string(live) +
         "\n        weight: " + std::to_string(weight) + "\n        labels: { lane: gray }\n" +
         "      - address: 127.0.0.1:" + std::to_string(live) + "\n" +
         "upstream: { retries: 2, health: false }\n";
}

TEST(SnapshotSwap, RequestsInFlightKeepTheirSnapshot) {
  StubUpstream slow(StubUpstream::Mode::kSlowChunked);
  SampleApp live = SampleApp::Start("flaky");
  const RefusingPort dead;
  Gateway gw = Gateway::Start("");  // replaced below by the full file, then reloaded
  const std::string path = gw.config_path;
  // Replaced whole (written aside, then renamed over), as a deploy tool does:
  // a slow gateway may still be reading the file for the previous SIGHUP
  // while the next one is written, and must never read half of it.
  auto write = [&](int weight) {
    std::ofstream(path + ".new") << Config(gw.port, slow.port(), dead, live.port, weight);
    std::filesystem::rename(path + ".new", path);
  };
  write(100);
  gw.proc->Signal(SIGHUP);
  std::this_thread::sleep_for(200ms);

  std::atomic<bool> stop{false};
  std::atomic<int> streamed{0}, retried{0}, failed{0};
  std::mutex mu;
  std::string failures;  // what the failed requests got, for the failure message
  auto note = [&](const char* what, const Response& r) {
    ++failed;
    std::lock_guard<std::mutex> lock(mu);
    failures += std::string(what) + ": " + std::to_string(r.status) + " " +
                r.body.substr(0, 200) + " (" + std::to_string(r.body.size()) + " bytes)\n";
  };
  std::thread streamer([&] {
    while (!stop) {
      Response r = HttpGet(gw.port, "/slow", {{"x-env", "gray"}});
      if (r.status == 200 && r.body.size() == 1024u * StubUpstream::kSlowChunks) ++streamed;
      else note("GET /slow", r);
    }
  });
  std::thread caller([&] {
    for (int i = 0; !stop; ++i) {
      Response r = i % 2 ? HttpPost(gw.port, "/x", "body", {{"x-env", "gray"}})
                         : HttpGet(gw.port, "/x", {{"x-env", i % 4 ? "gray" : "base"}});
      if (r.status == 200) ++retried;
      else note(i % 2 ? "POST /x" : "GET /x", r);
    }
  });
  int swaps = 0;
  for (auto until = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < until;
       ++swaps) {
    write(100 + swaps % 7);
    gw.proc->Signal(SIGHUP);
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  streamer.join();
  caller.join();
  EXPECT_GT(swaps, 50);  // about 30 a second
  EXPECT_GT(streamed.load(), 5);
  EXPECT_GT(retried.load(), 20);
  EXPECT_EQ(failed.load(), 0) << failures;
  EXPECT_GE(gw.Metric("upstream_rq_retry"), 5u);
  EXPECT_TRUE(gw.proc->Running()) << gw.proc->Log();
  EXPECT_EQ(gw.proc->Log().find("AddressSanitizer"), std::string::npos) << gw.proc->Log();
}

}  // namespace
}  // namespace graymesh::test
