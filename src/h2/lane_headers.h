// The lane side of an HTTP/2 request: trust, carried values, loose mode and
// the headers sent on, as the HTTP/1.1 session does them
// (proxy/session_lane.cc), on a header list instead of a parsed HTTP/1.1
// head; the lane itself is chosen by the one function both use
// (proxy/lane_choice.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "h2/stream.h"
#include "proxy/worker.h"

namespace graymesh::h2 {

struct LaneRequest {
  std::string_view method;
  std::string_view path;  // with the query
  std::string_view client_ip;
  int service = -1;
  bool trusted = false;  // listener trust for this client
};

// Decides the lane of the request whose regular header fields are
// `headers` (lower-case names) and rewrites them as they go upstream: lane
// headers of untrusted clients dropped, x-graymesh-lane / baggage /
// traceparent / x-graymesh-source / x-forwarded-for set. Returns the lane
// ("" = base). Runs on the worker thread, no co_await inside.
std::string DecideLane(proxy::Worker& worker, const proxy::ListenerInfo& listener,
                       const LaneRequest& rq, std::vector<Header>* headers);

}  // namespace graymesh::h2
