// The control plane's state: registered instances with their leases, rule
// documents, and one global revision that grows with every committed change
// (by one on SQLite; by etcd's own count on etcd). SqliteStore (one local
// file) and EtcdStore (replicas sharing an etcd cluster) implement it, which
// is why leases and the revision belong to the store (etcd has both
// natively) rather than to the server.
//
// Thread-safety: implementations are safe to call from any thread. Calls may
// block (SQLite: a local transaction; etcd: a round trip).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/event.h"
#include "wire/instance_state.h"

namespace graymesh::control {

// The registry's states and clock are the wire's (src/wire), named here so
// the store's code reads them as its own.
using wire::InstanceState;
using wire::ParseState;
using wire::StateName;
using wire::UnixMillis;

// What an instance says about itself when it registers.
struct InstanceSpec {
  std::string service;
  std::string address;  // host:port of its sidecar's inbound listener
  std::string lane;     // "" = base; also labels["lane"] when set
  std::map<std::string, std::string> labels;
  uint32_t weight = 100;
  InstanceState state = InstanceState::kReady;
};

struct Instance {
  std::string id;
  InstanceSpec spec;
  int64_t registered_at_ms = 0;  // unix time of the first registration
  int64_t ready_since_ms = 0;    // unix time it last became ready; 0 = not ready yet
  int64_t revision = 0;          // store revision of its last change
};

// A validated rule document, its spec kept as canonical JSON text (the shape
// of the YAML `spec`, normalized by the parser).
struct Rule {
  std::string kind;  // "TrafficLane", "Route", "ServicePolicy"
  std::string name;
  std::string spec_json;
  int64_t revision = 0;       // of its last change (set by the store)
  int64_t updated_at_ms = 0;  // set by the store
};

// A consistent view: everything as of `revision`.
struct StoreState {
  int64_t revision = 0;
  std::vector<Instance> instances;  // by service, then address
  std::vector<Rule> rules;          // by kind, then name
};

struct RegisterResult {
  std::string id;
  bool created = false;  // false: (service, address) was known, same id
};

enum class RuleChange { kCreated, kUpdated, kUnchanged };

// A compare-and-set condition on one rule: its store revision (0 = absent).
struct RuleGuard {
  std::string kind;
  std::string name;
  int64_t revision = 0;
};

class Store {
 public:
  using Millis = std::chrono::milliseconds;
  // Called after every committed change with the new revision, on the thread
  // that made it (or, for a replicated store, a watch thread).
  using ChangeListener = std::function<void(int64_t revision)>;

  virtual ~Store() = default;

  virtual int64_t Revision() = 0;
  virtual StoreState Read() = 0;
  // A random id made once, when the store was created (16 hex digits). A
  // proxy that sees another id than before knows that the registry it had is
  // gone: it registers again at once and keeps its last-known endpoints for
  // the fill period (docs/control.md).
  virtual std::string Id() = 0;
  // Whether the registry this process serves was just emptied or reset, so
  // instances still have to come back: SQLite (leases live in memory and
  // restart with the process), or an etcd store this process created.
  virtual bool Refilling() = 0;
  virtual void SetChangeListener(ChangeListener listener) = 0;

  // ---- Registry ----
  // Registers, or updates the instance already known for (service, address)
  // keeping its id, and (re)starts its lease of `ttl`. The revision moves only
  // when something a snapshot shows changed.
  virtual RegisterResult Register(const InstanceSpec& spec, Millis ttl) = 0;
  // Renews the lease; false when the id is unknown (expired or never seen),
  // which tells the instance to register again. Not a change: no revision.
  virtual bool KeepAlive(const std::string& id, Millis ttl) = 0;
  // Sets the state (and readySince when it becomes ready); renews the lease.
  // nullopt when the id is unknown.
  virtual std::optional<Instance> SetState(const std::string& id, InstanceState state,
                                           Millis ttl) = 0;
  virtual bool Deregister(const std::string& id) = 0;
  // Removes the instances whose lease ran out; returns their ids. A store
  // whose backend expires leases itself may return nothing here.
  virtual std::vector<std::string> ExpireLeases() = 0;
  virtual std::optional<Instance> GetInstance(const std::string& id) = 0;
  virtual std::vector<Instance> ListInstances(const std::string& service) = 0;  // "" = all

  // ---- Rules ----
  // Stores every rule in one transaction: all or none. The revision moves
  // once, and only if some rule changed. Returns what happened to each.
  virtual std::vector<RuleChange> ApplyRules(const std::vector<Rule>& rules) = 0;
  // The same, only while the rule `guard` names is still at `guard.revision`
  // (0: still absent). nullopt, and nothing written, when it moved: another
  // writer (a second control-plane replica) got there first.
  virtual std::optional<std::vector<RuleChange>> ApplyRulesIf(const std::vector<Rule>& rules,
                                                              const RuleGuard& guard) = 0;
  virtual bool DeleteRule(const std::string& kind, const std::string& name) = 0;
  virtual std::optional<Rule> GetRule(const std::string& kind, const std::string& name) = 0;
  virtual std::vector<Rule> ListRules(const std::string& kind) = 0;  // "" = all

  // ---- Release events ----
  // Not changes of the mesh: they move no snapshot revision (SQLite), or
  // are written outside the watched prefix (etcd).
  // Appends `e` (time_ms as given) and keeps the newest `keep` events;
  // returns the id it got.
  virtual uint64_t AppendEvent(const Event& e, size_t keep) = 0;
  // Events with time_ms >= since_ms, oldest first; when more match, the
  // newest `limit` of them.
  virtual std::vector<Event> ListEvents(int64_t since_ms, size_t limit) = 0;
};

// Opens the store named by a URL: "sqlite:PATH" (created when missing).
// Throws std::runtime_error with the reason.
std::unique_ptr<Store> OpenStore(const std::string& url, std::chrono::milliseconds lease_ttl);

// The id of the instance at (service, address): stable across restarts and
// re-registrations, and the same on every replica without coordination.
std::string InstanceId(const std::string& service, const std::string& address);


// 16 random hex digits, for a new store's Id().
std::string NewStoreId();

}  // namespace graymesh::control
