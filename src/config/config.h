// Static configuration: what `--config FILE` holds and what the control plane
// will later push. Plain values only; the proxy compiles it into per-worker
// state. Thread-safety: immutable once built; shared as shared_ptr<const>.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace graymesh::config {

using Millis = std::chrono::milliseconds;

// An address as "host:port"; host is a literal IP or a name resolved at start.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  bool operator==(const HostPort&) const = default;
};

enum class LbPolicy { kRoundRobin, kLeastRequest };

// What the proxy speaks to a service's endpoints (docs/http.md, HTTP/2).
// gRPC requests always go over HTTP/2. kAuto: HTTP/1.1 for everything else,
// except on a sidecar's inbound side, where a request goes on in the protocol
// it came in.
enum class UpstreamProtocol { kHttp1, kHttp2, kAuto };

// Base requests to a service without a base instance: kNone answers 503
// (they never reach a lane instance, docs/design.md, lane model); kAnyLane lets any
// instance serve them.
enum class BaseFallback { kNone, kAnyLane };

// TLS to a service's endpoints (docs/config.md, services[].tls). The peer's
// certificate is always verified: its chain against `ca` (a PEM file of
// trusted roots; "" = the system store) and its name against `sni` ("" =
// the endpoint's host when that is a name; an endpoint given as an IP then
// sends no SNI and its certificate must name that IP). TLS 1.2 and later.
struct UpstreamTls {
  std::string ca;
  std::string sni;
  bool operator==(const UpstreamTls&) const = default;
};

struct Endpoint {
  HostPort address;
  uint32_t weight = 100;                      // relative; 1..10000
  std::map<std::string, std::string> labels;  // e.g. {"lane": "gray"}
  std::string lane;                           // labels["lane"], "" = base
  // Unix ms the instance last became ready (registry `readySince`); warmup
  // counts from it. 0 = unknown (static endpoints warm from their first success).
  int64_t ready_since_ms = 0;
};

// Slow start (Envoy's formula): weight * max(min_weight_percent / 100,
// (t / window) ^ (1 / aggression)), t counted from the instance's readySince.
struct WarmupPolicy {
  Millis window{120'000};            // > 0
  double aggression = 1.0;           // > 0 (1.0 = linear)
  uint32_t min_weight_percent = 10;  // 0..100
};

// Outlier ejection (docs/config.md, outlier): an endpoint whose attempts
// fail is taken out of rotation for base_ejection x times ejected (at most
// max_ejection), then returns on probation.
struct OutlierPolicy {
  uint32_t consecutive_errors = 5;     // 0..1000, 0 = off
  uint32_t error_rate_percent = 50;    // 0..100, 0 = off
  uint32_t min_requests = 20;          // per interval before the rate counts
  Millis interval{10'000};             // > 0: the sliding window of the rates
  Millis base_ejection{30'000};        // > 0
  Millis max_ejection{300'000};        // >= base_ejection
  uint32_t max_ejection_percent = 20;  // 0..100 of a service's endpoints
  Millis slow_call_threshold{0};       // 0 = slow calls do not count
  uint32_t slow_call_percent = 50;     // 1..100: share of slow calls that ejects
  // Response statuses that count as errors (network failures always do);
  // absent = every 5xx, empty = network failures only.
  std::optional<std::vector<uint16_t>> error_statuses;
  // gRPC statuses (grpc-status of a response whose HTTP status is 200) that
  // count as errors; absent = kDefaultErrorGrpcStatuses, empty = none.
  std::optional<std::vector<uint16_t>> error_grpc_statuses;
};

// UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE,
// DATA_LOSS: the endpoint failed, not the caller's request.
inline constexpr std::array<uint16_t, 6> kDefaultErrorGrpcStatuses = {2, 4, 8, 13, 14, 15};



struct Service {
  std::string name;
  LbPolicy lb = LbPolicy::kRoundRobin;
  std::vector<Endpoint> endpoints;
  BaseFallback base_fallback = BaseFallback::kNone;  // a ServicePolicy's overrides it
  // Static warmup and outlier settings; a ServicePolicy's override them.
  std::optional<WarmupPolicy> warmup;
  std::optional<OutlierPolicy> outlier;
  UpstreamProtocol protocol = UpstreamProtocol::kAuto;
  std::optional<UpstreamTls> tls;  // absent: plaintext; a ServicePolicy's overrides it
};

// Gateway routing: the first route whose host and path prefix match wins.
struct Route {
  std::string host;         // "" = any; "*.example.com" = suffix match
  std::string path_prefix;  // "" = any
  std::string service;
};

enum class ListenerKind {
  kGateway,   // routes by host/path to services
  kOutbound,  // the app's calls: Host or proxy-form authority names the service
  kInbound,   // in front of the local app: every request goes to `service`
  kTcp,       // plain TCP entry: connections split between `service`'s lanes
};

// Whose lane headers a listener believes (docs/design.md, lane model, trust at the entry):
// x-graymesh-lane and its aliases, x-graymesh-source, and the graymesh-*
// members of baggage. From an untrusted client they are removed before the
// request goes on, and its lane comes from the entrance rules.
struct Trust {
  enum class Mode { kDefault, kNone, kLoopback, kAll, kCidrs };
  Mode mode = Mode::kDefault;      // kDefault: none at a gateway, all elsewhere
  std::vector<std::string> cidrs;  // kCidrs: IPs and CIDR blocks
  bool operator==(const Trust&) const = default;
};

// TLS on an HTTP listener (docs/config.md): a default certificate and, by
// SNI server name, others. Files are PEM; re-read when they change.
struct TlsCert {
  std::string server_name;  // "" = the default certificate
  std::string cert;         // certificate chain file
  std::string key;          // private key file
  bool operator==(const TlsCert&) const = default;
};
struct Tls {
  std::vector<TlsCert> certs;  // [0] is the default
  bool operator==(const Tls&) const = default;
};

struct Listener {
  std::string name;
  ListenerKind kind = ListenerKind::kGateway;
  HostPort address;
  std::string service;  // kInbound: the local app's service; kTcp: the target
  Trust trust;
  std::string access_log;  // "stdout", "stderr" or a file; "" = none
  std::optional<Tls> tls;  // kGateway only
};

struct Timeouts {
  Millis header_read{10'000};  // client must send a whole head within this (408)
  Millis idle{60'000};         // keep-alive client connection idle
  Millis connect{2'000};       // upstream connect (then retry or 503/504)
  Millis response{30'000};     // upstream response head after request sent (504)
  Millis drain{30'000};        // graceful stop: in-flight requests get this long
};

struct Limits {
  uint32_t max_header_bytes = 64 * 1024;       // request head (431)
  uint64_t max_body_bytes = 64ull << 20;       // request body (413); 0 = no limit
  uint32_t max_connections = 16'000;           // per worker, below the fd limit
};

struct UpstreamOptions {
  uint32_t max_idle_per_endpoint = 64;  // per worker
  Millis idle_timeout{60'000};
  // Extra attempts, each on another endpoint, for a request that failed before
  // any response byte and is safe to resend. 0..5.
  uint32_t retries = 1;
  // Endpoint health (outlier ejection, warmup, reacting to draining
  // endpoints, avoiding a failed endpoint on the retry). false = off.
  bool health = true;
};

// ---- Lanes (full-link gray release), docs/design.md, lane model ----

// One condition on a string value (header, cookie, query parameter, path,
// method, source service, client address).
struct StringMatch {
  enum class Op { kExact, kPrefix, kRegex, kIn, kRange, kPresent, kAbsent };
  Op op = Op::kExact;
  std::string value;                // kExact, kPrefix, kRegex
  std::vector<std::string> values;  // kIn
  double min = 0, max = 0;          // kRange: min <= number(value) <= max
};

// All of its conditions must hold (AND). A Lane matches when any of its
// clauses does (OR).
struct MatchClause {
  std::vector<std::pair<std::string, StringMatch>> headers;  // names lower-case
  std::vector<std::pair<std::string, StringMatch>> cookies;
  std::vector<std::pair<std::string, StringMatch>> query;
  // W3C baggage members by key (case-sensitive), values percent-decoded.
  std::vector<std::pair<std::string, StringMatch>> baggage;
  std::vector<StringMatch> path;            // 0 or 1
  std::vector<StringMatch> method;          // 0 or 1
  std::vector<StringMatch> source_service;  // 0 or 1: the calling service's name
  std::vector<StringMatch> source_address;  // 0 or 1: client IP ("in" takes CIDRs)
  // Sticky share: hash(key) % 100 < percent, with key from `sticky_on`:
  // "header:NAME", "cookie:NAME", "query:NAME", "client" (the client IP) or
  // "trace" (the W3C trace id, so every hop of a trace decides alike).
  int percent = -1;  // -1 = no percentage condition
  std::string sticky_on = "client";
};

enum class Fallback { kBase, kNone };

struct Lane {
  std::string name;
  std::string tag;
  int priority = 100;  // lower first; ties in file order
  // Where the entrance rules apply: a gateway listener name ("" = every
  // gateway), and/or the inbound side of a service's sidecars.
  std::string gateway;
  std::string service;
  std::vector<MatchClause> match;  // empty = this lane has no entrance rule
  Fallback fallback = Fallback::kBase;
};

// ---- Service policies (ServicePolicy rule documents) ----
// Parsed and stored by the control plane and carried in its snapshots; the
// fields are what the warmup, outlier and lossless features will read.

// Each field only when the document sets it: an unset one leaves the
// sidecar's own value (its flag, else 0 for the delay and timeouts.drain,
// 30 s, for the drain timeout) in force.
struct LosslessPolicy {
  std::optional<Millis> delay_registration;  // >= 0: wait this long after ready to register
  std::optional<Millis> drain_timeout;       // >= 0
};

struct ServicePolicy {
  std::string service;  // the document's name
  // Absent sections keep the feature's defaults (or leave it off).
  std::optional<WarmupPolicy> warmup;
  std::optional<OutlierPolicy> outlier;
  std::optional<LosslessPolicy> lossless;
  std::optional<Fallback> fallback;  // for the service's lanes, over the lane's own
  std::optional<BaseFallback> base_fallback;  // for its base requests
  // How its endpoints are spoken to (services from the registry have no
  // other place to say it); over the service's own `protocol`.
  std::optional<UpstreamProtocol> protocol;
  // TLS to its endpoints, over the service's own `tls`. Its `ca` is a path
  // on the proxy's host, checked when the proxy compiles the snapshot.
  std::optional<UpstreamTls> tls;
};

// Who this process is: set by `graymesh proxy` flags, not by the file.
struct Node {
  std::string service;  // "" for a gateway
  std::string lane;     // this instance's tag; "" = base
  std::map<std::string, std::string> labels;
  std::vector<std::string> lane_headers;  // aliases of x-graymesh-lane, lower-case
  uint32_t trace_capacity = 65536;        // loose mode: trace ids remembered
  uint32_t trace_ttl_seconds = 60;
};

struct Config {
  int workers = 0;  // 0 = hardware threads
  Node node;
  std::vector<Listener> listeners;
  std::vector<Service> services;
  std::vector<Route> routes;
  std::vector<Lane> lanes;
  std::vector<ServicePolicy> policies;  // from the control plane; not in static files
  Timeouts timeouts;
  Limits limits;
  UpstreamOptions upstream;
};

// Thrown for an invalid file; what() is "FILE:LINE: reason".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, const std::string& reason)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + reason),
        file_(std::move(file)),
        line_(line) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

// Parses YAML text; `file` names it in errors. Throws ConfigError.
Config ParseConfig(const std::string& yaml_text, const std::string& file);
// Reads and parses a file. Throws ConfigError (line 0 when unreadable).
Config LoadConfigFile(const std::string& path);

// Parses `---`-separated rule documents of the form
//   {kind: TrafficLane, name: N, spec: {tag, priority, fallback, entrance}}
// (spec has the keys of a `lanes:` item except `name`; docs/config.md). Empty
// documents are skipped; any other kind and a repeated name are errors.
// Throws ConfigError.
std::vector<Lane> ParseLaneDocuments(const std::string& yaml_text, const std::string& file);

// ---- Canary releases (Canary rule documents, docs/canary.md) ----
// The control plane moves the share of `service`'s traffic that `lane` gets
// through `steps`, judging the lane's live metrics against base's at each.
struct CanarySpec {
  std::string service;  // the document's name
  std::string lane;     // tag of the new version's instances
  std::vector<uint32_t> steps{5, 10, 25, 50, 100};  // percent, increasing, 1..100
  Millis interval{30'000};                           // per step, > 0
  // A check fails when the lane's error rate exceeds base's by more than
  // this (0..1), or its p99 is over max_p99 (0 = no latency check).
  double max_error_rate = 0.01;
  Millis max_p99{500};
  uint32_t min_requests = 100;  // lane requests in a step before it is judged
  uint32_t failure_limit = 1;   // failed checks that roll back
  std::string sticky_on = "trace";  // how the share is kept: as a lane clause's stickyOn
  std::string on_promote;   // "" = none; an http:// URL is POSTed, anything else run by sh -c
  std::string on_rollback;  // same
};

// One rule document of `graymesh apply -f` (docs/control.md): exactly one of
// lane, route, policy and canary is meaningful, as `kind` says.
struct RuleDocument {
  std::string kind;  // "TrafficLane", "Route", "ServicePolicy" or "Canary"
  std::string name;
  int line = 0;          // of the document's first key, 1-based
  Lane lane;             // TrafficLane: {name, spec: lanes[] item without name}
  Route route;           // Route: {name, spec: {host, pathPrefix, service}}
  ServicePolicy policy;  // ServicePolicy: {name: SERVICE, spec: {warmup, outlier, ...}}
  CanarySpec canary;     // Canary: {name: SERVICE, spec: {lane, steps, ...}}
};

// Parses `---`-separated documents of the kinds above, all or nothing. Empty
// documents are skipped; a repeated kind+name is an error. Errors name the
// document: "FILE:LINE: document N (KIND NAME): FIELD: reason". Throws
// ConfigError.
std::vector<RuleDocument> ParseRuleDocuments(const std::string& yaml_text, const std::string& file);

// "250ms", "10s", "2m", "1h"; a bare number is seconds. Throws std::invalid_argument.
Millis ParseDuration(const std::string& text);
// "127.0.0.1:8080", "[::1]:80", "localhost:80". Throws std::invalid_argument.
HostPort ParseHostPort(const std::string& text);
// "none", "loopback", "all", or IPs/CIDRs separated by commas
// ("10.0.0.0/8,192.168.1.7"). Throws std::invalid_argument.
Trust ParseTrust(const std::string& text);
// "65536", "64Ki", "10Mi", "1Gi". Throws std::invalid_argument.
uint64_t ParseByteSize(const std::string& text);

}  // namespace graymesh::config
