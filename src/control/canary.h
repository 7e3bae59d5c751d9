// Canary releases (docs/canary.md). A `Canary` rule document names a service
// and a lane; the controller moves the share of the service's requests that
// enter the lane through the document's steps, and at each step judges the
// lane's live error rate and p99 against base's. The share is a
// service-scoped TrafficLane (`canary-SERVICE`, entrance.service = SERVICE,
// one clause `percent: P` sticky on the trace id): it applies wherever a
// request goes to the service, at any depth of the chain, and the lane then
// follows the request on like any other.
//
// The run's state is a rule of the internal kind `CanaryStatus` in the same
// store, so a restarted control plane resumes where it was; every
// transition is written with ApplyRulesIf guarded by the status's revision,
// so of two replicas exactly one makes each step (and runs each hook).
//
// Promotion and rollback change no registration: the overrides are applied
// where the control plane reads its registry (ApplyCanaryOverrides), so a
// sidecar that registers again cannot undo them.
//
// Thread-safety: a CanaryController is used from the control plane's io
// thread only; its store calls block like the API's.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "control/store.h"

namespace graymesh::control {

inline constexpr const char* kCanaryStatus = "CanaryStatus";  // internal rule kind

// What the proxies saw of requests to a service, served in one lane ("" =
// base), between two times.
struct CanaryTraffic {
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx
  double p99_seconds = 0;
  double ErrorRate() const { return requests == 0 ? 0 : double(errors) / double(requests); }
};
using CanaryTrafficSource = std::function<CanaryTraffic(
    const std::string& service, const std::string& lane_served, int64_t from_ms, int64_t to_ms)>;

enum class CanaryPhase { kProgressing, kPaused, kPromoted, kRolledBack };
const char* PhaseName(CanaryPhase p);

struct CanaryCheck {
  int64_t time_ms = 0;
  int step = 0;
  uint32_t percent = 0;
  CanaryTraffic lane, base;
  std::string verdict;  // "passed", "failed: …", "waiting: …"
};

struct CanaryStatus {
  std::string service;
  std::string lane;
  std::string spec_json;  // of the Canary document this run follows
  CanaryPhase phase = CanaryPhase::kProgressing;
  int step = 0;           // index into the spec's steps
  uint32_t percent = 0;   // the share the lane has now
  int64_t started_ms = 0;
  int64_t step_started_ms = 0;  // start of the window being judged
  uint32_t failures = 0;
  std::string reason;  // why it was promoted or rolled back
  int64_t updated_ms = 0;
  std::vector<CanaryCheck> checks;  // the latest, oldest first (at most kMaxChecks)
  int64_t revision = 0;             // of the status rule in the store (for the guard)

  static constexpr size_t kMaxChecks = 100;
  bool Done() const { return phase == CanaryPhase::kPromoted || phase == CanaryPhase::kRolledBack; }
};

nlohmann::json StatusToJson(const CanaryStatus& s);
// Throws std::exception on a malformed status.
CanaryStatus StatusFromJson(const nlohmann::json& j);

// The TrafficLane document that gives `lane` `percent` of `service`'s requests.
Rule CanaryLaneRule(const config::CanarySpec& spec, uint32_t percent);

// Rewrites instances as canaries left them: a promoted canary's lane
// instances become base and the old base ones `retired`; a rolled-back one's
// lane instances become `rolled-back`. `rules` is the store's rule list.
void ApplyCanaryOverrides(const std::vector<Rule>& rules, std::vector<Instance>* instances);

class CanaryController {
 public:
  // Told about every step and decision (release events).
  using EventSink = std::function<void(const CanaryStatus& s, const std::string& what)>;

  CanaryController(Store& store, CanaryTrafficSource traffic, EventSink events = {});

  // Advances every canary whose time has come; `now_ms` is unix time (tests
  // drive it). Store errors are logged and retried at the next tick.
  void Tick(int64_t now_ms);

  // pause | resume | promote | abort. nullopt and `*error` when there is no
  // such canary, the command is unknown, or the run is already over.
  std::optional<CanaryStatus> Command(const std::string& service, const std::string& command,
                                      int64_t now_ms, std::string* error);

  std::vector<CanaryStatus> List();
  std::optional<CanaryStatus> Get(const std::string& service);

 private:
  // Writes `next` (and its lane rule) if the stored status is still `prev`'s
  // revision; false when another writer moved it first.
  bool Commit(const CanaryStatus& prev_or_new, CanaryStatus next, const config::CanarySpec& spec);
  void Judge(CanaryStatus s, const config::CanarySpec& spec, int64_t now_ms);
  void RunHook(const std::string& hook, const CanaryStatus& s);

  Store& store_;
  CanaryTrafficSource traffic_;
  EventSink events_;
};

}  // namespace graymesh::control
