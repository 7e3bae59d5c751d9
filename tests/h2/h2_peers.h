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

// The path of a file in tests/h2/peers.
std::string PeerFile(const std::string& name);

}  // namespace graymesh::test
