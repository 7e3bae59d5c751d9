// `graymesh control`: the store, the API server, the lease sweeper and the
// graceful stop, on one io_context thread.
#pragma once

#include <string>

namespace graymesh::control {

struct ControlOptions {
  std::string listen = "127.0.0.1:15010";
  std::string store = "sqlite:graymesh.db";
  std::string token_file;  // "" = writes need no token
  std::string lease_ttl = "15s";
  std::string header_read_timeout = "10s";
  std::string idle_timeout = "60s";
  // 0 = the open-file limit (raised to its hard value at start) less
  // net::kSpareDescriptors; a larger value is lowered to that with a warning.
  uint32_t max_connections = 0;
  // How long proxies keep their last-known endpoints and rules after they
  // see a store they did not know (docs/control.md); "" = lease_ttl, "0s" = off.
  std::string fill_period;
};

// Serves until SIGTERM/SIGINT. Returns the exit code: 0 after a clean stop,
// 1 when the store or the listener cannot be opened, 2 for bad options.
int RunControl(const ControlOptions& options);

}  // namespace graymesh::control
