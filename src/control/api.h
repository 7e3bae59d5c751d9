// The control plane's HTTP API (docs/control.md has every path, shape and
// status): the registry under /v1/instances and /v1/services, rules under
// /v1/apply and /v1/rules, the snapshot long poll at /v1/snapshot, plus
// /metrics and /healthz. Writes (POST, PUT, DELETE) need the bearer token
// when one is configured; reads are open.
//
// Thread-safety: all on the io_context thread of the HttpServer it serves.
#pragma once

#include <asio/awaitable.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>
#include <string>

#include "config/config.h"
#include "control/events.h"
#include "wire/gateway_listeners.h"
#include "control/store.h"
#include "control/traffic_store.h"
#include "control/watch_hub.h"
#include "net/http_server.h"

namespace graymesh::control {

class CanaryController;

inline constexpr uint64_t kMaxBodyBytes = 1 << 20;

struct ApiOptions {
  std::string token;  // "" = writes need no token
  std::chrono::seconds lease_ttl{15};
  // Unix ms until which the registry is filling (snapshot "fillingUntil");
  // 0 = not filling.
  int64_t filling_until_ms = 0;
};

struct ApiCounters {
  uint64_t applies_ok = 0;
  uint64_t applies_failed = 0;
  uint64_t registrations = 0;
  uint64_t deregistrations = 0;
  uint64_t lease_expirations = 0;
  uint64_t snapshots_served = 0;
  uint64_t unauthorized = 0;
  uint64_t reports_refused = 0;
  // Push latency: store change to the snapshot reply of a woken watcher.
  std::array<uint64_t, 8> push_buckets{};  // by kPushBounds, last = +Inf
  uint64_t pushes = 0;
  double push_seconds = 0;
};
inline constexpr std::array<double, 7> kPushBounds = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};

class Api {
 public:
  Api(Store& store, WatchHub& hub, ApiOptions options);

  asio::awaitable<net::HttpReply> Handle(const net::HttpRequest& req);

  ApiCounters& counters() { return counters_; }
  // Serves /v1/canaries; unset: 404. Must outlive the Api.
  void SetCanaries(CanaryController* canaries) { canaries_ = canaries; }
  // Release events recorded by the API's own writes and the lease sweep;
  // other parts of the control plane record theirs here too.
  EventLog& events() { return events_; }
  // Records an `expired` event for each instance whose lease ran out (the
  // store has already removed them; their service and lane are the ones
  // this process last saw).
  void LeasesExpired(const std::vector<std::string>& ids);
  // Forgets the instances the store no longer has: a store whose backend
  // expires leases itself (etcd) does not report those, and an instance
  // that moved its heartbeats to another replica is not deregistered here.
  // The control server calls it every lease TTL.
  void ForgetGoneInstances();
  TrafficStore& traffic() { return traffic_; }

 private:
  using Reply = net::HttpReply;
  using Request = net::HttpRequest;

  // api_instances.cc
  Reply Register(const Request& req);
  Reply Heartbeat(const std::string& id);
  Reply UpdateInstance(const std::string& id, const Request& req);
  Reply Deregister(const std::string& id);
  Reply ListInstances(const Request& req);
  nlohmann::json WithHealth(nlohmann::json instance) const;
  Reply GetInstance(const std::string& id);
  Reply ListServices();
  // api_canary.cc
  Reply Canaries(const std::vector<std::string>& seg, const Request& req);
  // Events for an instance going from `before` (nullopt = unknown) to `after`.
  void RecordInstanceChange(const std::optional<Instance>& before, const Instance& after);
  void RecordInstance(const char* kind, const Instance& inst, std::string detail);
  // api_rules.cc
  Reply ApplyRules(const Request& req);
  Reply ListRules(const std::string& kind);
  Reply GetRule(const std::string& kind, const std::string& name);
  Reply DeleteRule(const std::string& kind, const std::string& name);
  void RecordRule(const char* kind, const config::RuleDocument& doc, const char* change);
  // api_events.cc
  Reply ListEvents(const Request& req);
  // api_traffic.cc
  Reply Report(const Request& req);
  Reply Traffic(const Request& req);
  void CountPush(double seconds);
  std::string TrafficMetrics() const;
  // api.cc
  asio::awaitable<Reply> Snapshot(const Request& req);
  Reply Metrics();
  bool Authorized(const Request& req) const;
  // The snapshot JSON text of the store's current revision, built once per
  // revision however many watchers ask.
  std::shared_ptr<const std::string> SnapshotText();
  // Whether the snapshot at `version` shows what the one at `revision`
  // does: no snapshot change since `version` that this process built.
  bool SameContent(int64_t version, int64_t revision);

  Store& store_;
  WatchHub& hub_;
  ApiOptions options_;
  ApiCounters counters_;
  CanaryController* canaries_ = nullptr;
  EventLog events_;
  // Service and lane of every instance this process saw register, by id: an
  // expired instance is gone from the store when the sweep says so, and the
  // first registration seen after a restart is an event even when the store
  // knew the instance. Bounded by the registry: entries leave with
  // deregistration, expiry, or ForgetGoneInstances.
  std::map<std::string, std::pair<std::string, std::string>> known_instances_;
  wire::GatewayListeners gateways_;  // names sent by watching gateways
  TrafficStore traffic_;       // the proxies' reports (POST /v1/reports)
  int64_t cached_revision_ = -1;
  std::shared_ptr<const std::string> cached_snapshot_;  // shared by every reply of a revision
  // The revisions built whose snapshot reads as the cached one (the newest
  // 64), and the cached one without its version.
  std::set<int64_t> same_content_;
  std::string cached_content_;
};

// Helpers shared by the api_*.cc files.
net::HttpReply JsonReply(int status, const nlohmann::json& body);
// {"error": reason}, with the reason also in x-graymesh-reason.
net::HttpReply ErrorReply(int status, const std::string& reason);
nlohmann::json InstanceToJson(const Instance& inst);
nlohmann::json RuleToJson(const Rule& rule);
// api_console.cc: whether the client is a browser (Accept: text/html), and
// a console file by its path below /console ("/app.js").
bool WantsHtml(const net::HttpRequest& req);
net::HttpReply ConsoleFile(std::string_view path);
// Kubernetes label value rules: names go into URLs, headers and metrics.
bool IsLabelValue(const std::string& s);

}  // namespace graymesh::control
