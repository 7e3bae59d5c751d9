// The data plane's side of the control plane (docs/design.md): registers this
// instance and keeps its lease alive, watches for snapshots and applies them,
// and keeps the last one on disk so a proxy starts and keeps routing while the
// control plane is down.
//
// After a control plane restart on an empty or new store (another store id
// in the snapshot) it registers again at once, and until the snapshot's
// fillingUntil it runs on the new snapshot plus the last-known endpoints and
// rules it lacks (wire::MergeForFill), then on the new snapshot as it is.
//
// Lossless start and stop (docs/lifecycle.md): the instance registers only
// once its app is ready (AppWatch, the rule a static sidecar's /ready
// follows too: the port accepts and, with a ready path, that path answers
// 2xx) and any delay has passed; while registered the app is probed twice a
// second, and after two failed probes in a row the instance is marked
// `unhealthy` (consumers stop choosing it) until it answers again.
// Draining() marks it `draining`; Deregister() removes it.
//
// Runs on threads of its own (watch, lease, the notifier that sends
// "draining" and the deregistration, and the AppWatch's): nothing here is on
// the request path. Snapshots reach the workers through the Apply callback.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "wire/api_client.h"

namespace graymesh::proxy {

struct ControlAgentOptions {
  // Control-plane replicas: calls go to one; after a failure, to the next.
  std::vector<wire::ControlUrl> urls;
  std::string token;
  std::string cache_path;  // last snapshot, replaced atomically; "" = none
  // Registration (sidecars): empty service = watch only (gateways).
  std::string service;
  std::string address;  // what other proxies reach this instance at
  std::string lane;
  std::map<std::string, std::string> labels;
  // The app: registration waits until it accepts connections ("" = no wait)
  // and, with a ready path, until GET ready_path answers 2xx.
  std::string app_address;
  std::string ready_path;
  // After the app is ready, before registering (slow starters' caches).
  std::chrono::milliseconds delay_registration{0};
  std::chrono::milliseconds probe_interval{500};
  std::chrono::milliseconds wait{10'000};  // long-poll wait asked of the server
  // Gateways: their listener names, sent on every watch so that the control
  // plane can warn about rules naming a listener no gateway has.
  std::vector<std::string> gateway_listeners;
};

class ControlAgent {
 public:
  // `compose` turns a snapshot JSON into the full configuration to run (it
  // adds what the snapshot does not hold: listeners, the local app).
  using Compose = std::function<config::Config(const std::string& snapshot_json)>;
  using Apply = std::function<void(std::shared_ptr<const config::Config>)>;

  ControlAgent(ControlAgentOptions options, Compose compose);
  ~ControlAgent();

  // The first configuration: from the control plane if it answers within
  // `timeout`, else from the cache file. Throws std::runtime_error when
  // neither is there (the message says both reasons).
  std::shared_ptr<const config::Config> Initial(std::chrono::milliseconds timeout);
  // The delay between the app being ready and registering (the flag, or the
  // snapshot's ServicePolicy); any thread, any time: a change before the
  // instance registers counts from when the app became ready.
  void SetDelayRegistration(std::chrono::milliseconds d);
  // Starts watching (and registering); later snapshots go to `apply`.
  void Start(Apply apply);
  // Drain: tell the control plane at once so consumers stop choosing us.
  // Returns at once; the call goes out on the agent's notifier thread (after
  // Start), so a control plane that hangs never blocks the caller.
  void Draining();
  // Leaves the registry (best effort) and registers no more. Returns at
  // once like Draining(), and is sent after it.
  void Deregister();
  // Deregister and stop the threads; waits for a deregistration in flight
  // (at most its 2 s timeout) and for an Apply call in progress. Once it
  // returns, `apply` is never called again and may be destroyed.
  void Stop();

  bool registered() const;
  bool has_snapshot() const;
  // The app passed its last probes (true without an app address).
  bool app_ready() const;
  // The registered instance's id; "" before registration. Any thread.
  std::string instance_id() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace graymesh::proxy
