// The embedded store: one SQLite file in WAL mode, its schema created on
// open, every change in one transaction that also bumps the revision.
//
// Leases live in memory, not in the file: a heartbeat then costs no write,
// and after a restart every stored instance gets a fresh lease of one TTL
// (the time its sidecar needs to heartbeat again) instead of being expired at
// once for the time the control plane was down.
//
// One process per file: two control planes on one file would each keep their
// own leases and revision cache.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "control/sqlite_db.h"
#include "control/store.h"

namespace graymesh::control {

class SqliteStore : public Store {
 public:
  // Opens or creates `path`. Throws std::runtime_error.
  SqliteStore(const std::string& path, Millis initial_lease);

  int64_t Revision() override;
  StoreState Read() override;
  std::string Id() override { return id_; }
  bool Refilling() override { return true; }
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
  using Clock = std::chrono::steady_clock;

  void CreateSchema();
  // Within a transaction: the next revision, written to the meta table.
  int64_t Bump();
  void Notify(int64_t revision);
  std::vector<Instance> SelectInstances(const std::string& where, const std::string& arg);
  std::vector<Rule> SelectRules(const std::string& where, const std::string& a,
                                const std::string& b);
  void WriteInstance(const Instance& inst);

  std::mutex mu_;
  sqlite::Db db_;
  int64_t revision_ = 0;
  std::string id_;  // meta 'store_id', made with the file
  std::unordered_map<std::string, Clock::time_point> leases_;
  ChangeListener listener_;
};

}  // namespace graymesh::control
