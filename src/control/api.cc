#include "control/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <vector>

#include "wire/rule_json.h"
#include "control/snapshot_build.h"
#include "wire/snapshot_json.h"
#include "http/headers.h"

namespace graymesh::control {
namespace {

using nlohmann::json;

constexpr double kDefaultWaitSeconds = 30;
constexpr double kMaxWaitSeconds = 60;

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

net::HttpReply MethodNotAllowed(const std::string& allow) {
  net::HttpReply r = ErrorReply(405, "method not allowed (allowed: " + allow + ")");
  r.headers.emplace_back("allow", allow);
  return r;
}

// Compares without an early exit, so the time taken says nothing about how
// much of a guessed token was right.
bool SameSecret(std::string_view given, std::string_view secret) {
  if (given.size() != secret.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ secret[i];
  return diff == 0;
}

std::optional<double> ParseNumber(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

const char* kIndex =
    "graymesh control plane\n\n"
    "GET  /v1/services\n"
    "GET  /v1/instances[?service=S]     POST /v1/instances\n"
    "PUT  /v1/instances/ID/heartbeat    PUT|DELETE /v1/instances/ID\n"
    "POST /v1/apply (YAML)              GET /v1/rules[?kind=K]\n"
    "GET|DELETE /v1/rules/KIND/NAME\n"
    "GET  /v1/snapshot?version=N&wait=SECONDS[&store=ID][&gateway=L1,L2]\n"
    "GET  /v1/events[?since=UNIX_MS][&limit=N]\n"
    "POST /v1/reports (proxies)         GET /v1/traffic?window=60s\n"
    "GET  /metrics   GET /healthz\n"
    "GET  / in a browser: the web console\n";

}  // namespace

net::HttpReply JsonReply(int status, const json& body) {
  net::HttpReply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.body += '\n';
  return r;
}

net::HttpReply ErrorReply(int status, const std::string& reason) {
  // Reasons may quote what the client sent (a key, a file name): bounded so
  // an error is never larger than the request that caused it.
  constexpr size_t kMaxReason = 1024;
  net::HttpReply r = JsonReply(
      status, {{"error", reason.size() > kMaxReason ? reason.substr(0, kMaxReason) + "..." : reason}});
  // A header holds one line of visible characters.
  std::string header = reason.substr(0, std::min<size_t>(reason.size(), 300));
  for (char& c : header) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  r.headers.emplace_back("x-graymesh-reason", header);
  return r;
}

bool IsLabelValue(const std::string& s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Api::Api(Store& store, WatchHub& hub, ApiOptions options)
    : store_(store), hub_(hub), options_(std::move(options)), events_(&store) {}

bool Api::Authorized(const Request& req) const {
  if (options_.token.empty()) return true;
  std::string_view auth = req.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  // The scheme is case-insensitive (RFC 9110), the token is not.
  if (auth.size() <= kBearer.size() || !http::IEquals(auth.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return SameSecret(auth.substr(kBearer.size()), options_.token);
}

asio::awaitable<net::HttpReply> Api::Handle(const Request& req) {
  const std::vector<std::string> seg = Segments(req.path);
  const std::string& m = req.method;
  const bool write = m == "POST" || m == "PUT" || m == "DELETE" || m == "PATCH";
  if (write && !Authorized(req)) {
    ++counters_.unauthorized;
    Reply r =
        ErrorReply(401, options_.token.empty() ? "unauthorized" : "missing or wrong bearer token");
    r.headers.emplace_back("www-authenticate", "Bearer realm=\"graymesh\"");
    co_return r;
  }
  const bool get = m == "GET" || m == "HEAD";
  try {
    if (seg.empty()) {
      if (!get) co_return MethodNotAllowed("GET");
      if (WantsHtml(req)) co_return ConsoleFile("/index.html");  // a browser: the console
      Reply r;
      r.content_type = "text/plain";
      r.body = kIndex;
      co_return r;
    }
    if (seg.size() == 1 && seg[0] == "healthz") {
      if (!get) co_return MethodNotAllowed("GET");
      Reply r;
      r.content_type = "text/plain";
      r.body = "ok\n";
      co_return r;
    }
    if (seg.size() == 1 && seg[0] == "metrics") {
      if (!get) co_return MethodNotAllowed("GET");
      co_return Metrics();
    }
    if (seg.size() == 2 && seg[0] == "console") {
      if (!get) co_return MethodNotAllowed("GET");
      co_return ConsoleFile("/" + seg[1]);
    }
    if (seg.size() < 2 || seg[0] != "v1") co_return ErrorReply(404, "no such path: " + req.path);
    const std::string& what = seg[1];
    if (what == "instances") {
      if (seg.size() == 2) {
        if (m == "POST") co_return Register(req);
        if (get) co_return ListInstances(req);
        co_return MethodNotAllowed("GET, POST");
      }
      if (seg.size() == 3) {
        if (m == "PUT" || m == "PATCH") co_return UpdateInstance(seg[2], req);
        if (m == "DELETE") co_return Deregister(seg[2]);
        if (get) co_return GetInstance(seg[2]);
        co_return MethodNotAllowed("GET, PUT, DELETE");
      }
      if (seg.size() == 4 && seg[3] == "heartbeat") {
        if (m == "PUT" || m == "POST") co_return Heartbeat(seg[2]);
        co_return MethodNotAllowed("PUT");
      }
    } else if (what == "services" && seg.size() == 2) {
      if (!get) co_return MethodNotAllowed("GET");
      co_return ListServices();
    } else if (what == "apply" && seg.size() == 2) {
      if (m != "POST") co_return MethodNotAllowed("POST");
      co_return ApplyRules(req);
    } else if (what == "rules" && seg.size() <= 4) {
      std::string kind = seg.size() >= 3 ? seg[2] : std::string(req.QueryParam("kind"));
      if (seg.size() == 4) {
        if (m == "DELETE") co_return DeleteRule(kind, seg[3]);
        if (get) co_return GetRule(kind, seg[3]);
        co_return MethodNotAllowed("GET, DELETE");
      }
      if (!get) co_return MethodNotAllowed("GET");
      co_return ListRules(kind);
    } else if (what == "canaries" && seg.size() <= 4) {
      co_return Canaries(seg, req);
    } else if (what == "events" && seg.size() == 2) {
      if (!get) co_return MethodNotAllowed("GET");
      co_return ListEvents(req);
    } else if (what == "reports" && seg.size() == 2) {
      if (m != "POST") co_return MethodNotAllowed("POST");
      co_return Report(req);
    } else if (what == "traffic" && seg.size() == 2) {
      if (!get) co_return MethodNotAllowed("GET");
      co_return Traffic(req);
    } else if (what == "snapshot" && seg.size() == 2) {
      if (!get) co_return MethodNotAllowed("GET");
      co_return co_await Snapshot(req);
    }
    co_return ErrorReply(404, "no such path: " + req.path);
  } catch (const std::exception& e) {
    // A store failure (disk full, file removed): the change did not happen.
    spdlog::error("{} {}: {}", m, req.path, e.what());
    co_return ErrorReply(500, std::string("store error: ") + e.what());
  }
}

asio::awaitable<net::HttpReply> Api::Snapshot(const Request& req) {
  int64_t version = -1;  // absent: answer at once
  if (std::string_view v = req.QueryParam("version"); !v.empty()) {
    // Digits only: "1e300" as a double would not fit the integer it becomes.
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
    if (ec != std::errc() || ptr != v.data() + v.size() || version < 0) {
      co_return ErrorReply(400, "version: expected a non-negative integer, got \"" +
                                    std::string(v.substr(0, 64)) + "\"");
    }
  }
  double wait = kDefaultWaitSeconds;
  if (std::string_view w = req.QueryParam("wait"); !w.empty()) {
    auto n = ParseNumber(w);
    if (!n || *n < 0) {
      co_return ErrorReply(400, "wait: expected seconds 0.." + fmt::format("{}", kMaxWaitSeconds) +
                                    ", got \"" + std::string(w.substr(0, 64)) + "\"");
    }
    wait = std::min(*n, kMaxWaitSeconds);
  }
  std::string bad_gateway;
  const std::vector<std::string> gateways =
      req.QueryParam("gateway").empty()
          ? std::vector<std::string>{}
          : wire::GatewayListeners::Parse(req.QueryParam("gateway"), &bad_gateway);
  if (!bad_gateway.empty()) co_return ErrorReply(400, bad_gateway);
  // A version from another store's history (larger than ours, or of another
  // store id) is answered at once too: the client's snapshot is not one of ours.
  const std::string_view client_store = req.QueryParam("store");
  int64_t revision = store_.Revision();
  const bool same_store = client_store.empty() || client_store == store_.Id();
  if (same_store && (revision == version || SameContent(version, revision))) {
    gateways_.Begin(gateways, std::chrono::steady_clock::now());
    struct Ended {  // also when the wait ends in an exception
      wire::GatewayListeners& g;
      const std::vector<std::string>& names;
      ~Ended() { g.End(names, std::chrono::steady_clock::now()); }
    } ended{gateways_, gateways};
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(std::llround(wait * 1000)));
    // A revision that changed nothing a snapshot shows (a release event
    // written to etcd, a write outside graymesh's keys) is no news for this
    // watcher: it keeps waiting until the content changes or time is up.
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const int64_t seen = revision;
      revision = co_await hub_.Wait(seen, std::max(left, std::chrono::milliseconds(0)));
      revision = std::max(revision, store_.Revision());
      if (revision == seen || !SameContent(version, revision)) break;
    }
    if (SameContent(version, revision)) revision = version;  // 304: what it has is current
    if (revision != version) {
      CountPush(std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              hub_.notified_at()).count());
    }
  } else {
    gateways_.Begin(gateways, std::chrono::steady_clock::now());
    gateways_.End(gateways, std::chrono::steady_clock::now());
    if (revision == version) version = -1;  // another store: answer with ours
  }
  if (revision == version) {
    Reply r;
    r.status = 304;
    r.headers.emplace_back("x-graymesh-version", std::to_string(revision));
    co_return r;
  }
  Reply r;
  r.shared_body = SnapshotText();  // one text for every watcher woken by this change
  r.headers.emplace_back("x-graymesh-version", std::to_string(cached_revision_));
  ++counters_.snapshots_served;
  co_return r;
}

std::shared_ptr<const std::string> Api::SnapshotText() {
  if (cached_revision_ != store_.Revision() || !cached_snapshot_) {
    StoreState state = store_.Read();
    wire::Snapshot snap = BuildSnapshot(state);
    snap.store = store_.Id();
    snap.filling_until_ms = options_.filling_until_ms;
    nlohmann::json j = wire::SnapshotToJson(snap);
    // Everything but the version (the revision) says whether it changed.
    const nlohmann::json version = j["version"];
    j.erase("version");
    std::string content = j.dump();
    if (!cached_snapshot_ || content != cached_content_) same_content_.clear();
    same_content_.insert(state.revision);
    if (same_content_.size() > 64) same_content_.erase(same_content_.begin());
    cached_content_ = std::move(content);
    j["version"] = version;
    cached_snapshot_ = std::make_shared<const std::string>(j.dump() + '\n');
    cached_revision_ = state.revision;
  }
  return cached_snapshot_;
}

bool Api::SameContent(int64_t version, int64_t revision) {
  if (version < 0 || version > revision) return false;
  SnapshotText();  // brings same_content_ up to the store's revision
  // Only revisions this process built: one it did not may have held a
  // change undone since.
  return same_content_.contains(version);
}

net::HttpReply Api::Metrics() {
  std::map<std::string, int> by_state = {{"starting", 0}, {"ready", 0}, {"draining", 0}};
  for (const Instance& i : store_.ListInstances("")) ++by_state[StateName(i.spec.state)];
  std::map<std::string, int> by_kind = {{wire::kTrafficLane, 0}, {wire::kRoute, 0}, {wire::kServicePolicy, 0}, {wire::kCanary, 0}};
  for (const Rule& r : store_.ListRules("")) ++by_kind[r.kind];
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP graymesh_control_{0} {2}\n# TYPE graymesh_control_{0} {1}\n", name,
                       type, help);
  };
  family("revision", "gauge", "Store revision (+1 per committed change).");
  out += fmt::format("graymesh_control_revision {}\n", store_.Revision());
  family("instances", "gauge", "Registered instances by state.");
  for (const auto& [state, n] : by_state) {
    out += fmt::format("graymesh_control_instances{{state=\"{}\"}} {}\n", state, n);
  }
  family("rules", "gauge", "Stored rules by kind.");
  for (const auto& [kind, n] : by_kind) {
    out += fmt::format("graymesh_control_rules{{kind=\"{}\"}} {}\n", kind, n);
  }
  family("watchers", "gauge", "Snapshot long polls waiting now.");
  out += fmt::format("graymesh_control_watchers {}\n", hub_.waiting());
  family("event_instances", "gauge",
         "Instances whose service and lane this replica keeps for its release events.");
  out += fmt::format("graymesh_control_event_instances {}\n", known_instances_.size());
  family("event_write_failures_total", "counter", "Release events the store failed to record.");
  out += fmt::format("graymesh_control_event_write_failures_total {}\n",
                     events_.write_failures());
  family("applies_total", "counter", "POST /v1/apply requests by result.");
  out += fmt::format("graymesh_control_applies_total{{result=\"ok\"}} {}\n", counters_.applies_ok);
  out += fmt::format("graymesh_control_applies_total{{result=\"error\"}} {}\n",
                     counters_.applies_failed);
  family("registrations_total", "counter", "Instance registrations (new and repeated).");
  out += fmt::format("graymesh_control_registrations_total {}\n", counters_.registrations);
  family("deregistrations_total", "counter", "Instances removed by DELETE.");
  out += fmt::format("graymesh_control_deregistrations_total {}\n", counters_.deregistrations);
  family("lease_expirations_total", "counter", "Instances removed because their lease ran out.");
  out += fmt::format("graymesh_control_lease_expirations_total {}\n", counters_.lease_expirations);
  family("snapshots_served_total", "counter", "Snapshots sent (not 304).");
  out += fmt::format("graymesh_control_snapshots_served_total {}\n", counters_.snapshots_served);
  family("unauthorized_total", "counter", "Writes refused for a missing or wrong token.");
  out += fmt::format("graymesh_control_unauthorized_total {}\n", counters_.unauthorized);
  out += TrafficMetrics();
  Reply r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace graymesh::control
