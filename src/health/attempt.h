// What one upstream attempt came to. Every attempt of an HTTP or TCP session
// ends in exactly one AttemptResult, reported to one place
// (proxy::ServiceState::Report) that the balancer, the endpoint health and
// the counters all read.
#pragma once

#include <cstdint>

namespace graymesh::health {

enum class Outcome : uint8_t {
  kOk,           // a response head arrived (its status says more), or a TCP connect
  kConnectFail,  // refused or unreachable: nothing was sent
  kReset,        // the connection closed or reset under the request, or a bad response
  kTimeout,      // connect or response timeout
  kAborted,      // the client went away or sent a bad body: says nothing of the endpoint
};

struct AttemptResult {
  Outcome outcome = Outcome::kOk;
  uint16_t status = 0;      // the response status when outcome is kOk (0 for TCP)
  int64_t latency_ms = 0;   // from the attempt's start to the response head
  bool draining = false;    // the response carried `x-graymesh-draining: 1`
  int16_t grpc_status = -1;  // a gRPC response's grpc-status (trailers); -1 = none
};

// Network failures: what makes an endpoint suspect at once.
inline bool IsNetworkFailure(Outcome o) {
  return o == Outcome::kConnectFail || o == Outcome::kReset || o == Outcome::kTimeout;
}

}  // namespace graymesh::health
