// The endpoint choice for one request or TCP connection, attempt by attempt,
// shared by Session and TcpSession: the lane's endpoints (or base ones where
// the lane falls back), never the endpoint the last attempt failed on while
// another is available, and the reason for the 503 when there is none.
// Lifetime: lives on the session's coroutine frame for one request and holds
// the ServiceState (and so the snapshot) that request pinned; `lane` points
// into that snapshot or the session's buffers.
#pragma once

#include <string>
#include <string_view>

#include "proxy/upstream.h"

namespace graymesh::proxy {

class EndpointChooser {
 public:
  EndpointChooser(ServiceState& svc, std::string_view lane, bool fallback_to_base)
      : svc_(svc), lane_(lane), fallback_(fallback_to_base) {}

  // The endpoint for the next attempt; host < 0 when there is none (then
  // Refusal() says why).
  Choice Next(int64_t now_ms);
  // The attempt on `c` failed and is tried again elsewhere.
  void Failed(const Choice& c) { exclude_ = c.host; }
  // Why no endpoint could be chosen, for a 503.
  std::string Refusal(int64_t now_ms) const;

 private:
  ServiceState& svc_;
  std::string_view lane_;
  bool fallback_;
  int exclude_ = -1;
  int attempts_ = 0;
};

}  // namespace graymesh::proxy
