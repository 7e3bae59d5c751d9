#include "control/canary.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <thread>

#include "wire/api_client.h"
#include "wire/rule_json.h"

extern char** environ;

namespace graymesh::control {
namespace {

using nlohmann::json;

json TrafficToJson(const CanaryTraffic& t) {
  return {{"requests", t.requests}, {"errors", t.errors}, {"p99Seconds", t.p99_seconds}};
}

CanaryTraffic TrafficFromJson(const json& j) {
  CanaryTraffic t;
  t.requests = j.value("requests", uint64_t{0});
  t.errors = j.value("errors", uint64_t{0});
  t.p99_seconds = j.value("p99Seconds", 0.0);
  return t;
}

CanaryPhase ParsePhase(const std::string& s) {
  if (s == "progressing") return CanaryPhase::kProgressing;
  if (s == "paused") return CanaryPhase::kPaused;
  if (s == "promoted") return CanaryPhase::kPromoted;
  if (s == "rolled-back") return CanaryPhase::kRolledBack;
  throw std::invalid_argument("canary status: unknown phase \"" + s + "\"");
}

std::optional<config::CanarySpec> SpecOf(const Rule& r) {
  try {
    std::vector<config::RuleDocument> docs = wire::RulesFromJson(
        {json{{"kind", r.kind}, {"name", r.name}, {"spec", json::parse(r.spec_json)}}}, "store");
    if (docs.size() == 1) return docs[0].canary;
  } catch (const std::exception& e) {
    spdlog::error("canary {}: stored spec no longer parses: {}", r.name, e.what());
  }
  return std::nullopt;
}

std::optional<CanaryStatus> StatusOf(const Rule& r) {
  try {
    CanaryStatus s = StatusFromJson(json::parse(r.spec_json));
    s.revision = r.revision;
    return s;
  } catch (const std::exception& e) {
    spdlog::error("canary {}: stored status unreadable: {}", r.name, e.what());
    return std::nullopt;
  }
}

std::string Percent(double rate) { return fmt::format("{:.2f}%", rate * 100); }

}  // namespace

const char* PhaseName(CanaryPhase p) {
  switch (p) {
    case CanaryPhase::kProgressing:
      return "progressing";
    case CanaryPhase::kPaused:
      return "paused";
    case CanaryPhase::kPromoted:
      return "promoted";
    case CanaryPhase::kRolledBack:
      return "rolled-back";
  }
  return "progressing";
}

json StatusToJson(const CanaryStatus& s) {
  json checks = json::array();
  for (const CanaryCheck& c : s.checks) {
    checks.push_back({{"timeMs", c.time_ms},
                      {"step", c.step},
                      {"percent", c.percent},
                      {"lane", TrafficToJson(c.lane)},
                      {"base", TrafficToJson(c.base)},
                      {"verdict", c.verdict}});
  }
  return {{"service", s.service},     {"lane", s.lane},
          {"spec", s.spec_json},      {"phase", PhaseName(s.phase)},
          {"step", s.step},           {"percent", s.percent},
          {"startedMs", s.started_ms}, {"stepStartedMs", s.step_started_ms},
          {"failures", s.failures},   {"reason", s.reason},
          {"updatedMs", s.updated_ms}, {"checks", checks}};
}

CanaryStatus StatusFromJson(const json& j) {
  CanaryStatus s;
  s.service = j.at("service").get<std::string>();
  s.lane = j.at("lane").get<std::string>();
  s.spec_json = j.value("spec", "");
  s.phase = ParsePhase(j.at("phase").get<std::string>());
  s.step = j.value("step", 0);
  s.percent = j.value("percent", 0u);
  s.started_ms = j.value("startedMs", int64_t{0});
  s.step_started_ms = j.value("stepStartedMs", int64_t{0});
  s.failures = j.value("failures", 0u);
  s.reason = j.value("reason", "");
  s.updated_ms = j.value("updatedMs", int64_t{0});
  for (const json& c : j.value("checks", json::array())) {
    CanaryCheck k;
    k.time_ms = c.value("timeMs", int64_t{0});
    k.step = c.value("step", 0);
    k.percent = c.value("percent", 0u);
    k.lane = TrafficFromJson(c.value("lane", json::object()));
    k.base = TrafficFromJson(c.value("base", json::object()));
    k.verdict = c.value("verdict", "");
    s.checks.push_back(std::move(k));
  }
  return s;
}

Rule CanaryLaneRule(const config::CanarySpec& spec, uint32_t percent) {
  config::Lane lane;
  lane.name = "canary-" + spec.service;
  lane.tag = spec.lane;
  lane.service = spec.service;
  config::MatchClause clause;
  clause.percent = static_cast<int>(percent);
  clause.sticky_on = spec.sticky_on;
  lane.match.push_back(clause);
  Rule r;
  r.kind = wire::kTrafficLane;
  r.name = lane.name;
  r.spec_json = wire::LaneSpecToJson(lane).dump();
  return r;
}

void ApplyCanaryOverrides(const std::vector<Rule>& rules, std::vector<Instance>* instances) {
  for (const Rule& r : rules) {
    if (r.kind != kCanaryStatus) continue;
    std::optional<CanaryStatus> s = StatusOf(r);
    if (!s || !s->Done()) continue;
    for (Instance& i : *instances) {
      if (i.spec.service != s->service) continue;
      const bool in_lane = i.spec.lane == s->lane;
      if (s->phase == CanaryPhase::kPromoted) {
        if (in_lane) {
          i.spec.lane.clear();
          i.spec.labels.erase("lane");
        } else if (i.spec.lane.empty()) {
          i.spec.state = InstanceState::kRetired;
        }
      } else if (in_lane) {
        i.spec.state = InstanceState::kRolledBack;
      }
    }
  }
}

CanaryController::CanaryController(Store& store, CanaryTrafficSource traffic, EventSink events)
    : store_(store), traffic_(std::move(traffic)), events_(std::move(events)) {}

bool CanaryController::Commit(const CanaryStatus& prev, CanaryStatus next,
                              const config::CanarySpec& spec) {
  Rule status{kCanaryStatus, next.service, StatusToJson(next).dump()};
  // The share ends with the run: a promoted lane is base now, a rolled-back
  // one takes nothing.
  Rule lane = CanaryLaneRule(spec, next.Done() ? 0 : next.percent);
  const RuleGuard guard{kCanaryStatus, prev.service, prev.revision};
  return store_.ApplyRulesIf({status, lane}, guard).has_value();
}

void CanaryController::Tick(int64_t now_ms) {
  StoreState state = store_.Read();
  std::map<std::string, const Rule*> docs, statuses;
  for (const Rule& r : state.rules) {
    if (r.kind == wire::kCanary) docs[r.name] = &r;
    if (r.kind == kCanaryStatus) statuses[r.name] = &r;
  }
  // A deleted Canary document ends its run and its overrides.
  for (const auto& [service, st] : statuses) {
    if (docs.contains(service)) continue;
    if (store_.DeleteRule(kCanaryStatus, service)) {
      store_.DeleteRule(wire::kTrafficLane, "canary-" + service);
      spdlog::info("canary {}: document deleted; its status and share are gone", service);
    }
  }
  for (const auto& [service, doc] : docs) {
    std::optional<config::CanarySpec> spec = SpecOf(*doc);
    if (!spec) continue;
    std::optional<CanaryStatus> cur;
    if (auto it = statuses.find(service); it != statuses.end()) cur = StatusOf(*it->second);
    if (!cur || (cur->Done() && cur->spec_json != doc->spec_json)) {
      // A new run: the document is new, or was applied again changed after
      // the last run ended.
      CanaryStatus prev;
      prev.service = service;
      prev.revision = cur ? cur->revision : 0;
      CanaryStatus next;
      next.service = service;
      next.lane = spec->lane;
      next.spec_json = doc->spec_json;
      next.percent = spec->steps[0];
      next.started_ms = next.step_started_ms = next.updated_ms = now_ms;
      if (Commit(prev, next, *spec)) {
        spdlog::info("canary {}: started, lane {} at {}%", service, next.lane, next.percent);
        if (events_) events_(next, fmt::format("started: lane {} at {}%", next.lane, next.percent));
      }
      continue;
    }
    if (cur->Done()) continue;
    if (cur->spec_json != doc->spec_json) {
      // Applied again mid-run: follow the new steps from the same index.
      CanaryStatus next = *cur;
      next.spec_json = doc->spec_json;
      next.lane = spec->lane;
      next.step = std::min<int>(next.step, int(spec->steps.size()) - 1);
      next.percent = spec->steps[next.step];
      next.updated_ms = now_ms;
      Commit(*cur, next, *spec);
      continue;
    }
    if (cur->phase == CanaryPhase::kProgressing &&
        now_ms - cur->step_started_ms >= spec->interval.count()) {
      Judge(*cur, *spec, now_ms);
    }
  }
}

void CanaryController::Judge(CanaryStatus s, const config::CanarySpec& spec, int64_t now_ms) {
  const CanaryStatus prev = s;
  CanaryCheck check;
  check.time_ms = now_ms;
  check.step = s.step;
  check.percent = s.percent;
  if (traffic_) {
    check.lane = traffic_(s.service, s.lane, s.step_started_ms, now_ms);
    check.base = traffic_(s.service, "", s.step_started_ms, now_ms);
  }
  std::string what;
  if (check.lane.requests < spec.min_requests) {
    // Not judged yet: the window grows until it holds enough requests.
    check.verdict = fmt::format("waiting: {} of {} lane requests", check.lane.requests,
                                spec.min_requests);
  } else {
    std::string failed;
    if (check.lane.ErrorRate() > check.base.ErrorRate() + spec.max_error_rate) {
      failed = fmt::format("error rate {} vs base {} (max {} above base)",
                           Percent(check.lane.ErrorRate()), Percent(check.base.ErrorRate()),
                           Percent(spec.max_error_rate));
    } else if (spec.max_p99.count() > 0 && check.lane.p99_seconds * 1000 > spec.max_p99.count()) {
      failed = fmt::format("p99 {:.0f}ms over {}ms (base {:.0f}ms)", check.lane.p99_seconds * 1000,
                           spec.max_p99.count(), check.base.p99_seconds * 1000);
    }
    if (!failed.empty()) {
      check.verdict = "failed: " + failed;
      s.failures++;
      s.step_started_ms = now_ms;
      if (s.failures >= spec.failure_limit) {
        s.phase = CanaryPhase::kRolledBack;
        s.reason = fmt::format("step {} ({}%): {}", s.step + 1, s.percent, failed);
        s.percent = 0;
        what = "rolled back: " + s.reason;
      } else {
        what = fmt::format("step {} ({}%) check failed ({} of {}): {}", s.step + 1, s.percent,
                           s.failures, spec.failure_limit, failed);
      }
    } else {
      check.verdict = "passed";
      if (s.step + 1 >= int(spec.steps.size())) {
        s.phase = CanaryPhase::kPromoted;
        s.reason = fmt::format("every step passed ({} lane requests in the last)",
                               check.lane.requests);
        what = "promoted: " + s.reason;
      } else {
        s.step++;
        s.percent = spec.steps[s.step];
        s.step_started_ms = now_ms;
        what = fmt::format("step {} passed; lane {} at {}%", s.step, s.lane, s.percent);
      }
    }
  }
  s.checks.push_back(check);
  if (s.checks.size() > CanaryStatus::kMaxChecks) s.checks.erase(s.checks.begin());
  s.updated_ms = now_ms;
  if (!Commit(prev, s, spec)) return;  // another replica judged this window
  if (what.empty()) return;
  spdlog::info("canary {}: {}", s.service, what);
  if (events_) events_(s, what);
  if (s.phase == CanaryPhase::kPromoted) RunHook(spec.on_promote, s);
  if (s.phase == CanaryPhase::kRolledBack) RunHook(spec.on_rollback, s);
}

std::optional<CanaryStatus> CanaryController::Command(const std::string& service,
                                                      const std::string& command, int64_t now_ms,
                                                      std::string* error) {
  std::optional<Rule> doc = store_.GetRule(wire::kCanary, service);
  std::optional<Rule> st = store_.GetRule(kCanaryStatus, service);
  if (!doc || !st) {
    *error = "no canary for service \"" + service + "\"";
    return std::nullopt;
  }
  std::optional<config::CanarySpec> spec = SpecOf(*doc);
  std::optional<CanaryStatus> cur = StatusOf(*st);
  if (!spec || !cur) {
    *error = "canary \"" + service + "\" is unreadable in the store";
    return std::nullopt;
  }
  if (cur->Done()) {
    *error = fmt::format("canary \"{}\" is over ({})", service, PhaseName(cur->phase));
    return std::nullopt;
  }
  CanaryStatus next = *cur;
  next.updated_ms = now_ms;
  std::string what;
  if (command == "pause") {
    next.phase = CanaryPhase::kPaused;
    what = fmt::format("paused at {}%", next.percent);
  } else if (command == "resume") {
    next.phase = CanaryPhase::kProgressing;
    next.step_started_ms = now_ms;  // the paused time is not judged
    what = fmt::format("resumed at {}%", next.percent);
  } else if (command == "promote") {
    next.phase = CanaryPhase::kPromoted;
    next.reason = "promoted by hand";
    what = "promoted: " + next.reason;
  } else if (command == "abort") {
    next.phase = CanaryPhase::kRolledBack;
    next.reason = "aborted by hand";
    next.percent = 0;
    what = "rolled back: " + next.reason;
  } else {
    *error = "unknown command \"" + command + "\" (expected pause, resume, promote or abort)";
    return std::nullopt;
  }
  if (!Commit(*cur, next, *spec)) {
    *error = "canary \"" + service + "\" changed meanwhile; try again";
    return std::nullopt;
  }
  spdlog::info("canary {}: {}", service, what);
  if (events_) events_(next, what);
  if (next.phase == CanaryPhase::kPromoted) RunHook(spec->on_promote, next);
  if (next.phase == CanaryPhase::kRolledBack) RunHook(spec->on_rollback, next);
  return Get(service);
}

std::vector<CanaryStatus> CanaryController::List() {
  std::vector<CanaryStatus> out;
  for (const Rule& r : store_.ListRules(kCanaryStatus)) {
    if (std::optional<CanaryStatus> s = StatusOf(r)) out.push_back(std::move(*s));
  }
  return out;
}

std::optional<CanaryStatus> CanaryController::Get(const std::string& service) {
  std::optional<Rule> r = store_.GetRule(kCanaryStatus, service);
  if (!r) return std::nullopt;
  return StatusOf(*r);
}

void CanaryController::RunHook(const std::string& hook, const CanaryStatus& s) {
  if (hook.empty()) return;
  const std::string body = StatusToJson(s).dump();
  // Off the io thread: a slow hook must not hold the control plane.
  std::thread([hook, body, s] {
    if (hook.starts_with("http://")) {
      try {
        wire::ApiResult r = wire::CallControl(wire::ParseControlUrl(hook), "", "POST", "", body,
                                              {{"content-type", "application/json"}},
                                              std::chrono::seconds(10));
        if (r.status < 200 || r.status > 299) {
          spdlog::warn("canary {}: hook {} answered {} {}", s.service, hook, r.status, r.error);
        }
      } catch (const std::exception& e) {
        spdlog::warn("canary {}: hook {}: {}", s.service, hook, e.what());
      }
      return;
    }
    // sh -c HOOK, with the outcome in its environment (nothing quoted into
    // the command line).
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back("GRAYMESH_CANARY_SERVICE=" + s.service);
    env.push_back("GRAYMESH_CANARY_LANE=" + s.lane);
    env.push_back("GRAYMESH_CANARY_PHASE=" + std::string(PhaseName(s.phase)));
    env.push_back("GRAYMESH_CANARY_REASON=" + s.reason);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string sh = "sh", dash_c = "-c", cmd = hook;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawnp(&pid, "sh", nullptr, nullptr, argv, envp.data()) != 0) {
      spdlog::warn("canary {}: hook \"{}\" could not start", s.service, hook);
      return;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      spdlog::warn("canary {}: hook \"{}\" failed (status {})", s.service, hook, status);
    }
  }).detach();
}

}  // namespace graymesh::control
