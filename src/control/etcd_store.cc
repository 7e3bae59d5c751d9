#include "control/etcd_store.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <map>
#include <stdexcept>
#include <tuple>

namespace graymesh::control {
namespace {

using json = nlohmann::json;

constexpr const char* kPrefix = "/graymesh/";
constexpr const char* kInstances = "/graymesh/instances/";
constexpr const char* kRules = "/graymesh/rules/";
constexpr const char* kStoreIdKey = "/graymesh/meta/store-id";
// Outside kPrefix, so Read() does not carry them; the watch covers both.
constexpr const char* kEvents = "/graymesh-events/";
// The log is trimmed to its bound on every this many events a replica
// records, so it holds at most `keep` + this many per replica.
constexpr uint64_t kEventTrimEvery = 16;

std::string B64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string UnB64(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The end of the range of keys starting with `prefix`.
std::string PrefixEnd(std::string prefix) {
  prefix.back() = char(prefix.back() + 1);
  return prefix;
}

// The gateway encodes int64 as strings.
int64_t Int(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const json& v = j[key];
  if (v.is_number()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

int Connect(const std::string& host, const std::string& port, int timeout_s) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

// HTTP/1.0: the answer is never chunked and ends when the server closes.
std::string Request(const std::string& host, const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.0\r\nHost: " + host +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

json Kv(const json& kv, std::string* key) {
  *key = UnB64(kv.value("key", ""));
  return json::parse(UnB64(kv.value("value", "")), nullptr, false);
}

Instance ToInstance(const json& kv) {
  std::string key;
  json v = Kv(kv, &key);
  Instance i;
  i.id = key.substr(std::string(kInstances).size());
  if (!v.is_object()) return i;
  i.spec.service = v.value("service", "");
  i.spec.address = v.value("address", "");
  i.spec.lane = v.value("lane", "");
  if (v.contains("labels") && v["labels"].is_object()) {
    for (const auto& [k, x] : v["labels"].items()) {
      if (x.is_string()) i.spec.labels[k] = x.get<std::string>();
    }
  }
  i.spec.weight = v.value("weight", 100u);
  i.spec.state = ParseState(v.value("state", "ready")).value_or(InstanceState::kReady);
  i.registered_at_ms = v.value("registeredAt", int64_t{0});
  i.ready_since_ms = v.value("readySince", int64_t{0});
  i.revision = Int(kv, "mod_revision");
  return i;
}

json InstanceValue(const Instance& i) {
  return json{{"id", i.id},
              {"service", i.spec.service},
              {"address", i.spec.address},
              {"lane", i.spec.lane},
              {"labels", i.spec.labels},
              {"weight", i.spec.weight},
              {"state", StateName(i.spec.state)},
              {"registeredAt", i.registered_at_ms},
              {"readySince", i.ready_since_ms}};
}

Rule ToRule(const json& kv) {
  std::string key;
  json v = Kv(kv, &key);
  Rule r;
  std::string rest = key.substr(std::string(kRules).size());
  size_t slash = rest.find('/');
  r.kind = rest.substr(0, slash);
  r.name = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (v.is_object()) {
    r.spec_json = v.value("spec", "");
    r.updated_at_ms = v.value("updatedAt", int64_t{0});
  }
  r.revision = Int(kv, "mod_revision");
  return r;
}

std::string InstanceKey(const std::string& id) { return kInstances + id; }
std::string RuleKey(const std::string& kind, const std::string& name) {
  return std::string(kRules) + kind + "/" + name;
}

int64_t ReadySince(const Instance* before, InstanceState state, int64_t now) {
  if (state == InstanceState::kStarting || state == InstanceState::kUnhealthy) return 0;
  if (before == nullptr) return state == InstanceState::kReady ? now : 0;
  if (state == InstanceState::kReady && before->spec.state != InstanceState::kReady) return now;
  return before->ready_since_ms;
}

int64_t TtlSeconds(std::chrono::milliseconds ttl) {
  return std::max<int64_t>(1, (ttl.count() + 999) / 1000);
}

}  // namespace

EtcdStore::EtcdStore(const std::vector<std::string>& endpoints, Millis /*lease_ttl*/) {
  for (std::string url : endpoints) {
    std::string rest = url;
    if (rest.starts_with("http://")) rest = rest.substr(7);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    size_t colon = rest.rfind(':');
    if (rest.empty() || colon == std::string::npos || colon + 1 == rest.size()) {
      throw std::runtime_error("etcd endpoint " + url + ": expected http://HOST:PORT");
    }
    std::string host = rest.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    endpoints_.push_back(Endpoint{host, rest.substr(colon + 1), url});
  }
  if (endpoints_.empty()) throw std::runtime_error("etcd: no endpoints");
  json r = CallOk(
      "/v3/kv/range",
      json{{"key", B64(kPrefix)}, {"range_end", B64(PrefixEnd(kPrefix))}, {"count_only", true}});
  (void)r;
  LoadId();
  watcher_ = std::thread([this] { WatchLoop(); });
}

void EtcdStore::LoadId() {
  const std::string mine = NewStoreId();
  const std::string key = B64(kStoreIdKey);
  json txn{{"compare", json::array({json{{"key", key},
                                         {"target", "CREATE"},
                                         {"result", "EQUAL"},
                                         {"create_revision", "0"}}})},
           {"success", json::array({json{{"request_put", {{"key", key}, {"value", B64(mine)}}}}})},
           {"failure", json::array({json{{"request_range", {{"key", key}}}}})}};
  json t = CallOk("/v3/kv/txn", txn);
  if (t.value("succeeded", false)) {
    id_ = mine;
    created_ = true;
    return;
  }
  for (const json& resp : t.value("responses", json::array())) {
    json kvs = resp.value("response_range", json::object()).value("kvs", json::array());
    if (!kvs.empty()) id_ = UnB64(kvs[0].value("value", ""));
  }
  if (id_.empty()) throw std::runtime_error("etcd: cannot read " + std::string(kStoreIdKey));
}

EtcdStore::~EtcdStore() {
  stop_ = true;
  {
    std::lock_guard lock(fd_mu_);
    if (watch_fd_ >= 0) shutdown(watch_fd_, SHUT_RDWR);
  }
  if (watcher_.joinable()) watcher_.join();
}

EtcdStore::Reply EtcdStore::Call(const std::string& path, const json& body) {
  const std::string payload = body.dump();
  std::string last_error = "no endpoint";
  // Two rounds over the list: an election after a member died takes a moment.
  for (size_t attempt = 0; attempt < 2 * endpoints_.size() + 1; ++attempt) {
    const size_t idx = current_.load() % endpoints_.size();
    const Endpoint& ep = endpoints_[idx];
    auto fail = [&](const std::string& why) {
      last_error = ep.url + ": " + why;
      size_t expected = idx;
      current_.compare_exchange_strong(expected, (idx + 1) % endpoints_.size());
      if (attempt + 1 >= endpoints_.size())
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    };
    int fd = Connect(ep.host, ep.port, 5);
    if (fd < 0) {
      fail("cannot connect");
      continue;
    }
    std::string in;
    bool ok = SendAll(fd, Request(ep.host + ":" + ep.port, path, payload));
    char buf[16384];
    while (ok) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0) ok = false;
      if (n <= 0) break;
      in.append(buf, size_t(n));
    }
    close(fd);
    size_t head_end = in.find("\r\n\r\n");
    if (!ok || head_end == std::string::npos || in.size() < 12) {
      fail("no answer");
      continue;
    }
    Reply reply;
    reply.status = std::atoi(in.c_str() + in.find(' ') + 1);
    reply.body = json::parse(in.substr(head_end + 4), nullptr, false);
    if (reply.status >= 500) {
      fail("status " + std::to_string(reply.status) + " " + in.substr(head_end + 4, 200));
      continue;
    }
    return reply;
  }
  throw std::runtime_error("etcd: every endpoint failed, last " + last_error);
}

json EtcdStore::CallOk(const std::string& path, const json& body) {
  Reply r = Call(path, body);
  if (r.status != 200 || !r.body.is_object()) {
    throw std::runtime_error("etcd " + path + ": status " + std::to_string(r.status) + " " +
                             r.body.dump());
  }
  const json& result = r.body.contains("result") ? r.body["result"] : r.body;
  if (result.contains("header")) Seen(Int(result["header"], "revision"), false);
  return r.body;
}

// Every advance is announced, also one first seen in a read's header: the
// watch may deliver that event later, when it no longer moves the revision.
void EtcdStore::Seen(int64_t revision, bool /*notify*/) {
  int64_t before = revision_.load();
  while (revision > before && !revision_.compare_exchange_weak(before, revision)) {
  }
  if (revision <= before) return;
  ChangeListener listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (listener) listener(revision);
}

json EtcdStore::Range(const std::string& key, bool prefix) {
  json req{{"key", B64(key)}};
  if (prefix) req["range_end"] = B64(PrefixEnd(key));
  return CallOk("/v3/kv/range", req);
}

int64_t EtcdStore::GrantLease(Millis ttl) {
  json r = CallOk("/v3/lease/grant", json{{"TTL", TtlSeconds(ttl)}});
  int64_t id = Int(r, "ID");
  if (id == 0) throw std::runtime_error("etcd lease grant: no id in " + r.dump());
  return id;
}

bool EtcdStore::KeepLease(int64_t lease) {
  if (lease == 0) return false;
  Reply r = Call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}});
  if (r.status != 200) return false;
  const json& result = r.body.contains("result") ? r.body["result"] : r.body;
  return Int(result, "TTL") > 0;
}

int64_t EtcdStore::Revision() { return revision_.load(); }

void EtcdStore::SetChangeListener(ChangeListener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

StoreState EtcdStore::Read() {
  json r = Range(kPrefix, true);
  StoreState s;
  s.revision = Int(r.value("header", json::object()), "revision");
  for (const json& kv : r.value("kvs", json::array())) {
    std::string key = UnB64(kv.value("key", ""));
    if (key.starts_with(kInstances)) s.instances.push_back(ToInstance(kv));
    if (key.starts_with(kRules)) s.rules.push_back(ToRule(kv));
  }
  std::sort(s.instances.begin(), s.instances.end(), [](const Instance& a, const Instance& b) {
    return std::tie(a.spec.service, a.spec.address) < std::tie(b.spec.service, b.spec.address);
  });
  std::sort(s.rules.begin(), s.rules.end(), [](const Rule& a, const Rule& b) {
    return std::tie(a.kind, a.name) < std::tie(b.kind, b.name);
  });
  return s;
}

RegisterResult EtcdStore::Register(const InstanceSpec& spec, Millis ttl) {
  std::lock_guard wl(write_mu_);
  RegisterResult result;
  result.id = InstanceId(spec.service, spec.address);
  const std::string key = InstanceKey(result.id);
  for (int attempt = 0; attempt < 10; ++attempt) {
    json r = Range(key, false);
    const json kvs = r.value("kvs", json::array());
    std::optional<Instance> before;
    int64_t mod = 0, lease = 0;
    if (!kvs.empty()) {
      before = ToInstance(kvs[0]);
      mod = Int(kvs[0], "mod_revision");
      lease = Int(kvs[0], "lease");
    }
    const int64_t now = UnixMillis();
    Instance next;
    next.id = result.id;
    next.spec = spec;
    next.registered_at_ms = before ? before->registered_at_ms : now;
    next.ready_since_ms = ReadySince(before ? &*before : nullptr, spec.state, now);
    const bool same = before && before->spec.lane == spec.lane &&
                      before->spec.labels == spec.labels && before->spec.weight == spec.weight &&
                      before->spec.state == spec.state &&
                      before->ready_since_ms == next.ready_since_ms;
    result.created = !before;
    bool lease_alive = lease != 0 && KeepLease(lease);
    if (same && lease_alive) return result;
    if (!lease_alive) lease = GrantLease(ttl);
    json cmp = before ? json{{"key", B64(key)},
                             {"target", "MOD"},
                             {"result", "EQUAL"},
                             {"mod_revision", std::to_string(mod)}}
                      : json{{"key", B64(key)},
                             {"target", "CREATE"},
                             {"result", "EQUAL"},
                             {"create_revision", "0"}};
    json txn{{"compare", json::array({cmp})},
             {"success", json::array({json{{"request_put",
                                            {{"key", B64(key)},
                                             {"value", B64(InstanceValue(next).dump())},
                                             {"lease", std::to_string(lease)}}}}})}};
    Reply t = Call("/v3/kv/txn", txn);
    if (t.status != 200) continue;  // e.g. the lease ran out in between: grant again
    if (t.body.value("succeeded", false)) {
      Seen(Int(t.body.value("header", json::object()), "revision"), true);
      return result;
    }
  }
  throw std::runtime_error("etcd: register " + result.id + ": too many conflicts");
}

bool EtcdStore::KeepAlive(const std::string& id, Millis /*ttl*/) {
  json r = Range(InstanceKey(id), false);
  const json kvs = r.value("kvs", json::array());
  if (kvs.empty()) return false;
  return KeepLease(Int(kvs[0], "lease"));
}

std::optional<Instance> EtcdStore::SetState(const std::string& id, InstanceState state,
                                            Millis ttl) {
  std::lock_guard wl(write_mu_);
  const std::string key = InstanceKey(id);
  for (int attempt = 0; attempt < 10; ++attempt) {
    json r = Range(key, false);
    const json kvs = r.value("kvs", json::array());
    if (kvs.empty()) return std::nullopt;
    Instance before = ToInstance(kvs[0]);
    int64_t mod = Int(kvs[0], "mod_revision");
    int64_t lease = Int(kvs[0], "lease");
    Instance next = before;
    next.spec.state = state;
    next.ready_since_ms = ReadySince(&before, state, UnixMillis());
    bool lease_alive = KeepLease(lease);
    if (lease_alive && state == before.spec.state && next.ready_since_ms == before.ready_since_ms) {
      return next;
    }
    if (!lease_alive) lease = GrantLease(ttl);
    json txn{{"compare", json::array({json{{"key", B64(key)},
                                           {"target", "MOD"},
                                           {"result", "EQUAL"},
                                           {"mod_revision", std::to_string(mod)}}})},
             {"success", json::array({json{{"request_put",
                                            {{"key", B64(key)},
                                             {"value", B64(InstanceValue(next).dump())},
                                             {"lease", std::to_string(lease)}}}}})}};
    Reply t = Call("/v3/kv/txn", txn);
    if (t.status != 200 || !t.body.value("succeeded", false)) continue;
    next.revision = Int(t.body.value("header", json::object()), "revision");
    Seen(next.revision, true);
    return next;
  }
  throw std::runtime_error("etcd: state of " + id + ": too many conflicts");
}

bool EtcdStore::Deregister(const std::string& id) {
  std::lock_guard wl(write_mu_);
  json r = CallOk("/v3/kv/deleterange", json{{"key", B64(InstanceKey(id))}, {"prev_kv", true}});
  if (Int(r, "deleted") == 0) return false;
  const json kvs = r.value("prev_kvs", json::array());
  if (!kvs.empty() && Int(kvs[0], "lease") != 0) {
    try {
      Call("/v3/lease/revoke", json{{"ID", std::to_string(Int(kvs[0], "lease"))}});
    } catch (const std::exception&) {
      // it runs out by itself
    }
  }
  Seen(Int(r.value("header", json::object()), "revision"), true);
  return true;
}

std::vector<std::string> EtcdStore::ExpireLeases() { return {}; }

std::optional<Instance> EtcdStore::GetInstance(const std::string& id) {
  json r = Range(InstanceKey(id), false);
  const json kvs = r.value("kvs", json::array());
  if (kvs.empty()) return std::nullopt;
  return ToInstance(kvs[0]);
}

std::vector<Instance> EtcdStore::ListInstances(const std::string& service) {
  std::vector<Instance> out;
  for (Instance& i : Read().instances) {
    if (service.empty() || i.spec.service == service) out.push_back(std::move(i));
  }
  return out;
}

std::vector<RuleChange> EtcdStore::ApplyRules(const std::vector<Rule>& rules) {
  return *ApplyRulesIf(rules, {});
}

std::optional<std::vector<RuleChange>> EtcdStore::ApplyRulesIf(const std::vector<Rule>& rules,
                                                               const RuleGuard& guard) {
  std::lock_guard wl(write_mu_);
  for (int attempt = 0; attempt < 10; ++attempt) {
    json r = Range(kRules, true);
    std::map<std::string, std::pair<std::string, int64_t>> existing;  // key -> spec, mod
    for (const json& kv : r.value("kvs", json::array())) {
      Rule rule = ToRule(kv);
      existing[RuleKey(rule.kind, rule.name)] = {rule.spec_json, rule.revision};
    }
    std::vector<RuleChange> changes;
    json compare = json::array(), success = json::array();
    if (!guard.kind.empty()) {
      const std::string key = RuleKey(guard.kind, guard.name);
      auto g = existing.find(key);
      if ((g == existing.end() ? 0 : g->second.second) != guard.revision) return std::nullopt;
      compare.push_back(guard.revision == 0
                            ? json{{"key", B64(key)},
                                   {"target", "CREATE"},
                                   {"result", "EQUAL"},
                                   {"create_revision", "0"}}
                            : json{{"key", B64(key)},
                                   {"target", "MOD"},
                                   {"result", "EQUAL"},
                                   {"mod_revision", std::to_string(guard.revision)}});
    }
    const int64_t now = UnixMillis();
    for (const Rule& rule : rules) {
      const std::string key = RuleKey(rule.kind, rule.name);
      auto it = existing.find(key);
      if (it != existing.end() && it->second.first == rule.spec_json) {
        changes.push_back(RuleChange::kUnchanged);
        continue;
      }
      changes.push_back(it == existing.end() ? RuleChange::kCreated : RuleChange::kUpdated);
      compare.push_back(it == existing.end()
                            ? json{{"key", B64(key)},
                                   {"target", "CREATE"},
                                   {"result", "EQUAL"},
                                   {"create_revision", "0"}}
                            : json{{"key", B64(key)},
                                   {"target", "MOD"},
                                   {"result", "EQUAL"},
                                   {"mod_revision", std::to_string(it->second.second)}});
      json value{{"spec", rule.spec_json}, {"updatedAt", now}};
      success.push_back(json{{"request_put", {{"key", B64(key)}, {"value", B64(value.dump())}}}});
    }
    if (success.empty()) return changes;
    json t = CallOk("/v3/kv/txn", json{{"compare", compare}, {"success", success}});
    if (t.value("succeeded", false)) {
      Seen(Int(t.value("header", json::object()), "revision"), true);
      return changes;
    }
  }
  throw std::runtime_error("etcd: apply: too many conflicts");
}

bool EtcdStore::DeleteRule(const std::string& kind, const std::string& name) {
  std::lock_guard wl(write_mu_);
  json r = CallOk("/v3/kv/deleterange", json{{"key", B64(RuleKey(kind, name))}});
  if (Int(r, "deleted") == 0) return false;
  Seen(Int(r.value("header", json::object()), "revision"), true);
  return true;
}

std::optional<Rule> EtcdStore::GetRule(const std::string& kind, const std::string& name) {
  json r = Range(RuleKey(kind, name), false);
  const json kvs = r.value("kvs", json::array());
  if (kvs.empty()) return std::nullopt;
  return ToRule(kvs[0]);
}

std::vector<Rule> EtcdStore::ListRules(const std::string& kind) {
  std::vector<Rule> out;
  for (Rule& r : Read().rules) {
    if (kind.empty() || r.kind == kind) out.push_back(std::move(r));
  }
  return out;
}

// One streaming POST /v3/watch at a time; every answer line is one JSON
// object. On any failure: the next endpoint, from the last revision seen.
void EtcdStore::WatchLoop() {
  while (!stop_) {
    const size_t idx = current_.load() % endpoints_.size();
    const Endpoint& ep = endpoints_[idx];
    int fd = Connect(ep.host, ep.port, 5);
    if (fd >= 0) {
      timeval tick{0, 200000};  // to notice stop_
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
      {
        std::lock_guard lock(fd_mu_);
        watch_fd_ = fd;
      }
      // From kEvents ("/graymesh-", '-' sorts before '/') to the end of
      // kPrefix: an event is a write like any other, and every replica must
      // see the revision it makes, or their revisions (snapshot versions)
      // would differ until the next change.
      static_assert(std::string_view("/graymesh-events/") < std::string_view("/graymesh/"));
      json req{{"create_request",
                {{"key", B64(kEvents)},
                 {"range_end", B64(PrefixEnd(kPrefix))},
                 {"start_revision", std::to_string(revision_.load() + 1)}}}};
      bool ok = !stop_ && SendAll(fd, Request(ep.host + ":" + ep.port, "/v3/watch", req.dump()));
      std::string in;
      bool in_body = false;
      char buf[16384];
      while (ok && !stop_) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (n <= 0) break;
        in.append(buf, size_t(n));
        if (!in_body) {
          size_t head_end = in.find("\r\n\r\n");
          if (head_end == std::string::npos) continue;
          if (in.find(" 200") > in.find("\r\n")) break;
          in.erase(0, head_end + 4);
          in_body = true;
        }
        size_t nl;
        while ((nl = in.find('\n')) != std::string::npos) {
          json msg = json::parse(in.substr(0, nl), nullptr, false);
          in.erase(0, nl + 1);
          if (!msg.is_object()) continue;
          const json& result = msg.contains("result") ? msg["result"] : msg;
          if (Int(result, "compact_revision") > 0) {
            // Compacted past us: jump to now and let everyone re-read.
            Seen(Int(result.value("header", json::object()), "revision"), true);
            ok = false;
            break;
          }
          if (result.contains("events")) {
            Seen(Int(result.value("header", json::object()), "revision"), true);
          }
        }
      }
      {
        std::lock_guard lock(fd_mu_);
        watch_fd_ = -1;
      }
      close(fd);
      if (stop_) return;
      size_t expected = idx;
      current_.compare_exchange_strong(expected, (idx + 1) % endpoints_.size());
    }
    for (int i = 0; i < 5 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
}

// Event keys sort by time: {time ms, 16 digits}-{random}, so a `since`
// query is a key range and trimming deletes a key range.
uint64_t EtcdStore::AppendEvent(const Event& e, size_t keep) {
  const std::string key = fmt::format("{}{:016d}-{}", kEvents, std::max<int64_t>(0, e.time_ms),
                                      NewStoreId());
  const json value{{"timeMs", e.time_ms}, {"kind", e.kind},  {"service", e.service},
                   {"instance", e.instance}, {"lane", e.lane}, {"detail", e.detail}};
  const json r = CallOk("/v3/kv/put", json{{"key", B64(key)}, {"value", B64(value.dump())}});
  const uint64_t id = uint64_t(Int(r.value("header", json::object()), "revision"));
  if (events_appended_.fetch_add(1) % kEventTrimEvery == 0) TrimEvents(keep);
  return id;
}

void EtcdStore::TrimEvents(size_t keep) {
  const std::string end = PrefixEnd(kEvents);
  const json c = CallOk("/v3/kv/range", json{{"key", B64(kEvents)}, {"range_end", B64(end)},
                                               {"count_only", true}});
  const int64_t excess = Int(c, "count") - int64_t(keep);
  if (excess <= 0) return;
  const json old = CallOk("/v3/kv/range", json{{"key", B64(kEvents)},
                                                 {"range_end", B64(end)},
                                                 {"limit", excess},
                                                 {"keys_only", true}});
  const json kvs = old.value("kvs", json::array());
  if (kvs.empty()) return;
  // Up to and including the newest of the oldest `excess` keys.
  const std::string last = UnB64(kvs.back().value("key", ""));
  CallOk("/v3/kv/deleterange",
            json{{"key", B64(kEvents)}, {"range_end", B64(last + std::string(1, '\0'))}});
}

std::vector<Event> EtcdStore::ListEvents(int64_t since_ms, size_t limit) {
  const std::string from = fmt::format("{}{:016d}", kEvents, std::max<int64_t>(0, since_ms));
  const json r = CallOk("/v3/kv/range", json{{"key", B64(from)},
                                               {"range_end", B64(PrefixEnd(kEvents))},
                                               {"limit", int64_t(limit)},
                                               {"sort_order", "DESCEND"},
                                               {"sort_target", "KEY"}});
  std::vector<Event> out;
  for (const json& kv : r.value("kvs", json::array())) {
    std::string key;
    const json v = Kv(kv, &key);
    if (!v.is_object()) continue;
    out.push_back(Event{.id = uint64_t(Int(kv, "create_revision")),
                        .time_ms = v.value("timeMs", int64_t{0}),
                        .kind = v.value("kind", ""),
                        .service = v.value("service", ""),
                        .instance = v.value("instance", ""),
                        .lane = v.value("lane", ""),
                        .detail = v.value("detail", "")});
  }
  // Oldest first; within a millisecond, in the order written (the key's
  // random part says nothing about that).
  std::sort(out.begin(), out.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time_ms, a.id) < std::tie(b.time_ms, b.id);
  });
  return out;
}


}  // namespace graymesh::control
