// YAML -> Config. Every problem is reported as "FILE:LINE: path: reason" with
// the line of the offending node, and unknown keys are errors: a misspelt
// option silently falling back to its default is the worst failure mode of a
// proxy config, so the loader is deliberately unforgiving.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace graymesh::config {
namespace {

// yaml-cpp lines are 0-based; a null mark (-1) becomes 0, "no line".
int LineOf(const YAML::Mark& mark) { return mark.line + 1; }

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "\"" + n.Scalar() + "\"";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

class Parser {
 public:
  Parser(const std::string& file, const YAML::Node& root) : file_(file), root_(root) {}

  Config Parse(const YAML::Node& root);

 private:
  int LineOfNode(const YAML::Node& at) const;

  [[noreturn]] void Fail(const YAML::Node& at, const std::string& reason) const {
    throw ConfigError(file_, LineOfNode(at), reason);
  }
  [[noreturn]] void Fail(const YAML::Node& at, const std::string& path,
                         const std::string& reason) const {
    Fail(at, path + ": " + reason);
  }

  // Requires `node` to be a map (null counts as empty) whose keys are all in
  // `allowed`, each at most once (yaml-cpp itself accepts duplicate keys).
  void CheckMap(const YAML::Node& node, const std::string& path,
                std::initializer_list<std::string_view> allowed) const;
  // The items of a list; absent or null is an empty list.
  std::vector<YAML::Node> List(const YAML::Node& node, const std::string& path) const;

  std::string String(const YAML::Node& n, const std::string& path) const;
  std::string NonEmpty(const YAML::Node& n, const std::string& path) const;
  int64_t Integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const;
  Millis Duration(const YAML::Node& n, const std::string& path, bool allow_zero) const;
  uint64_t ByteSize(const YAML::Node& n, const std::string& path, uint64_t min,
                    uint64_t max) const;
  HostPort Address(const YAML::Node& n, const std::string& path) const;

  Service ParseService(const YAML::Node& n, const std::string& path) const;
  Endpoint ParseEndpoint(const YAML::Node& n, const std::string& path) const;
  Listener ParseListener(const YAML::Node& n, const std::string& path) const;
  Route ParseRoute(const YAML::Node& n, const std::string& path) const;
  void ParseTimeouts(const YAML::Node& n, Timeouts& t) const;
  void ParseLimits(const YAML::Node& n, Limits& l) const;
  void ParseUpstream(const YAML::Node& n, UpstreamOptions& u) const;

  const std::string& file_;
  const YAML::Node root_;
};

// Finds the mark of the key whose value is `target`. Aliases can make the
// node graph cyclic or exponentially wide, hence the depth limit (the schema
// is 7 levels deep) and the budget.
bool FindKeyOf(const YAML::Node& node, const YAML::Node& target, int depth, int& budget,
               YAML::Mark& out) {
  if (depth > 8 || --budget < 0) return false;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.second.is(target)) {
        out = kv.first.Mark();
        return true;
      }
      if (FindKeyOf(kv.second, target, depth + 1, budget, out)) return true;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (FindKeyOf(item, target, depth + 1, budget, out)) return true;
    }
  }
  return false;
}

// yaml-cpp marks an empty value ("service:" then a newline) at the next
// token, often on the next line; errors about it should point at its key.
int Parser::LineOfNode(const YAML::Node& at) const {
  YAML::Mark key_mark;
  int budget = 100'000;
  if (at.IsNull() && FindKeyOf(root_, at, 0, budget, key_mark)) return LineOf(key_mark);
  return LineOf(at.Mark());
}

void Parser::CheckMap(const YAML::Node& node, const std::string& path,
                      std::initializer_list<std::string_view> allowed) const {
  if (!node || node.IsNull()) return;
  if (!node.IsMap()) {
    Fail(node, path.empty() ? "top level" : path, "expected a map, got " + Describe(node));
  }
  const std::string where = path.empty() ? "at top level" : "in " + path;
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) Fail(key, "keys must be plain strings " + where);
    const std::string& k = key.Scalar();
    bool known = false;
    for (std::string_view a : allowed) known = known || a == k;
    if (!known) Fail(key, "unknown key \"" + k + "\" " + where);
    if (!seen.insert(k).second) Fail(key, "duplicate key \"" + k + "\" " + where);
  }
}

std::vector<YAML::Node> Parser::List(const YAML::Node& node, const std::string& path) const {
  // An absent key yields an invalid node that throws on most calls: test first.
  if (!node || node.IsNull()) return {};
  if (!node.IsSequence()) Fail(node, path, "expected a list, got " + Describe(node));
  return {node.begin(), node.end()};
}

std::string Parser::String(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) Fail(n, path, "expected a string, got " + Describe(n));
  return n.Scalar();
}

std::string Parser::NonEmpty(const YAML::Node& n, const std::string& path) const {
  std::string s = String(n, path);
  if (s.empty()) Fail(n, path, "must not be empty");
  return s;
}

int64_t Parser::Integer(const YAML::Node& n, const std::string& path, int64_t min,
                        int64_t max) const {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!n.IsScalar()) Fail(n, path, "expected an integer " + range + ", got " + Describe(n));
  const std::string& s = n.Scalar();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) Fail(n, path, "must be " + range + ", got " + s);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    Fail(n, path, "expected an integer " + range + ", got " + Describe(n));
  }
  if (v < min || v > max) Fail(n, path, "must be " + range + ", got " + s);
  return v;
}

Millis Parser::Duration(const YAML::Node& n, const std::string& path, bool allow_zero) const {
  if (!n.IsScalar()) Fail(n, path, "expected a duration, got " + Describe(n));
  Millis d;
  try {
    d = ParseDuration(n.Scalar());
  } catch (const std::invalid_argument& e) {
    Fail(n, path, e.what());
  }
  if (!allow_zero && d.count() == 0) Fail(n, path, "must be greater than 0");
  return d;
}

uint64_t Parser::ByteSize(const YAML::Node& n, const std::string& path, uint64_t min,
                          uint64_t max) const {
  if (!n.IsScalar()) Fail(n, path, "expected a byte size, got " + Describe(n));
  uint64_t v = 0;
  try {
    v = ParseByteSize(n.Scalar());
  } catch (const std::invalid_argument& e) {
    Fail(n, path, e.what());
  }
  if (v < min || v > max) {
    Fail(n, path, "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                      std::to_string(v));
  }
  return v;
}

// Ports must be real: 0 would mean "any port" for a listener (unreachable
// for clients) and is not connectable for an endpoint.
HostPort Parser::Address(const YAML::Node& n, const std::string& path) const {
  const std::string s = NonEmpty(n, path);
  HostPort hp;
  try {
    hp = ParseHostPort(s);
  } catch (const std::invalid_argument& e) {
    Fail(n, path, e.what());
  }
  if (hp.port == 0) Fail(n, path, "port must be 1..65535, got 0");
  return hp;
}

Endpoint Parser::ParseEndpoint(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path, {"address", "weight", "labels"});
  if (!n["address"]) Fail(n, path, "missing required key \"address\"");
  Endpoint e;
  e.address = Address(n["address"], path + ".address");
  if (n["weight"]) {
    e.weight = static_cast<uint32_t>(Integer(n["weight"], path + ".weight", 1, 10'000));
  }
  if (const YAML::Node labels = n["labels"]) {
    const std::string lpath = path + ".labels";
    if (!labels.IsNull() && !labels.IsMap()) {
      Fail(labels, lpath, "expected a map, got " + Describe(labels));
    }
    for (const auto& kv : labels) {
      const std::string key = NonEmpty(kv.first, lpath);
      const std::string kpath = lpath + "." + key;
      if (!e.labels.emplace(key, String(kv.second, kpath)).second) {
        Fail(kv.first, "duplicate key \"" + key + "\" in " + lpath);
      }
    }
  }
  if (auto it = e.labels.find("lane"); it != e.labels.end()) e.lane = it->second;
  return e;
}

Service Parser::ParseService(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path, {"name", "lb", "endpoints"});
  if (!n["name"]) Fail(n, path, "missing required key \"name\"");
  Service s;
  s.name = NonEmpty(n["name"], path + ".name");
  if (const YAML::Node lb = n["lb"]) {
    const std::string v = String(lb, path + ".lb");
    if (v == "round_robin") {
      s.lb = LbPolicy::kRoundRobin;
    } else if (v == "least_request") {
      s.lb = LbPolicy::kLeastRequest;
    } else {
      Fail(lb, path + ".lb", "must be round_robin or least_request, got \"" + v + "\"");
    }
  }
  // No endpoints is allowed: the control plane may fill them in later, and
  // requests meanwhile get 503.
  const std::string epath = path + ".endpoints";
  const std::vector<YAML::Node> eps = List(n["endpoints"], epath);
  for (size_t i = 0; i < eps.size(); ++i) {
    s.endpoints.push_back(ParseEndpoint(eps[i], Index(epath, i)));
  }
  return s;
}

Listener Parser::ParseListener(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path, {"name", "kind", "address", "service"});
  if (!n["name"]) Fail(n, path, "missing required key \"name\"");
  if (!n["address"]) Fail(n, path, "missing required key \"address\"");
  Listener l;
  l.name = NonEmpty(n["name"], path + ".name");
  if (const YAML::Node kind = n["kind"]) {
    const std::string v = String(kind, path + ".kind");
    if (v == "gateway") {
      l.kind = ListenerKind::kGateway;
    } else if (v == "inbound") {
      l.kind = ListenerKind::kInbound;
    } else if (v == "outbound") {
      l.kind = ListenerKind::kOutbound;
    } else {
      Fail(kind, path + ".kind", "must be gateway, inbound or outbound, got \"" + v + "\"");
    }
  }
  l.address = Address(n["address"], path + ".address");
  // The inbound service need not be in `services`: the sidecar adds the local
  // app itself. Other kinds ignore it, so setting it there is a mistake.
  if (const YAML::Node svc = n["service"]) {
    if (l.kind != ListenerKind::kInbound) {
      Fail(svc, path + ".service", "only valid for kind inbound");
    }
    l.service = NonEmpty(svc, path + ".service");
  } else if (l.kind == ListenerKind::kInbound) {
    Fail(n, path, "missing required key \"service\" (required for kind inbound)");
  }
  return l;
}

// Route hosts are stored lower-case (hosts are case-insensitive) and limited
// to what the matcher understands: an exact name or a "*." suffix pattern.
Route Parser::ParseRoute(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path, {"host", "pathPrefix", "service"});
  if (!n["service"]) Fail(n, path, "missing required key \"service\"");
  Route r;
  if (const YAML::Node host = n["host"]) {
    r.host = String(host, path + ".host");
    for (char& c : r.host) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    std::string_view name = r.host;
    if (name.starts_with("*.")) name.remove_prefix(2);
    bool ok = !name.empty() && name.front() != '.' && name.back() != '.';
    for (char c : name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
    }
    if (!r.host.empty() && !ok) {
      Fail(host, path + ".host",
           "must be a host name or \"*.suffix\" (no port), got \"" + host.Scalar() + "\"");
    }
  }
  if (const YAML::Node prefix = n["pathPrefix"]) {
    r.path_prefix = String(prefix, path + ".pathPrefix");
    if (!r.path_prefix.empty() && r.path_prefix[0] != '/') {
      Fail(prefix, path + ".pathPrefix", "must start with '/', got \"" + r.path_prefix + "\"");
    }
  }
  r.service = NonEmpty(n["service"], path + ".service");
  return r;
}

void Parser::ParseTimeouts(const YAML::Node& n, Timeouts& t) const {
  CheckMap(n, "timeouts", {"headerRead", "idle", "connect", "response", "drain"});
  if (n["headerRead"]) t.header_read = Duration(n["headerRead"], "timeouts.headerRead", false);
  if (n["idle"]) t.idle = Duration(n["idle"], "timeouts.idle", false);
  if (n["connect"]) t.connect = Duration(n["connect"], "timeouts.connect", false);
  if (n["response"]) t.response = Duration(n["response"], "timeouts.response", false);
  // drain 0 is meaningful: stop without waiting for in-flight requests.
  if (n["drain"]) t.drain = Duration(n["drain"], "timeouts.drain", true);
}

void Parser::ParseLimits(const YAML::Node& n, Limits& l) const {
  CheckMap(n, "limits", {"maxHeaderBytes", "maxBodyBytes", "maxConnections"});
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  // A head below 1Ki cannot hold a realistic request line plus Host.
  if (n["maxHeaderBytes"]) {
    l.max_header_bytes = ByteSize(n["maxHeaderBytes"], "limits.maxHeaderBytes", 1024, kU32);
  }
  if (n["maxBodyBytes"]) {
    l.max_body_bytes = ByteSize(n["maxBodyBytes"], "limits.maxBodyBytes", 0,
                                std::numeric_limits<uint64_t>::max());
  }
  if (n["maxConnections"]) {
    l.max_connections =
        static_cast<uint32_t>(Integer(n["maxConnections"], "limits.maxConnections", 1, kU32));
  }
}

void Parser::ParseUpstream(const YAML::Node& n, UpstreamOptions& u) const {
  CheckMap(n, "upstream", {"maxIdlePerEndpoint", "idleTimeout", "retries"});
  if (n["retries"]) {
    // 0 turns retries off: a refused or reset attempt is answered 502 at once.
    u.retries = static_cast<uint32_t>(Integer(n["retries"], "upstream.retries", 0, 5));
  }
  if (n["maxIdlePerEndpoint"]) {
    // 0 disables pooling: every request opens a fresh upstream connection.
    u.max_idle_per_endpoint = static_cast<uint32_t>(
        Integer(n["maxIdlePerEndpoint"], "upstream.maxIdlePerEndpoint", 0,
                std::numeric_limits<uint32_t>::max()));
  }
  if (n["idleTimeout"]) u.idle_timeout = Duration(n["idleTimeout"], "upstream.idleTimeout", false);
}

Config Parser::Parse(const YAML::Node& root) {
  CheckMap(root, "",
           {"workers", "listeners", "routes", "services", "timeouts", "limits", "upstream"});
  Config c;
  if (root.IsNull()) return c;  // an empty file is all defaults
  if (root["workers"]) c.workers = static_cast<int>(Integer(root["workers"], "workers", 0, 1024));

  const std::vector<YAML::Node> services = List(root["services"], "services");
  std::set<std::string> service_names;
  for (size_t i = 0; i < services.size(); ++i) {
    c.services.push_back(ParseService(services[i], Index("services", i)));
    if (!service_names.insert(c.services.back().name).second) {
      Fail(services[i]["name"], Index("services", i) + ".name",
           "duplicate service name \"" + c.services.back().name + "\"");
    }
  }

  const std::vector<YAML::Node> listeners = List(root["listeners"], "listeners");
  std::map<std::string, std::string> listener_names;  // name -> address
  std::map<std::string, std::string> addresses;       // address -> listener name
  for (size_t i = 0; i < listeners.size(); ++i) {
    const std::string path = Index("listeners", i);
    const Listener& l = c.listeners.emplace_back(ParseListener(listeners[i], path));
    if (!listener_names.emplace(l.name, l.address.ToString()).second) {
      Fail(listeners[i]["name"], path + ".name", "duplicate listener name \"" + l.name + "\"");
    }
    const auto [it, fresh] = addresses.emplace(l.address.ToString(), l.name);
    if (!fresh) {
      Fail(listeners[i]["address"], path + ".address",
           l.address.ToString() + " is already used by listener \"" + it->second + "\"");
    }
  }

  const std::vector<YAML::Node> routes = List(root["routes"], "routes");
  for (size_t i = 0; i < routes.size(); ++i) {
    const std::string path = Index("routes", i);
    const Route& r = c.routes.emplace_back(ParseRoute(routes[i], path));
    if (!service_names.contains(r.service)) {
      Fail(routes[i]["service"], path + ".service", "unknown service \"" + r.service + "\"");
    }
  }

  if (root["timeouts"]) ParseTimeouts(root["timeouts"], c.timeouts);
  if (root["limits"]) ParseLimits(root["limits"], c.limits);
  if (root["upstream"]) ParseUpstream(root["upstream"], c.upstream);
  return c;
}

}  // namespace

Config ParseConfig(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, LineOf(e.mark), "invalid YAML: " + e.msg);
  }
  try {
    return Parser(file, root).Parse(root);
  } catch (const YAML::Exception& e) {
    // Not expected (the parser checks node types first), but a yaml-cpp
    // exception must still surface as a ConfigError for the caller.
    throw ConfigError(file, LineOf(e.mark), e.msg);
  }
}

Config LoadConfigFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(errno));
  }
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  // fread on a directory opens fine and then fails with EISDIR.
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(err));
  return ParseConfig(text, path);
}

}  // namespace graymesh::config
