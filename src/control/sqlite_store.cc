#include "control/sqlite_store.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace graymesh::control {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1);
-- Starts at 1 so that a client asking for version 0 gets a snapshot at once.
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 1);
CREATE TABLE IF NOT EXISTS instances (
  id            TEXT PRIMARY KEY,
  service       TEXT NOT NULL,
  address       TEXT NOT NULL,
  lane          TEXT NOT NULL,
  labels        TEXT NOT NULL,   -- JSON object
  weight        INTEGER NOT NULL,
  state         TEXT NOT NULL,   -- starting | ready | draining | unhealthy
  registered_at INTEGER NOT NULL,  -- unix ms
  ready_since   INTEGER NOT NULL,  -- unix ms, 0 = not ready yet
  revision      INTEGER NOT NULL,
  UNIQUE (service, address)
);
CREATE TABLE IF NOT EXISTS rules (
  kind       TEXT NOT NULL,
  name       TEXT NOT NULL,
  spec       TEXT NOT NULL,      -- canonical JSON
  updated_at INTEGER NOT NULL,
  revision   INTEGER NOT NULL,
  PRIMARY KEY (kind, name)
);
-- Release events (GET /v1/events): not part of the revision. AUTOINCREMENT:
-- ids are never reused, also after the oldest rows were trimmed.
CREATE TABLE IF NOT EXISTS events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms  INTEGER NOT NULL,
  kind     TEXT NOT NULL,
  service  TEXT NOT NULL,
  instance TEXT NOT NULL,
  lane     TEXT NOT NULL,
  detail   TEXT NOT NULL
);
)sql";

constexpr const char* kInstanceColumns =
    "id, service, address, lane, labels, weight, state, registered_at, ready_since, revision";

std::string LabelsJson(const std::map<std::string, std::string>& labels) {
  return nlohmann::json(labels).dump();
}

std::map<std::string, std::string> ParseLabels(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

// readySince moves when the instance becomes ready, stays while it stays
// ready (a re-registration after a control-plane restart must not restart
// its warmup), and is cleared when it goes back to starting or turns unhealthy.
int64_t ReadySince(const Instance* before, InstanceState state, int64_t now) {
  if (state == InstanceState::kStarting || state == InstanceState::kUnhealthy) return 0;
  if (before == nullptr) return state == InstanceState::kReady ? now : 0;
  if (state == InstanceState::kReady && before->spec.state != InstanceState::kReady) return now;
  return before->ready_since_ms;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, Millis initial_lease) : db_(path) {
  // WAL: readers never block the writer. synchronous=FULL: a commit is on
  // disk when it returns; writes are rare (heartbeats only touch memory).
  db_.Exec("PRAGMA journal_mode=WAL");
  db_.Exec("PRAGMA synchronous=FULL");
  CreateSchema();
  sqlite::Stmt rev(db_, "SELECT value FROM meta WHERE key = 'revision'");
  if (!rev.Step()) throw std::runtime_error("sqlite " + path + ": no revision in meta table");
  revision_ = rev.Int(0);
  // The identity is made once, with the file (or on the first open of a file
  // made by an older graymesh); meta values are SQLite's dynamic type.
  sqlite::Stmt(db_, "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)")
      .Bind(1, NewStoreId())
      .Run();
  sqlite::Stmt id(db_, "SELECT value FROM meta WHERE key = 'store_id'");
  if (!id.Step()) throw std::runtime_error("sqlite " + path + ": no store_id in meta table");
  id_ = id.Text(0);
  const auto deadline = Clock::now() + initial_lease;
  for (const Instance& inst : SelectInstances("", "")) leases_[inst.id] = deadline;
}

void SqliteStore::CreateSchema() {
  sqlite::Transaction tx(db_);
  db_.Exec(kSchema);
  sqlite::Stmt schema(db_, "SELECT value FROM meta WHERE key = 'schema'");
  if (schema.Step() && schema.Int(0) != 1) {
    throw std::runtime_error(
        fmt::format("store schema version {} is newer than this graymesh (1)", schema.Int(0)));
  }
  tx.Commit();
}

int64_t SqliteStore::Bump() {
  sqlite::Stmt(db_, "UPDATE meta SET value = ? WHERE key = 'revision'")
      .Bind(1, revision_ + 1)
      .Run();
  return revision_ + 1;
}

void SqliteStore::Notify(int64_t revision) {
  ChangeListener listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (listener) listener(revision);
}

int64_t SqliteStore::Revision() {
  std::lock_guard lock(mu_);
  return revision_;
}

void SqliteStore::SetChangeListener(ChangeListener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

std::vector<Instance> SqliteStore::SelectInstances(const std::string& where,
                                                   const std::string& arg) {
  sqlite::Stmt q(db_, fmt::format("SELECT {} FROM instances {} ORDER BY service, address",
                                  kInstanceColumns, where));
  if (!where.empty()) q.Bind(1, arg);
  std::vector<Instance> out;
  while (q.Step()) {
    Instance& i = out.emplace_back();
    i.id = q.Text(0);
    i.spec.service = q.Text(1);
    i.spec.address = q.Text(2);
    i.spec.lane = q.Text(3);
    i.spec.labels = ParseLabels(q.Text(4));
    i.spec.weight = static_cast<uint32_t>(q.Int(5));
    i.spec.state = ParseState(q.Text(6)).value_or(InstanceState::kReady);
    i.registered_at_ms = q.Int(7);
    i.ready_since_ms = q.Int(8);
    i.revision = q.Int(9);
  }
  return out;
}

void SqliteStore::WriteInstance(const Instance& i) {
  sqlite::Stmt(db_, fmt::format("INSERT OR REPLACE INTO instances ({}) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                kInstanceColumns))
      .Bind(1, i.id)
      .Bind(2, i.spec.service)
      .Bind(3, i.spec.address)
      .Bind(4, i.spec.lane)
      .Bind(5, LabelsJson(i.spec.labels))
      .Bind(6, int64_t{i.spec.weight})
      .Bind(7, StateName(i.spec.state))
      .Bind(8, i.registered_at_ms)
      .Bind(9, i.ready_since_ms)
      .Bind(10, i.revision)
      .Run();
}

StoreState SqliteStore::Read() {
  std::lock_guard lock(mu_);
  StoreState s;
  s.revision = revision_;
  s.instances = SelectInstances("", "");
  s.rules = SelectRules("", "", "");
  return s;
}

RegisterResult SqliteStore::Register(const InstanceSpec& spec, Millis ttl) {
  RegisterResult result;
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    result.id = InstanceId(spec.service, spec.address);
    std::vector<Instance> found = SelectInstances("WHERE id = ?", result.id);
    const Instance* before = found.empty() ? nullptr : &found[0];
    const int64_t now = UnixMillis();
    Instance next;
    next.id = result.id;
    next.spec = spec;
    next.registered_at_ms = before != nullptr ? before->registered_at_ms : now;
    next.ready_since_ms = ReadySince(before, spec.state, now);
    const bool same = before != nullptr && before->spec.lane == spec.lane &&
                      before->spec.labels == spec.labels && before->spec.weight == spec.weight &&
                      before->spec.state == spec.state &&
                      before->ready_since_ms == next.ready_since_ms;
    if (!same) {
      sqlite::Transaction tx(db_);
      next.revision = Bump();
      WriteInstance(next);
      tx.Commit();
      changed = revision_ = next.revision;
    }
    result.created = before == nullptr;
    leases_[result.id] = Clock::now() + ttl;
  }
  if (changed != 0) Notify(changed);
  return result;
}

bool SqliteStore::KeepAlive(const std::string& id, Millis ttl) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  it->second = Clock::now() + ttl;
  return true;
}

std::optional<Instance> SqliteStore::SetState(const std::string& id, InstanceState state,
                                              Millis ttl) {
  std::optional<Instance> out;
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    std::vector<Instance> found = SelectInstances("WHERE id = ?", id);
    if (found.empty()) return std::nullopt;
    Instance next = found[0];
    next.spec.state = state;
    next.ready_since_ms = ReadySince(&found[0], state, UnixMillis());
    if (state != found[0].spec.state || next.ready_since_ms != found[0].ready_since_ms) {
      sqlite::Transaction tx(db_);
      next.revision = Bump();
      WriteInstance(next);
      tx.Commit();
      changed = revision_ = next.revision;
    }
    leases_[id] = Clock::now() + ttl;
    out = next;
  }
  if (changed != 0) Notify(changed);
  return out;
}

bool SqliteStore::Deregister(const std::string& id) {
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    if (SelectInstances("WHERE id = ?", id).empty()) return false;
    sqlite::Transaction tx(db_);
    sqlite::Stmt(db_, "DELETE FROM instances WHERE id = ?").Bind(1, id).Run();
    changed = Bump();
    tx.Commit();
    revision_ = changed;
    leases_.erase(id);
  }
  Notify(changed);
  return true;
}

std::vector<std::string> SqliteStore::ExpireLeases() {
  std::vector<std::string> expired;
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (const auto& [id, deadline] : leases_) {
      if (deadline <= now) expired.push_back(id);
    }
    if (expired.empty()) return expired;
    sqlite::Transaction tx(db_);
    for (const std::string& id : expired) {
      sqlite::Stmt(db_, "DELETE FROM instances WHERE id = ?").Bind(1, id).Run();
    }
    changed = Bump();
    tx.Commit();
    revision_ = changed;
    for (const std::string& id : expired) leases_.erase(id);
  }
  Notify(changed);
  return expired;
}

std::optional<Instance> SqliteStore::GetInstance(const std::string& id) {
  std::lock_guard lock(mu_);
  std::vector<Instance> found = SelectInstances("WHERE id = ?", id);
  if (found.empty()) return std::nullopt;
  return found[0];
}

std::vector<Instance> SqliteStore::ListInstances(const std::string& service) {
  std::lock_guard lock(mu_);
  return service.empty() ? SelectInstances("", "") : SelectInstances("WHERE service = ?", service);
}

std::vector<Rule> SqliteStore::SelectRules(const std::string& where, const std::string& a,
                                           const std::string& b) {
  sqlite::Stmt q(db_, fmt::format("SELECT kind, name, spec, revision, updated_at FROM rules {} "
                                  "ORDER BY kind, name",
                                  where));
  if (!where.empty()) q.Bind(1, a);
  if (!b.empty()) q.Bind(2, b);
  std::vector<Rule> out;
  while (q.Step()) {
    out.push_back(Rule{.kind = q.Text(0),
                       .name = q.Text(1),
                       .spec_json = q.Text(2),
                       .revision = q.Int(3),
                       .updated_at_ms = q.Int(4)});
  }
  return out;
}

std::vector<RuleChange> SqliteStore::ApplyRules(const std::vector<Rule>& rules) {
  return *ApplyRulesIf(rules, {});
}

std::optional<std::vector<RuleChange>> SqliteStore::ApplyRulesIf(const std::vector<Rule>& rules,
                                                                 const RuleGuard& guard) {
  std::vector<RuleChange> changes;
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    sqlite::Transaction tx(db_);
    if (!guard.kind.empty()) {
      std::vector<Rule> g = SelectRules("WHERE kind = ? AND name = ?", guard.kind, guard.name);
      if ((g.empty() ? 0 : g[0].revision) != guard.revision) return std::nullopt;
    }
    const int64_t next = revision_ + 1;
    const int64_t now = UnixMillis();
    for (const Rule& r : rules) {
      std::vector<Rule> found = SelectRules("WHERE kind = ? AND name = ?", r.kind, r.name);
      if (!found.empty() && found[0].spec_json == r.spec_json) {
        changes.push_back(RuleChange::kUnchanged);
        continue;
      }
      changes.push_back(found.empty() ? RuleChange::kCreated : RuleChange::kUpdated);
      sqlite::Stmt(db_,
                   "INSERT OR REPLACE INTO rules (kind, name, spec, updated_at, revision) "
                   "VALUES (?, ?, ?, ?, ?)")
          .Bind(1, r.kind)
          .Bind(2, r.name)
          .Bind(3, r.spec_json)
          .Bind(4, now)
          .Bind(5, next)
          .Run();
      changed = next;
    }
    if (changed == 0) return changes;  // the transaction rolls back: nothing was written
    Bump();
    tx.Commit();
    revision_ = changed;
  }
  Notify(changed);
  return changes;
}

bool SqliteStore::DeleteRule(const std::string& kind, const std::string& name) {
  int64_t changed = 0;
  {
    std::lock_guard lock(mu_);
    sqlite::Transaction tx(db_);
    sqlite::Stmt del(db_, "DELETE FROM rules WHERE kind = ? AND name = ?");
    del.Bind(1, kind).Bind(2, name).Run();
    if (sqlite3_changes(db_.handle()) == 0) return false;
    changed = Bump();
    tx.Commit();
    revision_ = changed;
  }
  Notify(changed);
  return true;
}

std::optional<Rule> SqliteStore::GetRule(const std::string& kind, const std::string& name) {
  std::lock_guard lock(mu_);
  std::vector<Rule> found = SelectRules("WHERE kind = ? AND name = ?", kind, name);
  if (found.empty()) return std::nullopt;
  return found[0];
}

std::vector<Rule> SqliteStore::ListRules(const std::string& kind) {
  std::lock_guard lock(mu_);
  return kind.empty() ? SelectRules("", "", "") : SelectRules("WHERE kind = ?", kind, "");
}

uint64_t SqliteStore::AppendEvent(const Event& e, size_t keep) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(db_);
  sqlite::Stmt ins(db_,
                   "INSERT INTO events (time_ms, kind, service, instance, lane, detail) "
                   "VALUES (?, ?, ?, ?, ?, ?) RETURNING id");
  ins.Bind(1, e.time_ms).Bind(2, e.kind).Bind(3, e.service).Bind(4, e.instance).Bind(5, e.lane);
  ins.Bind(6, e.detail);
  if (!ins.Step()) throw std::runtime_error("sqlite: event insert returned no id");
  const int64_t id = ins.Int(0);
  while (ins.Step()) {
  }
  // Ids are consecutive in one file, so the newest `keep` are the ids above this.
  sqlite::Stmt(db_, "DELETE FROM events WHERE id <= ?").Bind(1, id - int64_t(keep)).Run();
  tx.Commit();
  return uint64_t(id);
}

std::vector<Event> SqliteStore::ListEvents(int64_t since_ms, size_t limit) {
  std::lock_guard lock(mu_);
  sqlite::Stmt q(db_,
                 "SELECT id, time_ms, kind, service, instance, lane, detail FROM events "
                 "WHERE time_ms >= ? ORDER BY id DESC LIMIT ?");
  q.Bind(1, since_ms).Bind(2, int64_t(limit));
  std::vector<Event> out;
  while (q.Step()) {
    out.push_back(Event{.id = uint64_t(q.Int(0)),
                        .time_ms = q.Int(1),
                        .kind = q.Text(2),
                        .service = q.Text(3),
                        .instance = q.Text(4),
                        .lane = q.Text(5),
                        .detail = q.Text(6)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace graymesh::control
