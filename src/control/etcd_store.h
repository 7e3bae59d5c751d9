// A replicated store on etcd (v3 JSON gateway over plain HTTP), so several
// `graymesh control` replicas share one registry, one rule set and one
// revision.
//
// Layout (keys and values base64 on the wire):
//   /graymesh/instances/{id}          instance JSON, attached to an etcd lease
//   /graymesh/rules/{kind}/{name}     {"spec": "...", "updatedAt": ms}
//   /graymesh/meta/store-id           the store's Id(), made by the first replica
//   /graymesh-events/{time}-{random}  a release event (JSON); outside
//                                     /graymesh/ so Read() skips them, but
//                                     watched: their writes move the revision
// The store revision is etcd's header.revision: it grows with every etcd
// write, so it can jump by more than one between two graymesh changes (and
// also moves for writes outside /graymesh/ on a shared cluster).
//
// Leases are etcd leases (one per instance, granted with the TTL at
// registration, kept alive by heartbeats); etcd deletes the key when one runs
// out, so ExpireLeases() returns nothing. A background watch on /graymesh/
// calls the change listener for writes made by any replica.
//
// Endpoints are tried in order; one that fails (connect, I/O, 5xx) makes the
// next one current.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/store.h"

namespace graymesh::control {

class EtcdStore : public Store {
 public:
  // `endpoints`: "http://host:port" each. Throws std::runtime_error when none
  // answers.
  EtcdStore(const std::vector<std::string>& endpoints, Millis lease_ttl);
  ~EtcdStore() override;

  int64_t Revision() override;
  StoreState Read() override;
  std::string Id() override { return id_; }
  bool Refilling() override { return created_; }
  void SetChangeListener(ChangeListener listener) override;

  RegisterResult Register(const InstanceSpec& spec, Millis ttl) override;
  bool KeepAlive(const std::string& id, Millis ttl) override;
  std::optional<Instance> SetState(const std::string& id, InstanceState state, Millis ttl) override;
  bool Deregister(const std::string& id) override;
  std::vector<std::string> ExpireLeases() override;
  std::optional<Instance> GetInstance(const std::string& id) override;
  std::vector<Instance> ListInstances(const std::string& service) override;

  std::vector<RuleChange> ApplyRules(const std::vector<Rule>& rules) override;
  std::optional<std::vector<RuleChange>> ApplyRulesIf(const std::vector<Rule>& rules,
                                                      const RuleGuard& guard) override;
  bool DeleteRule(const std::string& kind, const std::string& name) override;
  std::optional<Rule> GetRule(const std::string& kind, const std::string& name) override;
  std::vector<Rule> ListRules(const std::string& kind) override;

  uint64_t AppendEvent(const Event& e, size_t keep) override;
  std::vector<Event> ListEvents(int64_t since_ms, size_t limit) override;

 private:
  struct Endpoint {
    std::string host;
    std::string port;
    std::string url;
  };
  struct Reply {
    int status = 0;
    nlohmann::json body;
  };

  // POSTs to the current endpoint, moving on to the next on failure. Throws
  // std::runtime_error when every endpoint failed.
  Reply Call(const std::string& path, const nlohmann::json& body);
  // Call() that also requires 200 and records header.revision.
  nlohmann::json CallOk(const std::string& path, const nlohmann::json& body);
  // Deletes the oldest events past `keep`.
  void TrimEvents(size_t keep);
  nlohmann::json Range(const std::string& key, bool prefix);
  int64_t GrantLease(Millis ttl);
  bool KeepLease(int64_t lease);
  void Seen(int64_t revision, bool notify);
  void WatchLoop();

  // Creates /graymesh/meta/store-id unless a replica did; reads it.
  void LoadId();

  std::vector<Endpoint> endpoints_;
  std::string id_;
  bool created_ = false;  // this process made the store id: an empty registry
  std::atomic<size_t> current_{0};
  std::atomic<int64_t> revision_{0};
  std::mutex mu_;  // the listener
  ChangeListener listener_;
  std::mutex write_mu_;  // one read-modify-write at a time in this process
  std::atomic<uint64_t> events_appended_{0};
  std::atomic<bool> stop_{false};
  std::mutex fd_mu_;
  int watch_fd_ = -1;
  std::thread watcher_;
};

}  // namespace graymesh::control
