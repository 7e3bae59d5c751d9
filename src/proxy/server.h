// A running proxy: workers with their listeners, the admin endpoint, and the
// graceful stop. `graymesh gateway` and `graymesh proxy` both run one.
//
// The drain (SIGTERM, SIGINT or POST /drain), lossless form (sidecars):
//   1. on_drain (the registry marks the instance draining); /ready says 503;
//      every response carries `connection: close`, entry-side ones also
//      `x-graymesh-draining: 1`; every listener keeps accepting;
//   2. once no request arrived on the entry side for `quiet`, the entry
//      listeners close, then their idle connections; requests in flight
//      finish;
//   3. with no entry-side connection left: on_entry_done (deregister, then
//      SIGTERM the app it runs);
//   4. the outbound side serves the app until it has exited (app_running),
//      or, without a child, until it sent nothing for `quiet`; then it
//      closes like the entry side and Run returns 0.
// Without `lossless` (gateways, `--no-drain`) every listener closes at once
// and idle connections with it. Either way the drain timeout ends it: TCP
// connections are half-closed and Run returns 1.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/access_log.h"
#include "proxy/metrics_text.h"
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
  // The drain steps above. Defaults: stop accepting at once.
  bool lossless = false;
  config::Millis quiet{1000};
  // The drain timeout; unset = drain_timeout_of, else the configuration's
  // timeouts.drain.
  std::optional<config::Millis> drain_timeout;
  // The drain timeout a configuration sets (sidecars: its ServicePolicy's
  // lossless.drainTimeout), read from the configuration running when the
  // drain starts, so a later snapshot's value applies; nullopt = none.
  std::function<std::optional<config::Millis>(const config::Config&)> drain_timeout_of;
  // Called once when no entry-side connection is left (also without lossless).
  std::function<void()> on_entry_done;
  // Whether the app the sidecar runs is still running; null = it runs none.
  // When it exits on its own, the drain starts.
  std::function<bool()> app_running;
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
  // Every worker's request series, merged, and the endpoints as worker 0
  // sees them. Any thread but a worker's; waits up to 2 s for the workers.
  TrafficSample CollectTraffic() const;
  // Every endpoint's health merged over workers (proxy/endpoint_status.h);
  // any thread. The traffic report's `endpoints` come from here.
  std::vector<health::EndpointStatus> EndpointStatuses() const;

 private:
  struct Admin;
  // Gateways: logs lanes whose entrance.gateway is none of this gateway's
  // listeners, once per change of that list.
  void WarnUnknownGateways(const config::Config& cfg);
  // Hands the stopped workers' last access-log lines over and stops the writer.
  void StopAccessLog();

  std::shared_ptr<const config::Config> cfg_;
  ServerOptions options_;
  uint64_t version_ = 1;
  std::unique_ptr<AccessLogWriter> access_log_;  // outlives the workers
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<lane::TraceLaneMap> traces_;
  std::function<void()> begin_drain_;  // set while Run() runs
  std::string gateway_warning_;        // the last one logged
};

}  // namespace graymesh::proxy
