// A request for lane tests: owns nothing fancy, hands out a RequestView.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "lane/entrance.h"

namespace graymesh::lane::testing {

struct TestRequest {
  std::string_view method = "GET";
  std::string_view path = "/";
  std::string_view query;
  std::string_view client = "10.1.2.3";
  std::string_view source;
  std::string_view trace_id;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view carried;
  std::string_view baggage;

  RequestView View() const {
    RequestView rq;
    rq.method = method;
    rq.path = path;
    rq.query = query;
    rq.client_address = client;
    rq.source_service = source;
    rq.trace_id = trace_id;
    rq.headers = headers;
    rq.carried = carried;
    rq.baggage = baggage;
    return rq;
  }
};

}  // namespace graymesh::lane::testing
