// `graymesh canary start|status|pause|resume|promote|abort SERVICE`
// (docs/canary.md). `start` applies a Canary document (the same a file with
// `graymesh apply` would); with --wait it prints each check as the control
// plane makes it and exits 0 on promotion, 3 on rollback, so a CI job can
// gate on it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/client.h"
#include "config/config.h"
#include "wire/rule_json.h"

namespace graymesh::cli {
namespace {

using nlohmann::json;

constexpr int kRolledBack = 3;

struct StartFlags {
  std::string service;
  config::CanarySpec spec;
  std::string steps = "5,10,25,50,100";
  std::string interval = "30s";
  std::string max_error_rate = "1%";
  std::string max_p99 = "500ms";
  bool wait = false;
  std::string timeout = "0";
};

// The document `start` applies, validated by the same parser as a file.
std::string CanaryDocument(const StartFlags& f) {
  json steps = json::array();
  size_t start = 0;
  while (start <= f.steps.size()) {
    size_t comma = f.steps.find(',', start);
    if (comma == std::string::npos) comma = f.steps.size();
    const std::string item = f.steps.substr(start, comma - start);
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      steps.push_back(v);
    } catch (const std::exception&) {
      Fail(2, fmt::format("--steps: \"{}\" is not a number", item));
    }
    start = comma + 1;
  }
  json spec = {{"lane", f.spec.lane},
               {"steps", steps},
               {"interval", f.interval},
               {"maxErrorRate", f.max_error_rate},
               {"maxP99", f.max_p99},
               {"minRequests", f.spec.min_requests},
               {"failureLimit", f.spec.failure_limit},
               {"stickyOn", f.spec.sticky_on}};
  if (!f.spec.on_promote.empty()) spec["onPromote"] = f.spec.on_promote;
  if (!f.spec.on_rollback.empty()) spec["onRollback"] = f.spec.on_rollback;
  const std::string doc =
      json{{"kind", wire::kCanary}, {"name", f.service}, {"spec", spec}}.dump(1);
  try {
    config::ParseRuleDocuments(doc, "canary start");
  } catch (const config::ConfigError& e) {
    Fail(2, e.what());
  }
  return doc;
}

void PrintCheck(const json& c) {
  const json& lane = c.value("lane", json::object());
  const json& base = c.value("base", json::object());
  auto rate = [](const json& t) {
    const double n = t.value("requests", 0.0);
    return n == 0 ? 0.0 : 100.0 * t.value("errors", 0.0) / n;
  };
  std::printf("  step %d at %u%%: lane %llu requests, %.2f%% errors, p99 %.0fms | base %.2f%% "
              "errors, p99 %.0fms: %s\n",
              c.value("step", 0) + 1, c.value("percent", 0u),
              static_cast<unsigned long long>(lane.value("requests", uint64_t{0})), rate(lane),
              lane.value("p99Seconds", 0.0) * 1000, rate(base), base.value("p99Seconds", 0.0) * 1000,
              c.value("verdict", "").c_str());
  std::fflush(stdout);
}

void PrintStatus(const json& s) {
  std::printf("canary %s: lane %s, %s, step %d at %u%%, %u failed checks%s%s\n",
              s.value("service", "").c_str(), s.value("lane", "").c_str(),
              s.value("phase", "").c_str(), s.value("step", 0) + 1, s.value("percent", 0u),
              s.value("failures", 0u), s.value("reason", "").empty() ? "" : ": ",
              s.value("reason", "").c_str());
}

// Follows the run until it ends; the exit code says how.
int Wait(const ClientFlags& flags, const std::string& service, const std::string& spec_json,
         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t printed = 0;
  int64_t started = -1;
  std::string phase;
  for (;;) {
    int status = 0;
    json s = Call(flags, "GET", "/v1/canaries/" + Encode(service), "", {}, &status);
    // Until the controller has picked the document up, the status is the
    // previous run's (or none).
    if (status == 200 && s.value("spec", "") == spec_json) {
      if (s.value("startedMs", int64_t{0}) != started) {
        started = s.value("startedMs", int64_t{0});
        printed = 0;
      }
      const json& checks = s.value("checks", json::array());
      for (; printed < checks.size(); ++printed) PrintCheck(checks[printed]);
      if (s.value("phase", "") != phase) {
        phase = s.value("phase", "");
        PrintStatus(s);
      }
      if (phase == "promoted") return 0;
      if (phase == "rolled-back") return kRolledBack;
    }
    if (timeout.count() > 0 && std::chrono::steady_clock::now() > deadline) {
      Fail(1, fmt::format("canary {} still {} after --timeout", service, phase));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void RegisterStart(CLI::App* canary) {
  auto f = std::make_shared<StartFlags>();
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* cmd = canary->add_subcommand("start", "Start (or change) a canary of a service");
  cmd->add_option("service", f->service, "The service")->required();
  cmd->add_option("--lane", f->spec.lane, "Lane (tag) of the new version's instances")->required();
  cmd->add_option("--steps", f->steps, "Share of traffic per step, percent")->capture_default_str();
  cmd->add_option("--interval", f->interval, "Time per step")->capture_default_str();
  cmd->add_option("--max-error-rate", f->max_error_rate,
                  "How far the lane's error rate may exceed base's (1% or 0.01)")
      ->capture_default_str();
  cmd->add_option("--max-p99", f->max_p99, "Highest p99 latency of the lane (0 = not checked)")
      ->capture_default_str();
  cmd->add_option("--min-requests", f->spec.min_requests, "Lane requests before a step is judged")
      ->capture_default_str();
  cmd->add_option("--failure-limit", f->spec.failure_limit, "Failed checks that roll back")
      ->capture_default_str();
  cmd->add_option("--sticky-on", f->spec.sticky_on, "What keeps a request's side: trace, header:NAME, ...")
      ->capture_default_str();
  cmd->add_option("--on-promote", f->spec.on_promote, "Command (sh -c) or http:// URL to call");
  cmd->add_option("--on-rollback", f->spec.on_rollback, "Command (sh -c) or http:// URL to call");
  cmd->add_flag("--wait", f->wait, "Follow it; exit 0 when promoted, 3 when rolled back");
  cmd->add_option("--timeout", f->timeout, "With --wait: give up after this long (0 = never)")
      ->capture_default_str();
  AddClientFlags(cmd, flags.get());
  cmd->callback([f, flags] {
    const std::string doc = CanaryDocument(*f);
    config::Millis timeout{0};
    try {
      timeout = config::ParseDuration(f->timeout);
    } catch (const std::exception& e) {
      Fail(2, fmt::format("--timeout {}: {}", f->timeout, e.what()));
    }
    json r = Call(*flags, "POST", "/v1/apply", doc,
                  {{"content-type", "application/yaml"}, {"x-graymesh-file", "canary start"}});
    std::string result = "applied";
    for (const json& item : r.value("results", json::array())) result = item.value("result", result);
    std::printf("canary/%s %s\n", f->service.c_str(), result.c_str());
    std::fflush(stdout);
    if (!f->wait) return;
    // The spec as the control plane stores it: what the run records.
    json stored = Call(*flags, "GET", "/v1/rules/Canary/" + Encode(f->service));
    const std::string spec_json = stored.value("spec", json::object()).dump();
    const int rc = Wait(*flags, f->service, spec_json, timeout);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

void RegisterCommand(CLI::App* canary, const char* name, const char* help) {
  auto flags = std::make_shared<ClientFlags>();
  auto service = std::make_shared<std::string>();
  CLI::App* cmd = canary->add_subcommand(name, help);
  cmd->add_option("service", *service, "The service")->required();
  AddClientFlags(cmd, flags.get());
  const std::string command = name;
  cmd->callback([flags, service, command] {
    const std::string path = "/v1/canaries/" + Encode(*service);
    int status = 0;
    json s = command == "status" ? Call(*flags, "GET", path, "", {}, &status)
                                 : Call(*flags, "POST", path + "/" + command, "", {}, &status);
    if (status == 404) Fail(1, fmt::format("no canary for service \"{}\"", *service));
    PrintStatus(s);
    if (command == "status") {
      for (const json& c : s.value("checks", json::array())) PrintCheck(c);
    }
  });
}

}  // namespace

void RegisterCanary(CLI::App& app) {
  CLI::App* canary = app.add_subcommand("canary", "Canary releases with automatic rollback");
  canary->require_subcommand(1);
  RegisterStart(canary);
  RegisterCommand(canary, "status", "Show a canary's state and its checks");
  RegisterCommand(canary, "pause", "Hold a canary at its step");
  RegisterCommand(canary, "resume", "Go on with a paused canary");
  RegisterCommand(canary, "promote", "Promote now: the lane's instances become the service's base");
  RegisterCommand(canary, "abort", "Roll back now: all traffic to base");
}

}  // namespace graymesh::cli
