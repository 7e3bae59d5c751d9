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
  // How long proxies keep their last-known endpoints and rules after they
  // see a store they did not know (docs/control.md); "" = lease_ttl, "0s" = off.
  std::string fill_period;
};

// Serves until SIGTERM/SIGINT. Returns the exit code: 0 after a clean stop,
// 1 when the store or the listener cannot be opened, 2 for bad options.
int RunControl(const ControlOptions& options);

}  // namespace graymesh::control
