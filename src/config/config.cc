// YAML -> Config. Every problem is reported as "FILE:LINE: path: reason" with
// the line of the offending node, and unknown keys are errors: a misspelt
// option silently falling back to its default is the worst failure mode of a
// proxy config, so the loader is deliberately unforgiving.
#include <arpa/inet.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
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
#include "config/yaml_limits.h"

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

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 9110 token: what a header or cookie name may be made of.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsAlnum(c) && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// "10.1.2.3", "10.0.0.0/8", "::1", "fd00::/8". The matcher (src/lane/)
// parses these again; checking here gives the error a file and line.
bool IsIpOrCidr(const std::string& s) {
  const size_t slash = s.find('/');
  const std::string ip = s.substr(0, slash);
  unsigned char addr[16];
  int max_bits = 0;
  if (inet_pton(AF_INET, ip.c_str(), addr) == 1) {
    max_bits = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), addr) == 1) {
    max_bits = 128;
  } else {
    return false;
  }
  if (slash == std::string::npos) return true;
  const std::string_view bits = std::string_view(s).substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || bits[0] < '0' || bits[0] > '9') return false;
  int n = -1;
  auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  return ec == std::errc() && ptr == bits.data() + bits.size() && n <= max_bits;
}

constexpr const char* kOperators = "exact, prefix, regex, in, range or present";

// Which part of a request a named condition looks at; decides how names are
// checked and stored.
enum class NameKind { kHeader, kCookie, kQuery, kBaggage };

class Parser {
 public:
  Parser(const std::string& file, const YAML::Node& root) : file_(file), root_(root) {}

  Config Parse(const YAML::Node& root);
  // One `kind: TrafficLane` document; `names` collects lane names across
  // documents to reject repeats.
  Lane ParseLaneDocument(const YAML::Node& doc, std::set<std::string>& names) const;
  // One document of any rule kind; `out` gets kind and name as soon as they
  // are known, so an error can name the document.
  void ParseRuleDocument(const YAML::Node& doc, RuleDocument& out) const;

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
  Trust ParseListenerTrust(const YAML::Node& n, const std::string& path) const;
  Route ParseRoute(const YAML::Node& n, const std::string& path) const;
  void ParseTimeouts(const YAML::Node& n, Timeouts& t) const;
  void ParseLimits(const YAML::Node& n, Limits& l) const;
  void ParseUpstream(const YAML::Node& n, UpstreamOptions& u) const;

  // Lanes: the `lanes:` items of a config and the spec of a TrafficLane
  // document share everything below ParseLaneFields.
  std::string Label(const YAML::Node& n, const std::string& path) const;
  double Number(const YAML::Node& n, const std::string& path) const;
  Lane ParseLane(const YAML::Node& n, const std::string& path) const;
  void ParseLaneFields(const YAML::Node& n, const std::string& path, Lane& lane) const;
  void ParseEntrance(const YAML::Node& n, const std::string& path, Lane& lane) const;
  MatchClause ParseClause(const YAML::Node& n, const std::string& path) const;
  std::vector<std::pair<std::string, StringMatch>> ParseNamed(const YAML::Node& n,
                                                              const std::string& path,
                                                              NameKind kind) const;
  StringMatch ParseCondition(const YAML::Node& n, const std::string& path, bool address) const;
  std::string ParseStickyOn(const YAML::Node& n, const std::string& path) const;

  ServicePolicy ParsePolicySpec(const YAML::Node& n) const;
  CanarySpec ParseCanarySpec(const YAML::Node& n) const;
  WarmupPolicy ParseWarmup(const YAML::Node& n, const std::string& path) const;
  OutlierPolicy ParseOutlier(const YAML::Node& n, const std::string& path) const;
  BaseFallback ParseBaseFallback(const YAML::Node& n, const std::string& path) const;
  UpstreamProtocol ParseProtocol(const YAML::Node& n, const std::string& path) const;
  // `check_ca`: the CA file must be readable now (a static service's; a
  // policy's is checked on the proxy that uses it).
  UpstreamTls ParseUpstreamTls(const YAML::Node& n, const std::string& path, bool check_ca) const;
  uint32_t Percent(const YAML::Node& n, const std::string& path) const;

  const std::string& file_;
  const YAML::Node root_;
};

// Finds the mark of the key whose value is `target`. Aliases can make the
// node graph cyclic or exponentially wide, hence the depth limit (the schema
// is 9 levels deep: lanes[].entrance.match[].headers.NAME.range.min) and the
// budget.
bool FindKeyOf(const YAML::Node& node, const YAML::Node& target, int depth, int& budget,
               YAML::Mark& out) {
  if (depth > 10 || --budget < 0) return false;
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
  CheckMap(n, path,
           {"name", "lb", "endpoints", "baseFallback", "warmup", "outlier", "protocol", "tls"});
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
  if (const YAML::Node bf = n["baseFallback"]) {
    s.base_fallback = ParseBaseFallback(bf, path + ".baseFallback");
  }
  if (const YAML::Node w = n["warmup"]) s.warmup = ParseWarmup(w, path + ".warmup");
  if (const YAML::Node o = n["outlier"]) s.outlier = ParseOutlier(o, path + ".outlier");
  if (const YAML::Node pr = n["protocol"]) s.protocol = ParseProtocol(pr, path + ".protocol");
  if (const YAML::Node t = n["tls"]) s.tls = ParseUpstreamTls(t, path + ".tls", true);
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
  CheckMap(n, path, {"name", "kind", "address", "service", "trust", "accessLog", "tls"});
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
    } else if (v == "tcp") {
      l.kind = ListenerKind::kTcp;
    } else {
      Fail(kind, path + ".kind",
           "must be gateway, inbound, outbound or tcp, got \"" + v + "\"");
    }
  }
  l.address = Address(n["address"], path + ".address");
  // The inbound service need not be in `services`: the sidecar adds the local
  // app itself. A tcp listener forwards to a service of `services`. Other
  // kinds ignore it, so setting it there is a mistake.
  const bool wants_service = l.kind == ListenerKind::kInbound || l.kind == ListenerKind::kTcp;
  if (const YAML::Node svc = n["service"]) {
    if (!wants_service) Fail(svc, path + ".service", "only valid for kind inbound or tcp");
    l.service = NonEmpty(svc, path + ".service");
  } else if (wants_service) {
    Fail(n, path, "missing required key \"service\" (required for kind inbound and tcp)");
  }
  if (const YAML::Node trust = n["trust"]) l.trust = ParseListenerTrust(trust, path + ".trust");
  if (const YAML::Node log = n["accessLog"]) l.access_log = NonEmpty(log, path + ".accessLog");
  if (const YAML::Node tls = n["tls"]) {
    const std::string tpath = path + ".tls";
    if (l.kind != ListenerKind::kGateway) Fail(tls, tpath, "only valid for kind gateway");
    CheckMap(tls, tpath, {"cert", "key", "sni"});
    if (!tls["cert"] || !tls["key"]) Fail(tls, tpath, "needs both \"cert\" and \"key\"");
    Tls t;
    t.certs.push_back({"", NonEmpty(tls["cert"], tpath + ".cert"),
                       NonEmpty(tls["key"], tpath + ".key")});
    const std::vector<YAML::Node> sni = List(tls["sni"], tpath + ".sni");
    for (size_t i = 0; i < sni.size(); ++i) {
      const std::string spath = Index(tpath + ".sni", i);
      CheckMap(sni[i], spath, {"serverName", "cert", "key"});
      if (!sni[i]["serverName"] || !sni[i]["cert"] || !sni[i]["key"]) {
        Fail(sni[i], spath, "needs \"serverName\", \"cert\" and \"key\"");
      }
      t.certs.push_back({NonEmpty(sni[i]["serverName"], spath + ".serverName"),
                         NonEmpty(sni[i]["cert"], spath + ".cert"),
                         NonEmpty(sni[i]["key"], spath + ".key")});
    }
    l.tls = std::move(t);
  }
  return l;
}

// `trust: none | loopback | all` or a list of IPs/CIDRs.
Trust Parser::ParseListenerTrust(const YAML::Node& n, const std::string& path) const {
  if (n.IsSequence()) {
    Trust t{.mode = Trust::Mode::kCidrs, .cidrs = {}};
    const std::vector<YAML::Node> items = List(n, path);
    if (items.empty()) Fail(n, path, "must not be empty (use none)");
    for (size_t i = 0; i < items.size(); ++i) {
      t.cidrs.push_back(String(items[i], Index(path, i)));
      if (!IsIpOrCidr(t.cidrs.back())) {
        Fail(items[i], Index(path, i), "expected an IP address or CIDR, got \"" + t.cidrs.back() + "\"");
      }
    }
    return t;
  }
  const std::string v = String(n, path);
  if (v == "none") return {.mode = Trust::Mode::kNone, .cidrs = {}};
  if (v == "loopback") return {.mode = Trust::Mode::kLoopback, .cidrs = {}};
  if (v == "all") return {.mode = Trust::Mode::kAll, .cidrs = {}};
  Fail(n, path, "must be none, loopback, all or a list of IPs/CIDRs, got \"" + v + "\"");
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
  CheckMap(n, "upstream", {"maxIdlePerEndpoint", "idleTimeout", "retries", "health"});
  if (const YAML::Node h = n["health"]) {
    if (!h.IsScalar() || (h.Scalar() != "true" && h.Scalar() != "false")) {
      Fail(h, "upstream.health", "must be true or false, got \"" + h.Scalar() + "\"");
    }
    u.health = h.Scalar() == "true";
  }
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

// Lane names and tags travel in headers, baggage and metric labels, and tags
// are Kubernetes label values: same rules as those.
std::string Parser::Label(const YAML::Node& n, const std::string& path) const {
  const std::string s = NonEmpty(n, path);
  bool ok = s.size() <= 63 && IsAlnum(s.front()) && IsAlnum(s.back());
  for (char c : s) ok = ok && (IsAlnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    Fail(n, path,
         "must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter "
         "or digit, got \"" + s + "\"");
  }
  return s;
}

double Parser::Number(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) Fail(n, path, "expected a number, got " + Describe(n));
  const std::string& s = n.Scalar();
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(v)) {
    Fail(n, path, "expected a number, got " + Describe(n));
  }
  return v;
}

Lane Parser::ParseLane(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path, {"name", "tag", "priority", "fallback", "entrance"});
  if (!n["name"]) Fail(n, path, "missing required key \"name\"");
  Lane lane;
  lane.name = Label(n["name"], path + ".name");
  ParseLaneFields(n, path, lane);
  return lane;
}

void Parser::ParseLaneFields(const YAML::Node& n, const std::string& path, Lane& lane) const {
  if (!n["tag"]) Fail(n, path, "missing required key \"tag\"");
  lane.tag = Label(n["tag"], path + ".tag");
  if (n["priority"]) {
    lane.priority = static_cast<int>(Integer(n["priority"], path + ".priority", 0, 1'000'000));
  }
  if (const YAML::Node fb = n["fallback"]) {
    const std::string v = String(fb, path + ".fallback");
    if (v == "base") {
      lane.fallback = Fallback::kBase;
    } else if (v == "none") {
      lane.fallback = Fallback::kNone;
    } else {
      Fail(fb, path + ".fallback", "must be base or none, got \"" + v + "\"");
    }
  }
  if (n["entrance"]) ParseEntrance(n["entrance"], path + ".entrance", lane);
}

void Parser::ParseEntrance(const YAML::Node& n, const std::string& path, Lane& lane) const {
  CheckMap(n, path, {"gateway", "service", "match"});
  // An entrance without rules dyes nothing; leave `entrance` out instead.
  if (n.IsNull() || !n["match"]) Fail(n, path, "missing required key \"match\"");
  if (n["gateway"]) lane.gateway = String(n["gateway"], path + ".gateway");
  if (n["service"]) lane.service = String(n["service"], path + ".service");
  // The matcher treats "service set" as "sidecar only" and would ignore the
  // gateway; refuse the combination rather than guess what was meant.
  if (!lane.gateway.empty() && !lane.service.empty()) {
    Fail(n["service"], path + ".service",
         "cannot be combined with gateway (an entrance is at gateways or at one service's "
         "sidecars; use two lanes with the same tag for both)");
  }
  const std::string mpath = path + ".match";
  const std::vector<YAML::Node> clauses = List(n["match"], mpath);
  if (clauses.empty()) Fail(n["match"], mpath, "must not be empty");
  for (size_t i = 0; i < clauses.size(); ++i) {
    lane.match.push_back(ParseClause(clauses[i], Index(mpath, i)));
  }
}

MatchClause Parser::ParseClause(const YAML::Node& n, const std::string& path) const {
  CheckMap(n, path,
           {"headers", "cookies", "query", "baggage", "path", "method", "sourceService",
            "sourceAddress", "percent", "stickyOn"});
  // An empty clause would match every request: never what anyone means.
  if (n.IsNull() || n.size() == 0) {
    Fail(n, path, "a match clause needs at least one condition or percent");
  }
  MatchClause c;
  if (n["headers"]) c.headers = ParseNamed(n["headers"], path + ".headers", NameKind::kHeader);
  if (n["cookies"]) c.cookies = ParseNamed(n["cookies"], path + ".cookies", NameKind::kCookie);
  if (n["query"]) c.query = ParseNamed(n["query"], path + ".query", NameKind::kQuery);
  if (n["baggage"]) c.baggage = ParseNamed(n["baggage"], path + ".baggage", NameKind::kBaggage);
  if (n["path"]) c.path.push_back(ParseCondition(n["path"], path + ".path", false));
  if (n["method"]) c.method.push_back(ParseCondition(n["method"], path + ".method", false));
  if (n["sourceService"]) {
    c.source_service.push_back(ParseCondition(n["sourceService"], path + ".sourceService", false));
  }
  if (n["sourceAddress"]) {
    c.source_address.push_back(ParseCondition(n["sourceAddress"], path + ".sourceAddress", true));
  }
  if (n["percent"]) c.percent = static_cast<int>(Integer(n["percent"], path + ".percent", 0, 100));
  if (const YAML::Node sticky = n["stickyOn"]) {
    if (c.percent < 0) Fail(sticky, path + ".stickyOn", "only valid together with percent");
    c.sticky_on = ParseStickyOn(sticky, path + ".stickyOn");
  }
  const bool any = !c.headers.empty() || !c.cookies.empty() || !c.query.empty() ||
                   !c.baggage.empty() ||
                   !c.path.empty() || !c.method.empty() || !c.source_service.empty() ||
                   !c.source_address.empty() || c.percent >= 0;
  if (!any) Fail(n, path, "a match clause needs at least one condition or percent");
  return c;
}

// Header names are stored lower-case (they are case-insensitive); cookie and
// query names are case-sensitive and kept as written.
std::vector<std::pair<std::string, StringMatch>> Parser::ParseNamed(const YAML::Node& n,
                                                                    const std::string& path,
                                                                    NameKind kind) const {
  if (!n.IsMap()) Fail(n, path, "expected a map of name: condition, got " + Describe(n));
  std::vector<std::pair<std::string, StringMatch>> out;
  for (const auto& kv : n) {
    const std::string name = NonEmpty(kv.first, path);
    const bool ok =
        kind == NameKind::kQuery ? name.find_first_of("&=#") == std::string::npos : IsToken(name);
    if (!ok) Fail(kv.first, path, "invalid name \"" + name + "\"");
    std::string key = kind == NameKind::kHeader ? Lower(name) : name;
    for (const auto& [seen, unused] : out) {
      if (seen == key) Fail(kv.first, "duplicate name \"" + name + "\" in " + path);
    }
    out.emplace_back(std::move(key), ParseCondition(kv.second, path + "." + name, false));
  }
  return out;
}

// A bare string is `exact`; a map holds exactly one operator. `address`:
// sourceAddress, whose exact and in values are IPs or CIDRs.
StringMatch Parser::ParseCondition(const YAML::Node& n, const std::string& path,
                                   bool address) const {
  StringMatch m;
  if (n.IsScalar()) {
    m.value = n.Scalar();
    if (address && !IsIpOrCidr(m.value)) {
      Fail(n, path, "expected an IP address or CIDR, got \"" + m.value + "\"");
    }
    return m;
  }
  if (!n.IsMap()) {
    Fail(n, path, std::string("expected a string or a map with one of ") + kOperators +
                      ", got " + Describe(n));
  }
  if (n.size() == 0) Fail(n, path, std::string("needs one operator: ") + kOperators);
  YAML::Node key, value;  // a default Node counts as defined: track with `found`
  bool found = false;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) Fail(kv.first, path, "operators must be plain strings");
    const std::string& op = kv.first.Scalar();
    if (op != "exact" && op != "prefix" && op != "regex" && op != "in" && op != "range" &&
        op != "present") {
      Fail(kv.first, path, "unknown operator \"" + op + "\" (expected " + kOperators + ")");
    }
    if (found) {
      Fail(kv.first, path,
           "one operator per condition, got \"" + key.Scalar() + "\" and \"" + op + "\"");
    }
    found = true;
    key = kv.first;
    value = kv.second;
  }
  const std::string& op = key.Scalar();
  const std::string vpath = path + "." + op;
  if (op == "exact" || op == "prefix") {
    m.op = op == "exact" ? StringMatch::Op::kExact : StringMatch::Op::kPrefix;
    m.value = String(value, vpath);
    if (address && op == "exact" && !IsIpOrCidr(m.value)) {
      Fail(value, vpath, "expected an IP address or CIDR, got \"" + m.value + "\"");
    }
  } else if (op == "regex") {
    m.op = StringMatch::Op::kRegex;
    m.value = NonEmpty(value, vpath);
    RE2::Options options;
    options.set_log_errors(false);
    const RE2 re(m.value, options);
    if (!re.ok()) Fail(value, vpath, "invalid regex \"" + m.value + "\": " + re.error());
  } else if (op == "in") {
    m.op = StringMatch::Op::kIn;
    const std::vector<YAML::Node> items = List(value, vpath);
    if (items.empty()) Fail(value, vpath, "must not be empty");
    for (size_t i = 0; i < items.size(); ++i) {
      m.values.push_back(String(items[i], Index(vpath, i)));
      if (address && !IsIpOrCidr(m.values.back())) {
        Fail(items[i], Index(vpath, i),
             "expected an IP address or CIDR, got \"" + m.values.back() + "\"");
      }
    }
  } else if (op == "range") {
    m.op = StringMatch::Op::kRange;
    if (address) Fail(key, vpath, "not valid for sourceAddress (use in with CIDRs)");
    CheckMap(value, vpath, {"min", "max"});
    if (!value.IsMap() || value.size() == 0) Fail(value, vpath, "needs min and/or max");
    m.min = value["min"] ? Number(value["min"], vpath + ".min")
                         : -std::numeric_limits<double>::infinity();
    m.max = value["max"] ? Number(value["max"], vpath + ".max")
                         : std::numeric_limits<double>::infinity();
    if (m.min > m.max) Fail(value, vpath, "min must not be greater than max");
  } else {  // present
    const std::string v = String(value, vpath);
    if (v != "true" && v != "false") Fail(value, vpath, "must be true or false, got \"" + v + "\"");
    m.op = v == "true" ? StringMatch::Op::kPresent : StringMatch::Op::kAbsent;
  }
  return m;
}

std::string Parser::ParseStickyOn(const YAML::Node& n, const std::string& path) const {
  const std::string s = String(n, path);
  if (s == "client" || s == "trace") return s;
  const size_t colon = s.find(':');
  if (colon != std::string::npos) {
    const std::string kind = s.substr(0, colon);
    const std::string name = s.substr(colon + 1);
    if ((kind == "header" || kind == "cookie") && IsToken(name)) {
      return kind + ":" + (kind == "header" ? Lower(name) : name);
    }
    if (kind == "query" && !name.empty() && name.find_first_of("&=#") == std::string::npos) {
      return s;
    }
  }
  Fail(n, path,
       "must be header:NAME, cookie:NAME, query:NAME, client or trace, got \"" + s + "\"");
}

Lane Parser::ParseLaneDocument(const YAML::Node& doc, std::set<std::string>& names) const {
  if (!doc.IsMap()) Fail(doc, "a rule document must be a map, got " + Describe(doc));
  if (!doc["kind"]) Fail(doc, "missing required key \"kind\"");
  const std::string kind = String(doc["kind"], "kind");
  if (kind != "TrafficLane") {
    Fail(doc["kind"], "kind", "unsupported kind \"" + kind + "\" (expected TrafficLane)");
  }
  CheckMap(doc, "", {"kind", "name", "spec"});
  if (!doc["name"]) Fail(doc, "missing required key \"name\"");
  if (!doc["spec"]) Fail(doc, "missing required key \"spec\"");
  Lane lane;
  lane.name = Label(doc["name"], "name");
  if (!names.insert(lane.name).second) {
    Fail(doc["name"], "name", "duplicate lane name \"" + lane.name + "\"");
  }
  CheckMap(doc["spec"], "spec", {"tag", "priority", "fallback", "entrance"});
  ParseLaneFields(doc["spec"], "spec", lane);
  return lane;
}

uint32_t Parser::Percent(const YAML::Node& n, const std::string& path) const {
  return static_cast<uint32_t>(Integer(n, path, 0, 100));
}

UpstreamProtocol Parser::ParseProtocol(const YAML::Node& n, const std::string& path) const {
  const std::string v = String(n, path);
  if (v == "http1") return UpstreamProtocol::kHttp1;
  if (v == "http2") return UpstreamProtocol::kHttp2;
  if (v != "auto") Fail(n, path, "must be http1, http2 or auto, got \"" + v + "\"");
  return UpstreamProtocol::kAuto;
}

UpstreamTls Parser::ParseUpstreamTls(const YAML::Node& n, const std::string& path,
                                     bool check_ca) const {
  CheckMap(n, path, {"ca", "sni"});
  UpstreamTls t;
  if (const YAML::Node ca = n["ca"]) {
    t.ca = NonEmpty(ca, path + ".ca");
    if (check_ca) {
      std::FILE* f = std::fopen(t.ca.c_str(), "r");
      if (f == nullptr) {
        Fail(ca, path + ".ca", "cannot read CA file \"" + t.ca + "\": " + std::strerror(errno));
      }
      std::fclose(f);
    }
  }
  if (const YAML::Node sni = n["sni"]) {
    t.sni = NonEmpty(sni, path + ".sni");
    for (char c : t.sni) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == ':';
      if (!ok) Fail(sni, path + ".sni", "must be a host name or an IP, got \"" + t.sni + "\"");
    }
  }
  return t;
}

BaseFallback Parser::ParseBaseFallback(const YAML::Node& n, const std::string& path) const {
  const std::string v = String(n, path);
  if (v == "none") return BaseFallback::kNone;
  if (v == "anyLane") return BaseFallback::kAnyLane;
  Fail(n, path, "must be none or anyLane, got \"" + v + "\"");
}

WarmupPolicy Parser::ParseWarmup(const YAML::Node& w, const std::string& path) const {
  CheckMap(w, path, {"window", "aggression", "minWeightPercent"});
  WarmupPolicy warmup;
  if (w["window"]) warmup.window = Duration(w["window"], path + ".window", false);
  if (const YAML::Node a = w["aggression"]) {
    warmup.aggression = Number(a, path + ".aggression");
    if (warmup.aggression <= 0 || warmup.aggression > 100) {
      Fail(a, path + ".aggression", "must be greater than 0 and at most 100, got " + a.Scalar());
    }
  }
  if (w["minWeightPercent"]) {
    warmup.min_weight_percent = Percent(w["minWeightPercent"], path + ".minWeightPercent");
  }
  return warmup;
}

OutlierPolicy Parser::ParseOutlier(const YAML::Node& o, const std::string& path) const {
  CheckMap(o, path,
           {"consecutiveErrors", "errorRatePercent", "minRequests", "interval", "baseEjection",
            "maxEjection", "maxEjectionPercent", "slowCallThreshold", "slowCallPercent",
            "errorStatuses", "errorGrpcStatuses"});
  OutlierPolicy outlier;
  if (o["consecutiveErrors"]) {
    outlier.consecutive_errors = static_cast<uint32_t>(
        Integer(o["consecutiveErrors"], path + ".consecutiveErrors", 0, 1000));
  }
  if (o["errorRatePercent"]) {
    outlier.error_rate_percent = Percent(o["errorRatePercent"], path + ".errorRatePercent");
  }
  if (o["minRequests"]) {
    outlier.min_requests =
        static_cast<uint32_t>(Integer(o["minRequests"], path + ".minRequests", 1, 1'000'000));
  }
  if (o["interval"]) outlier.interval = Duration(o["interval"], path + ".interval", false);
  if (o["baseEjection"]) {
    outlier.base_ejection = Duration(o["baseEjection"], path + ".baseEjection", false);
  }
  if (o["maxEjection"]) {
    outlier.max_ejection = Duration(o["maxEjection"], path + ".maxEjection", false);
  } else if (outlier.max_ejection < outlier.base_ejection) {
    outlier.max_ejection = outlier.base_ejection;
  }
  if (outlier.max_ejection < outlier.base_ejection) {
    Fail(o["maxEjection"], path + ".maxEjection", "must not be shorter than baseEjection");
  }
  if (o["maxEjectionPercent"]) {
    outlier.max_ejection_percent = Percent(o["maxEjectionPercent"], path + ".maxEjectionPercent");
  }
  if (o["slowCallThreshold"]) {
    outlier.slow_call_threshold =
        Duration(o["slowCallThreshold"], path + ".slowCallThreshold", true);
  }
  if (o["slowCallPercent"]) {
    outlier.slow_call_percent = static_cast<uint32_t>(
        Integer(o["slowCallPercent"], path + ".slowCallPercent", 1, 100));
  }
  if (const YAML::Node st = o["errorStatuses"]) {
    const std::string spath = path + ".errorStatuses";
    if (!st.IsSequence()) Fail(st, spath, "must be a list of status codes (100..599)");
    std::vector<uint16_t>& list = outlier.error_statuses.emplace();
    const std::vector<YAML::Node> items = List(st, spath);
    for (size_t i = 0; i < items.size(); ++i) {
      list.push_back(static_cast<uint16_t>(Integer(items[i], Index(spath, i), 100, 599)));
    }
  }
  if (const YAML::Node st = o["errorGrpcStatuses"]) {
    const std::string spath = path + ".errorGrpcStatuses";
    if (!st.IsSequence()) Fail(st, spath, "must be a list of gRPC status codes (0..16)");
    std::vector<uint16_t>& list = outlier.error_grpc_statuses.emplace();
    const std::vector<YAML::Node> items = List(st, spath);
    for (size_t i = 0; i < items.size(); ++i) {
      list.push_back(static_cast<uint16_t>(Integer(items[i], Index(spath, i), 0, 16)));
    }
  }
  return outlier;
}

ServicePolicy Parser::ParsePolicySpec(const YAML::Node& n) const {
  CheckMap(n, "spec",
           {"warmup", "outlier", "lossless", "fallback", "baseFallback", "protocol", "tls"});
  ServicePolicy p;
  if (const YAML::Node w = n["warmup"]) p.warmup = ParseWarmup(w, "spec.warmup");
  if (const YAML::Node o = n["outlier"]) p.outlier = ParseOutlier(o, "spec.outlier");
  if (const YAML::Node l = n["lossless"]) {
    CheckMap(l, "spec.lossless", {"delayRegistration", "drainTimeout"});
    LosslessPolicy& lossless = p.lossless.emplace();
    if (l["delayRegistration"]) {
      lossless.delay_registration =
          Duration(l["delayRegistration"], "spec.lossless.delayRegistration", true);
    }
    if (l["drainTimeout"]) {
      lossless.drain_timeout = Duration(l["drainTimeout"], "spec.lossless.drainTimeout", true);
    }
  }
  if (const YAML::Node fb = n["fallback"]) {
    const std::string v = String(fb, "spec.fallback");
    if (v != "base" && v != "none") {
      Fail(fb, "spec.fallback", "must be base or none, got \"" + v + "\"");
    }
    p.fallback = v == "base" ? Fallback::kBase : Fallback::kNone;
  }
  if (const YAML::Node bf = n["baseFallback"]) {
    p.base_fallback = ParseBaseFallback(bf, "spec.baseFallback");
  }
  if (const YAML::Node pr = n["protocol"]) p.protocol = ParseProtocol(pr, "spec.protocol");
  if (const YAML::Node t = n["tls"]) p.tls = ParseUpstreamTls(t, "spec.tls", false);
  return p;
}

CanarySpec Parser::ParseCanarySpec(const YAML::Node& n) const {
  CheckMap(n, "spec",
           {"lane", "steps", "interval", "maxErrorRate", "maxP99", "minRequests", "failureLimit",
            "stickyOn", "onPromote", "onRollback"});
  CanarySpec c;
  if (!n["lane"]) Fail(n, "spec", "missing required key \"lane\"");
  c.lane = Label(n["lane"], "spec.lane");
  if (const YAML::Node st = n["steps"]) {
    const std::vector<YAML::Node> items = List(st, "spec.steps");
    if (items.empty()) Fail(st, "spec.steps", "must list at least one percentage");
    if (items.size() > 100) Fail(st, "spec.steps", "at most 100 steps");
    c.steps.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string path = Index("spec.steps", i);
      const uint32_t v = static_cast<uint32_t>(Integer(items[i], path, 1, 100));
      if (!c.steps.empty() && v <= c.steps.back()) {
        Fail(items[i], path, "steps must increase, got " + std::to_string(v) + " after " +
                                 std::to_string(c.steps.back()));
      }
      c.steps.push_back(v);
    }
  }
  if (n["interval"]) c.interval = Duration(n["interval"], "spec.interval", false);
  if (const YAML::Node e = n["maxErrorRate"]) {
    // "1%" or 0.01.
    std::string v = String(e, "spec.maxErrorRate");
    double rate = 0;
    const bool percent = !v.empty() && v.back() == '%';
    if (percent) v.pop_back();
    size_t used = 0;
    try {
      rate = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size()) {
      Fail(e, "spec.maxErrorRate", "must be a rate like 0.01 or 1%, got \"" + e.Scalar() + "\"");
    }
    if (percent) rate /= 100;
    if (!(rate >= 0 && rate <= 1)) {
      Fail(e, "spec.maxErrorRate", "must be between 0 and 1 (0% and 100%), got " + e.Scalar());
    }
    c.max_error_rate = rate;
  }
  if (n["maxP99"]) c.max_p99 = Duration(n["maxP99"], "spec.maxP99", true);
  if (n["minRequests"]) {
    c.min_requests =
        static_cast<uint32_t>(Integer(n["minRequests"], "spec.minRequests", 1, 100'000'000));
  }
  if (n["failureLimit"]) {
    c.failure_limit = static_cast<uint32_t>(Integer(n["failureLimit"], "spec.failureLimit", 1, 100));
  }
  if (n["stickyOn"]) c.sticky_on = ParseStickyOn(n["stickyOn"], "spec.stickyOn");
  if (n["onPromote"]) c.on_promote = String(n["onPromote"], "spec.onPromote");
  if (n["onRollback"]) c.on_rollback = String(n["onRollback"], "spec.onRollback");
  return c;
}

void Parser::ParseRuleDocument(const YAML::Node& doc, RuleDocument& out) const {
  if (!doc.IsMap()) Fail(doc, "a rule document must be a map, got " + Describe(doc));
  out.line = LineOf(doc.Mark());
  if (!doc["kind"]) Fail(doc, "missing required key \"kind\"");
  const std::string kind = String(doc["kind"], "kind");
  if (kind != "TrafficLane" && kind != "Route" && kind != "ServicePolicy" && kind != "Canary") {
    Fail(doc["kind"], "kind",
         "unsupported kind \"" + kind +
             "\" (expected TrafficLane, Route, ServicePolicy or Canary)");
  }
  out.kind = kind;
  CheckMap(doc, "", {"kind", "name", "spec"});
  if (!doc["name"]) Fail(doc, "missing required key \"name\"");
  // Names end up in URLs (/v1/rules/KIND/NAME), headers and metric labels.
  out.name = Label(doc["name"], "name");
  if (!doc["spec"]) Fail(doc, "missing required key \"spec\"");
  const YAML::Node spec = doc["spec"];
  if (kind == "TrafficLane") {
    CheckMap(spec, "spec", {"tag", "priority", "fallback", "entrance"});
    out.lane.name = out.name;
    ParseLaneFields(spec, "spec", out.lane);
  } else if (kind == "Route") {
    out.route = ParseRoute(spec, "spec");
  } else if (kind == "Canary") {
    out.canary = ParseCanarySpec(spec);
    out.canary.service = out.name;
  } else {
    out.policy = ParsePolicySpec(spec);
    out.policy.service = out.name;
  }
}

Config Parser::Parse(const YAML::Node& root) {
  CheckMap(root, "",
           {"workers", "listeners", "routes", "services", "lanes", "timeouts", "limits",
            "upstream"});
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
    if (l.kind == ListenerKind::kTcp && !service_names.contains(l.service)) {
      Fail(listeners[i]["service"], path + ".service", "unknown service \"" + l.service + "\"");
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

  // Entrance gateway/service names are not checked against this file's
  // listeners: one lanes file is shared by the gateway and every sidecar,
  // and each compiles only the lanes that apply where it runs.
  const std::vector<YAML::Node> lanes = List(root["lanes"], "lanes");
  std::set<std::string> lane_names;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const std::string path = Index("lanes", i);
    const Lane& lane = c.lanes.emplace_back(ParseLane(lanes[i], path));
    if (!lane_names.insert(lane.name).second) {
      Fail(lanes[i]["name"], path + ".name", "duplicate lane name \"" + lane.name + "\"");
    }
  }

  if (root["timeouts"]) ParseTimeouts(root["timeouts"], c.timeouts);
  if (root["limits"]) ParseLimits(root["limits"], c.limits);
  if (root["upstream"]) ParseUpstream(root["upstream"], c.upstream);
  return c;
}

}  // namespace

Config ParseConfig(const std::string& yaml_text, const std::string& file) {
  CheckYamlLimits(yaml_text, file);  // before yaml-cpp builds a node
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

std::vector<Lane> ParseLaneDocuments(const std::string& yaml_text, const std::string& file) {
  CheckYamlLimits(yaml_text, file);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, LineOf(e.mark), "invalid YAML: " + e.msg);
  }
  std::vector<Lane> lanes;
  std::set<std::string> names;
  try {
    for (const YAML::Node& doc : docs) {
      if (doc.IsNull()) continue;  // "---" at the end, or a comment-only document
      lanes.push_back(Parser(file, doc).ParseLaneDocument(doc, names));
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, LineOf(e.mark), e.msg);
  }
  return lanes;
}

std::vector<RuleDocument> ParseRuleDocuments(const std::string& yaml_text,
                                             const std::string& file) {
  CheckYamlLimits(yaml_text, file);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, LineOf(e.mark), "invalid YAML: " + e.msg);
  }
  std::vector<RuleDocument> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].IsNull()) continue;  // "---" at the end, or a comment-only document
    RuleDocument rule;
    // Names the document in front of the reason, so that a user with many
    // documents in one file sees which one at once.
    auto where = [&] {
      std::string w = "document " + std::to_string(i + 1);
      if (!rule.kind.empty()) {
        w += " (" + rule.kind + (rule.name.empty() ? "" : " " + rule.name) + ")";
      }
      return w;
    };
    try {
      try {
        Parser(file, docs[i]).ParseRuleDocument(docs[i], rule);
      } catch (const YAML::Exception& e) {
        throw ConfigError(file, LineOf(e.mark), e.msg);
      }
      if (!seen.emplace(rule.kind, rule.name).second) {
        throw ConfigError(file, rule.line,
                          "name: duplicate " + rule.kind + " \"" + rule.name + "\"");
      }
    } catch (const ConfigError& e) {
      const std::string prefix = e.file() + ":" + std::to_string(e.line()) + ": ";
      std::string reason = e.what();
      if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
      throw ConfigError(e.file(), e.line(), where() + ": " + reason);
    }
    out.push_back(std::move(rule));
  }
  return out;
}

Config LoadConfigFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(errno));
  }
  std::string text;
  char buf[8192];
  size_t n;
  // One byte past the limit is enough to refuse the file (CheckYamlLimits):
  // a huge or endless file (/dev/zero) is never read whole.
  while (text.size() <= kMaxYamlBytes && (n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
  }
  // fread on a directory opens fine and then fails with EISDIR.
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) throw ConfigError(path, 0, std::string("cannot read: ") + std::strerror(err));
  return ParseConfig(text, path);
}

Trust ParseTrust(const std::string& text) {
  if (text == "none") return {.mode = Trust::Mode::kNone, .cidrs = {}};
  if (text == "loopback") return {.mode = Trust::Mode::kLoopback, .cidrs = {}};
  if (text == "all") return {.mode = Trust::Mode::kAll, .cidrs = {}};
  Trust t{.mode = Trust::Mode::kCidrs, .cidrs = {}};
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    if (!IsIpOrCidr(item)) {
      throw std::invalid_argument("expected none, loopback, all or IPs/CIDRs, got \"" + item +
                                  "\"");
    }
    t.cidrs.push_back(std::move(item));
    start = comma + 1;
  }
  return t;
}

}  // namespace graymesh::config
