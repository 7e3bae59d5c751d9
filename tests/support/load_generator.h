// Steady load for lifecycle tests: a few keep-alive connections to one
// loopback port, each sending requests back to back (GET and POST in turn)
// with an optional pause, counting what came back. A failure is a non-2xx
// status, a socket error (connect refused, reset, no complete response), or
// a 2xx without `expect_in_body`, the way wrk with a counting script would
// see it. Threads of its own;
// Stop() joins them and returns the tally.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace graymesh::test {

struct LoadOptions {
  uint16_t port = 0;
  int connections = 4;
  std::chrono::milliseconds pause{5};  // after each response, per connection
  std::string get_target = "/checkout";
  std::string post_target = "/upload";  // "" = only GETs
  std::chrono::milliseconds timeout{5000};  // per response
  // When set, a 2xx whose body lacks this text counts as a failure: that a
  // request went the whole way (`"service":"data"` for the end of a chain).
  std::string expect_in_body;
};

struct LoadTally {
  uint64_t requests = 0;
  uint64_t ok = 0;             // 2xx
  uint64_t non_2xx = 0;        // includes a 2xx without expect_in_body
  uint64_t socket_errors = 0;  // no response at all
  uint64_t get_failures = 0;   // of the failures, GETs (idempotent)
  uint64_t posts = 0;          // POSTs sent (any outcome)
  uint64_t post_failures = 0;
  std::vector<std::string> examples;  // the first failures, for the test's message
  uint64_t failed() const { return non_2xx + socket_errors; }
  std::string Summary() const;
};

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Requests answered so far (any outcome); any thread.
  uint64_t requests() const { return requests_.load(); }
  // Waits until `n` more requests were answered, or `timeout`.
  bool WaitForMore(uint64_t n, std::chrono::milliseconds timeout) const;
  LoadTally Stop();

 private:
  void Loop(int index);
  void Record(bool get, bool ok, int status, const std::string& what);

  LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::mutex mu_;
  LoadTally tally_;
  std::vector<std::thread> threads_;
};

}  // namespace graymesh::test
