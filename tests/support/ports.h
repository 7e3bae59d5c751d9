// Loopback ports for tests.
#pragma once

#include <chrono>
#include <cstdint>

namespace graymesh::test {

// A port the kernel just handed out on 127.0.0.1 and that is free again now.
// Another process could take it before the test binds it, which is rare
// enough for tests (the kernel does not hand out recent ports right away).
uint16_t FreePort();

// Polls until something accepts connections on 127.0.0.1:port, up to `timeout`.
bool WaitForPort(uint16_t port, std::chrono::milliseconds timeout);

// A listening socket on 127.0.0.1 at a port the kernel picks (backlog 128);
// its port goes to *port. The caller owns (and closes) the descriptor.
int ListenOnLoopback(uint16_t* port);
// A port on 127.0.0.1 that refuses connections for as long as the object
// lives: bound, never listening, so no other test process can take it (a
// FreePort() meant to stay dead may be bound by a test running alongside).
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }
  operator uint16_t() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace graymesh::test
