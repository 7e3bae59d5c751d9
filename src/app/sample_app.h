// `graymesh sample-app`: the stand-in for a user service in the demo and the
// tests. It answers with JSON that names itself (service, lane, instance) and
// embeds the answers of the services it calls through the sidecar, so one
// response shows the whole path a request took. Writes (POST, PUT, PATCH)
// travel the same chain with their body (up to 1 MiB with --calls); the last
// service answers with the body's size and checksum. Special paths (/echo,
// /bytes, /chunked, /status, /sleep) give tests something to check.
#pragma once

#include <string>
#include <vector>

namespace graymesh::app {

struct SampleAppOptions {
  std::string name;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [V6]:PORT or :PORT
  std::string lane;                       // "" = base
  std::vector<std::string> calls;         // downstream services, called in order
  std::string via;                        // sidecar outbound HOST:PORT
  std::string propagate = "all";          // all | trace | none
  double fail_rate = 0;                   // share of requests answered 500
  int latency_ms = 0;                     // added before every answer
  int call_timeout_ms = 10000;            // per downstream call
  // Business headers the app itself passes on to its calls (a user or tenant
  // id), whatever --propagate says: what S3's routing rules match on.
  std::vector<std::string> forward_headers;
};

// Serves until SIGTERM/SIGINT, then finishes in-flight requests. Returns the
// process exit code.
int RunSampleApp(const SampleAppOptions& options);

}  // namespace graymesh::app
