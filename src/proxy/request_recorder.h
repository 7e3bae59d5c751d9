// What a worker records of each finished request: the labelled metrics
// (request_metrics.h) and, when the listener has one, an access-log line;
// and of each TCP entry connection, its labelled metrics (tcp_metrics.h).
// A session makes one Begin() when a request head is in and one Finish()
// when its response is done.
//
// Thread-safety: one per worker, used on that worker's thread only, except
// active_requests() (relaxed, any thread). Access-log lines stay in a
// per-worker buffer until FlushLogs (the worker's tick) hands them over.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/access_log.h"
#include "proxy/request_metrics.h"
#include "proxy/stats.h"
#include "proxy/tcp_metrics.h"

namespace graymesh::proxy {

// What the access log adds to a RequestRecord.
struct AccessFields {
  std::string_view trace_id;  // "" when the request carried none
  std::string_view method;
  std::string_view path;      // without the query
  std::string_view endpoint;  // upstream address that answered; "" = none
};

class RequestRecorder {
 public:
  using Clock = std::chrono::steady_clock;

  void SetAccessLog(AccessLogWriter* writer) { writer_ = writer; }

  Clock::time_point Begin() {
    active_.Add(1);
    return Clock::now();
  }
  // `access_sink` is the listener's AccessLogWriter sink, -1 = none.
  // `r.seconds` is filled in from `started`.
  void Finish(Clock::time_point started, RequestRecord r, int access_sink,
              const AccessFields& a);

  // A TCP entry connection ended; `r.seconds` is filled in from `started`
  // (the accept).
  void FinishTcp(Clock::time_point started, TcpRecord r) {
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    tcp_.Record(r);
  }

  // Hands buffered lines to the writer; also called with the worker stopped.
  void FlushLogs();

  const RequestMetrics& metrics() const { return metrics_; }
  const TcpMetrics& tcp_metrics() const { return tcp_; }
  int64_t active_requests() const { return active_.Get(); }

 private:
  void AppendLine(int sink, const RequestRecord& r, const AccessFields& a);

  RequestMetrics metrics_;
  TcpMetrics tcp_;
  Gauge active_;
  AccessLogWriter* writer_ = nullptr;
  std::vector<std::string> lines_;  // per sink
};

// Appends `s` to `out` as a JSON string body (no quotes).
void AppendJsonEscaped(std::string* out, std::string_view s);

}  // namespace graymesh::proxy
