// A running proxy: workers with their listeners, the admin endpoint, and the
// graceful stop. `graymesh gateway` and `graymesh proxy` both run one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/worker.h"

namespace graymesh::proxy {

struct ServerOptions {
  std::string admin_address;  // "" = no admin endpoint
  std::string role = "gateway";
  // SIGHUP: builds the configuration anew (e.g. re-reads the file). When it
  // throws, the error is logged and the running configuration stays.
  std::function<std::shared_ptr<const config::Config>()> reload;
  // GET /ready answers 200 only when this also says so (e.g. registered with
  // the control plane and holding a snapshot); null = always.
  std::function<bool()> ready;
  // Called once when the drain starts, before connections are closed.
  std::function<void()> on_drain;
};

class Server {
 public:
  Server(std::shared_ptr<const config::Config> cfg, ServerOptions options);
  ~Server();

  // Binds every listener on every worker; throws std::runtime_error naming the
  // address that failed.
  void Start();
  // Serves until SIGTERM/SIGINT or POST /drain, then drains and returns the
  // exit code (0 when every request in flight finished in time).
  int Run();

  // Swaps in a new configuration on every worker (listeners stay as started).
  // On the admin thread (Run's); ApplyAsync from any other thread.
  void Apply(std::shared_ptr<const config::Config> cfg);
  void ApplyAsync(std::shared_ptr<const config::Config> cfg);
  // Prometheus text of every worker's counters, summed.
  std::string MetricsText() const;
  std::string ConfigJson() const;
  // Every endpoint's health merged over workers (proxy/endpoint_status.h);
  // any thread. The traffic report's `endpoints` come from here.
  std::vector<health::EndpointStatus> EndpointStatuses() const;

 private:
  struct Admin;
  // Gateways: logs lanes whose entrance.gateway is none of this gateway's
  // listeners, once per change of that list.
  void WarnUnknownGateways(const config::Config& cfg);

  std::shared_ptr<const config::Config> cfg_;
  ServerOptions options_;
  uint64_t version_ = 1;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<lane::TraceLaneMap> traces_;
  std::function<void()> begin_drain_;  // set while Run() runs
  std::string gateway_warning_;        // the last one logged
};

}  // namespace graymesh::proxy
