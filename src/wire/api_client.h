// Talking to the control plane's API from a CLI: the control URL, and a
// blocking call built on net::HttpClient (one request on a private
// io_context; the CLI is not on any data path).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "net/http_server.h"

namespace graymesh::wire {

struct ControlUrl {
  std::string host;
  uint16_t port = 15010;
  std::string prefix;  // path before /v1, without trailing '/'
  std::string ToString() const;
};

// "http://127.0.0.1:15010", "http://cp.example:80/graymesh", "127.0.0.1:15010".
// Throws std::invalid_argument (https is not supported).
ControlUrl ParseControlUrl(const std::string& url);

struct ApiResult {
  int status = 0;  // 0: no response, see error
  std::string body;
  std::string error;  // transport error
};

// One request; `token` (when not empty) goes in Authorization: Bearer.
ApiResult CallControl(const ControlUrl& url, const std::string& token, const std::string& method,
                      const std::string& path, const std::string& body = "",
                      const net::HeaderList& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace graymesh::wire
