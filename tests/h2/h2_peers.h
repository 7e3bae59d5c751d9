// Real HTTP/2 peers for the proxy's HTTP/2 tests: Node's http2 server
// (peers/h2_server.js) as an upstream, curl as a client, and a raw nghttp2
// client session for frames curl will not send (rapid resets).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace graymesh::test {

struct NodeH2Server {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;
  static NodeH2Server Start(const std::string& name);
};

struct CurlResult {
  int exit_code = -1;
  std::string out;  // curl -v output: "< header: value" lines, body, trailers
};
// Runs curl with `args` (-sS -v added) and collects stdout and stderr.
CurlResult Curl(const std::vector<std::string>& args);

// Small helpers the HTTP/2 tests share.
inline std::string Url(uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}
inline bool Has(const CurlResult& r, const std::string& text) {
  return r.out.find(text) != std::string::npos;
}
inline size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}
// A gateway config routing everything to service `app` at `port`, spoken to
// over HTTP/2; `extra` is appended (more services, sections).
inline std::string Http2ServiceAt(uint16_t port, const std::string& extra = "") {
  return "routes:\n  - { pathPrefix: /, service: app }\nservices:\n  - name: app\n"
         "    protocol: http2\n    endpoints:\n      - address: 127.0.0.1:" +
         std::to_string(port) + "\n" + extra;
}

// The path of a file in tests/h2/peers.
std::string PeerFile(const std::string& name);

}  // namespace graymesh::test
