// Proxy counters, declared once (X-macro) so metrics output and tests refer to
// them by name. Each worker owns a WorkerStats and is its only writer; the
// admin thread reads them with relaxed loads, so no increment is a locked
// instruction.
#pragma once

#include <atomic>
#include <cstdint>

namespace graymesh::proxy {

#define GRAYMESH_PROXY_COUNTERS(X)                                                 \
  X(downstream_cx_total, "client connections accepted")                           \
  X(downstream_rq_total, "requests received")                                     \
  X(downstream_rq_completed, "responses fully sent")                              \
  X(upstream_cx_total, "upstream connections opened")                             \
  X(upstream_cx_reused, "requests sent on a pooled upstream connection")          \
  X(upstream_cx_stale, "pooled connections found closed and dropped before use")  \
  X(upstream_cx_connect_fail, "upstream connects refused or failed")              \
  X(upstream_rq_retry, "requests retried on another endpoint")                    \
  X(upstream_rq_reset, "upstream connections closed or reset under a request")    \
  X(upstream_rq_timeout, "upstream connect or response timeouts")                 \
  X(upstream_ejections, "endpoints ejected by outlier detection")                 \
  X(rq_error_400, "malformed requests (400)")                                     \
  X(rq_error_404, "requests with no route (404)")                                 \
  X(rq_error_408, "client header timeouts (408)")                                 \
  X(rq_error_413, "request bodies over the limit (413)")                          \
  X(rq_error_431, "request heads over the limit (431)")                           \
  X(rq_error_501, "CONNECT requests refused (501)")                               \
  X(rq_error_502, "upstream failures (502)")                                      \
  X(rq_error_503, "no endpoint available (503)")                                  \
  X(rq_error_504, "upstream timeouts (504)")                                      \
  X(rq_error_505, "requests in an HTTP version other than 1.0 and 1.1 (505)")

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Add(int64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  int64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

struct WorkerStats {
#define GRAYMESH_DECLARE(name, help) Counter name;
  GRAYMESH_PROXY_COUNTERS(GRAYMESH_DECLARE)
#undef GRAYMESH_DECLARE
  Gauge downstream_cx_active;

  // Counts an error reply by its status.
  void CountError(int status);
};

}  // namespace graymesh::proxy
