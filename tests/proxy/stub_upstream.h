// A scripted upstream on a real loopback socket, for the failure modes a
// well-behaved app never shows: resets, garbage, closing idle connections.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace graymesh::test {

class StubUpstream {
 public:
  static constexpr int kSlowChunks = 20;
  enum class Mode {
    kOk,                // 200 "ok", keep-alive
    kCloseAfterRequest,  // reads the request head, closes without a byte
    kGarbage,           // answers bytes that are not HTTP
    kSlowChunked,       // 200, a chunked body of kSlowChunks 1 KiB chunks 10 ms apart
    kDraining,          // 200 "ok" with x-graymesh-draining: 1, as a draining sidecar answers
    // Answers a connection's first request (keep-alive), reads its second and
    // closes without a byte: a pooled connection closed just as it was reused.
    kCloseSecondRequest,
  };

  // `idle_close`: close a keep-alive connection idle this long (0 = never).
  explicit StubUpstream(Mode mode, std::chrono::milliseconds idle_close = {});
  ~StubUpstream();

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  Mode mode_;
  std::chrono::milliseconds idle_close_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

}  // namespace graymesh::test
