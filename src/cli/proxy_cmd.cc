// `graymesh gateway` and `graymesh proxy`: the two data-plane roles, one core.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "config/config.h"
#include "lane/propagation.h"
#include "wire/api_client.h"
#include "wire/json_limits.h"
#include "wire/gateway_listeners.h"
#include "wire/snapshot_json.h"
#include "proxy/app_process.h"
#include "proxy/app_watch.h"
#include "proxy/control_agent.h"
#include "proxy/server.h"
#include "proxy/traffic_reporter.h"

namespace graymesh::cli {
namespace {

struct DataPlaneFlags {
  std::string config_file;
  std::string admin;
  int workers = -1;
  // gateway
  std::string listen;
  std::string listen_name = "ingress";
  std::string tcp_listen;
  std::string tcp_service;
  // sidecar
  std::string service;
  std::string app;
  std::string inbound = "0.0.0.0:15006";
  std::string outbound = "127.0.0.1:15001";
  std::string lane;
  std::string lane_file;
  std::string advertise;
  // control plane
  std::string control;
  std::string token;
  std::string cache;
  std::vector<std::string> labels;
  std::vector<std::string> lane_headers;
  uint32_t trace_capacity = 65536;
  std::string trace_ttl = "60s";
  std::string trust;  // gateway listeners / the sidecar's inbound side; "" = the default
  // sidecar lifecycle (docs/lifecycle.md)
  std::string ready_path;
  std::string delay_registration;  // "" = ServicePolicy.lossless.delayRegistration, else 0
  std::string drain_timeout;       // "" = ServicePolicy.lossless.drainTimeout, else timeouts.drain
  std::string drain_quiet = "1s";
  bool no_drain = false;
  std::vector<std::string> command;  // after `--`: the app, run by the sidecar
  std::string report_interval = "5s";
  std::string access_log;  // for HTTP listeners without an accessLog of their own
};

// A duration flag; exits 2 naming the flag on a bad value.
config::Millis DurationFlag(const std::string& flag, const std::string& text) {
  try {
    return config::ParseDuration(text);
  } catch (const std::exception& e) {
    spdlog::error("--{} {}: {}", flag, text, e.what());
    std::exit(2);
  }
}

// This service's ServicePolicy.lossless, when the snapshot carries one.
const config::LosslessPolicy* LosslessOf(const config::Config& cfg) {
  for (const config::ServicePolicy& p : cfg.policies) {
    if (p.service == cfg.node.service && p.lossless) return &*p.lossless;
  }
  return nullptr;
}

// The sidecar's drain, wired to the registry (`agent`, may be null) and the
// app it runs (`app`, may be null); docs/lifecycle.md has the order.
void AddLifecycle(const DataPlaneFlags& f, proxy::ControlAgent* agent, proxy::AppProcess* app,
                  proxy::ServerOptions* o) {
  o->lossless = !f.no_drain;
  o->quiet = DurationFlag("drain-quiet", f.drain_quiet);
  if (!f.drain_timeout.empty()) {
    o->drain_timeout = DurationFlag("drain-timeout", f.drain_timeout);
  } else {
    // From the snapshot running when the drain starts, not the first one.
    o->drain_timeout_of = [](const config::Config& running) -> std::optional<config::Millis> {
      const config::LosslessPolicy* policy = LosslessOf(running);
      if (policy == nullptr) return std::nullopt;
      return policy->drain_timeout;  // unset: the configuration's timeouts.drain
    };
  }
  const bool lossless = o->lossless;
  o->on_drain = [agent, app, lossless] {
    if (lossless) {
      if (agent != nullptr) agent->Draining();
    } else if (app != nullptr) {
      app->Terminate();  // --no-drain: app and sidecar stop together
    }
  };
  o->on_entry_done = [agent, app] {
    if (agent != nullptr) agent->Deregister();
    if (app != nullptr) app->Terminate();
  };
  if (app != nullptr) o->app_running = [app] { return app->Running(); };
}

// The sidecar's exit status: the app's when it runs one (after the drain,
// so it has had its SIGTERM; one that outlives a drain timeout is killed).
int Finish(int rc, proxy::AppProcess* app) {
  if (app == nullptr) return rc;
  app->Terminate();
  for (int i = 0; i < 100 && app->Running(); ++i) usleep(10'000);
  if (app->Running()) {
    spdlog::warn("the app is still running after the drain: killing it");
    app->Kill();
  }
  spdlog::info("the app exited with {}", app->exit_code());
  return rc != 0 ? rc : app->exit_code();
}

// --access-log: every HTTP listener without its own accessLog writes there.
void ApplyAccessLogFlag(const std::string& target, config::Config* cfg) {
  if (target.empty()) return;
  for (config::Listener& l : cfg->listeners) {
    if (l.kind != config::ListenerKind::kTcp && l.access_log.empty()) l.access_log = target;
  }
}

// What names this proxy process in its traffic reports: stable across its
// restarts (the control plane sees startedMs change), distinct between proxies.
std::string NodeId(const DataPlaneFlags& f, const std::string& role) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const std::string where = role == "proxy" ? f.service + "@" + f.advertise : f.listen_name;
  return role + "/" + host + "/" + where + (f.admin.empty() ? "" : "/" + f.admin);
}

// `--trust` as config::Trust; exits 2 on a bad value.
config::Trust TrustFlag(const std::string& text) {
  try {
    return config::ParseTrust(text);
  } catch (const std::exception& e) {
    spdlog::error("--trust {}: {}", text, e.what());
    std::exit(2);
  }
}

// The `graymesh.io/lane` label of a Kubernetes downward-API labels file
// (lines of key="value"); "" when absent. Exits 2 when the file is unreadable.
std::string LaneFromLabelsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    spdlog::error("--lane-file {}: cannot read", path);
    std::exit(2);
  }
  std::string line;
  const std::string key = "graymesh.io/lane=";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::string value = line.substr(key.size());
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return "";
}

// Loads the file, or starts from defaults. Exits 2 with "FILE:LINE: reason"
// on any failure.
config::Config LoadOrDefault(const std::string& file) {
  if (file.empty()) return config::Config{};
  try {
    return config::LoadConfigFile(file);
  } catch (const config::ConfigError& e) {
    spdlog::error("invalid configuration: {}", e.what());
    std::exit(2);
  } catch (const std::exception& e) {  // bad_alloc and the like: still an error, not an abort
    spdlog::error("invalid configuration: {}: {}", file, e.what());
    std::exit(2);
  }
}

// `flag` names the option in errors.
config::Listener MakeListener(const std::string& flag, const std::string& name,
                              config::ListenerKind kind, const std::string& address,
                              const std::string& service = "") {
  try {
    return {.name = name, .kind = kind, .address = config::ParseHostPort(address),
            .service = service};
  } catch (const std::exception& e) {
    spdlog::error("--{} {}: {}", flag, address, e.what());
    std::exit(2);
  }
}

// How a role makes its configuration: its flags on top of a base, which is
// the file, with the latest control-plane snapshot applied when there is one.
using Build = std::function<config::Config(config::Config)>;

int Run(proxy::Server& server, const std::string& role) {
  try {
    server.Start();
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", role, e.what());
    return 1;
  }
  return server.Run();
}

int Serve(const DataPlaneFlags& f, const std::string& role, const Build& build) {
  const std::string admin = f.admin == "none" ? "" : f.admin;
  // The app first, before any thread of ours exists (fork copies only the caller).
  std::unique_ptr<proxy::AppProcess> app;
  if (!f.command.empty()) {
    try {
      app = std::make_unique<proxy::AppProcess>(f.command);
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", f.command[0], e.what());
      return 1;
    }
    spdlog::info("started the app: {} (pid {})", f.command[0], app->pid());
  }
  if (f.control.empty()) {  // static: the file, reloaded on SIGHUP
    config::Config cfg = build(LoadOrDefault(f.config_file));
    if (cfg.listeners.empty()) {
      spdlog::error("{}: nothing to listen on (give --listen or listeners in --config)", role);
      return 2;
    }
    const std::string file = f.config_file;
    proxy::ServerOptions options{.admin_address = admin, .role = role, .reload = [build, file] {
                                   return std::make_shared<const config::Config>(build(
                                       file.empty() ? config::Config{} : config::LoadConfigFile(file)));
                                 }};
    // No registry to gate on: /ready follows the app's own readiness.
    std::unique_ptr<proxy::AppWatch> watch;
    if (role == "proxy") {
      AddLifecycle(f, nullptr, app.get(), &options);
      watch = std::make_unique<proxy::AppWatch>(
          proxy::AppProbe{.address = f.app, .path = f.ready_path});
      options.ready = [w = watch.get()] { return w->ready(); };
    }
    proxy::Server server(std::make_shared<const config::Config>(std::move(cfg)), options);
    return Finish(Run(server, role), app.get());
  }

  proxy::ControlAgentOptions opt;
  try {
    std::string list = f.control;  // "URL[,URL...]": the replicas
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      if (comma > start) opt.urls.push_back(wire::ParseControlUrl(list.substr(start, comma - start)));
      start = comma + 1;
    }
    if (opt.urls.empty()) throw std::invalid_argument("no URL");
  } catch (const std::exception& e) {
    spdlog::error("--control {}: {}", f.control, e.what());
    return 2;
  }
  opt.token = f.token;
  opt.cache_path = f.cache;
  std::chrono::milliseconds report_interval{0};
  try {
    report_interval = config::ParseDuration(f.report_interval);
  } catch (const std::exception& e) {
    spdlog::error("--report-interval {}: {}", f.report_interval, e.what());
    return 2;
  }
  if (report_interval.count() > 0 && report_interval.count() < 100) {
    spdlog::error("--report-interval {}: use 100ms or more (0 = no reports)", f.report_interval);
    return 2;
  }
  if (role == "proxy") {
    const config::Node node = build(config::Config{}).node;  // lane and labels as flags say
    opt.service = f.service;
    opt.address = f.advertise;
    opt.app_address = f.app;
    opt.ready_path = f.ready_path;
    opt.lane = node.lane;
    opt.labels = node.labels;
  }
  const config::Config file_cfg = LoadOrDefault(f.config_file);
  if (role == "gateway") {
    // Sent on the watch, for apply's warnings about unknown listener names.
    for (const config::Listener& l : build(file_cfg).listeners) {
      if (l.kind != config::ListenerKind::kGateway && l.kind != config::ListenerKind::kTcp) continue;
      std::string bad;
      wire::GatewayListeners::Parse(l.name, &bad);
      if (bad.empty()) {
        opt.gateway_listeners.push_back(l.name);
      } else {
        spdlog::warn("listener '{}': not sent to the control plane: {}", l.name, bad);
      }
    }
  }
  // The delay is known once the first snapshot (and its policies) is in.
  auto agent = std::make_unique<proxy::ControlAgent>(opt, [file_cfg, build](const std::string& body) {
    config::Config cfg = file_cfg;
    // Bounded depth: the body comes from the network or the cache file.
    wire::ApplySnapshotJson(wire::ParseJsonOrThrow(body, "snapshot"), &cfg);
    return build(std::move(cfg));
  });
  std::shared_ptr<const config::Config> initial;
  try {
    initial = agent->Initial(std::chrono::seconds(3));
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", role, e.what());
    return Finish(1, app.get());
  }
  // --delay-registration, else the policy of the snapshot in hand: the first
  // one here, every later one as it is applied (until the instance registers).
  const bool delay_from_policy = role == "proxy" && f.delay_registration.empty();
  auto policy_delay = [](const config::Config& cfg) {
    const config::LosslessPolicy* policy = LosslessOf(cfg);
    return policy != nullptr ? policy->delay_registration.value_or(config::Millis(0))
                             : config::Millis(0);
  };
  if (role == "proxy") {
    agent->SetDelayRegistration(delay_from_policy
                                    ? policy_delay(*initial)
                                    : DurationFlag("delay-registration", f.delay_registration));
  }
  const bool registers = !opt.service.empty();
  proxy::ControlAgent& a = *agent;
  proxy::ServerOptions options{.admin_address = admin,
                               .role = role,
                               .reload = nullptr,
                               .ready = [&a, registers] {
                                 return a.has_snapshot() &&
                                        (!registers || (a.registered() && a.app_ready()));
                               },
                               .on_drain = [&a] { a.Draining(); }};
  if (role == "proxy") AddLifecycle(f, &a, app.get(), &options);
  proxy::Server server(initial, options);
  proxy::TrafficReporter reporter({.urls = opt.urls,
                                   .token = opt.token,
                                   .node = NodeId(f, role),
                                   .service = role == "proxy" ? f.service : "",
                                   .gateway = role == "gateway" ? f.listen_name : "",
                                   .interval = report_interval,
                                   .collect = [&server] { return server.CollectTraffic(); },
                                   .instance = [&a] { return a.instance_id(); }});
  // Listeners first: an instance is registered only where it accepts.
  try {
    server.Start();
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", role, e.what());
    return Finish(1, app.get());
  }
  a.Start([&server, &a, delay_from_policy, policy_delay](std::shared_ptr<const config::Config> cfg) {
    if (delay_from_policy) a.SetDelayRegistration(policy_delay(*cfg));
    server.ApplyAsync(cfg);
  });
  if (report_interval.count() > 0) reporter.Start();  // after Start: it reads the workers
  int rc = server.Run();
  reporter.Stop();
  a.Stop();
  return Finish(rc, app.get());
}

}  // namespace

void AddControlFlags(CLI::App* cmd, DataPlaneFlags* f) {
  cmd->add_option("--control", f->control,
                  "control plane URL[,URL...] (replicas, tried in turn); snapshots replace "
                  "--config's services, routes and lanes")
      ->envname("GRAYMESH_CONTROL");
  cmd->add_option("--token", f->token, "bearer token for the control plane")
      ->envname("GRAYMESH_TOKEN");
  cmd->add_option("--report-interval", f->report_interval,
                  "how often traffic counters are pushed to the control plane (0 = never)")
      ->envname("GRAYMESH_REPORT_INTERVAL")
      ->capture_default_str();
  cmd->add_option("--access-log", f->access_log,
                  "access log of the HTTP listeners: stdout, stderr or a file (JSON lines)");
  cmd->add_option("--cache", f->cache,
                  "where the last snapshot is kept, to start when the control plane is down");
}

void RegisterDataPlane(CLI::App& app) {
  auto flags = std::make_shared<DataPlaneFlags>();

  CLI::App* gw = app.add_subcommand("gateway", "ingress gateway: routes by host/path to services");
  gw->add_option("--config", flags->config_file, "static configuration (YAML)");
  gw->add_option("--listen", flags->listen, "HTTP listen address, e.g. 0.0.0.0:8080");
  gw->add_option("--listen-name", flags->listen_name,
                 "name of the --listen listener, for entrance.gateway in lane rules")
      ->capture_default_str();
  gw->add_option("--admin", flags->admin, "admin address (metrics, ready, drain), or none")
      ->default_val("127.0.0.1:15021");
  gw->add_option("--workers", flags->workers, "worker threads (default: cores)");
  AddControlFlags(gw, flags.get());
  gw->add_option("--tcp-listen", flags->tcp_listen, "TCP entry listen address");
  gw->add_option("--tcp-service", flags->tcp_service, "the service the TCP entry forwards to");
  gw->add_option("--trust", flags->trust,
                 "clients whose lane headers are believed: none (default), loopback, all or "
                 "CIDR,...; for gateway listeners without their own trust");
  gw->callback([flags] {
    // Flags on top of the file; SIGHUP runs this again on a fresh read.
    auto build = [flags](config::Config cfg) {
      if (!flags->listen.empty()) {
        // Named like the documented example (`entrance.gateway: ingress`).
        cfg.listeners.push_back(
            MakeListener("listen", flags->listen_name, config::ListenerKind::kGateway, flags->listen));
      }
      if (!flags->tcp_listen.empty()) {
        cfg.listeners.push_back(MakeListener("tcp-listen", "tcp", config::ListenerKind::kTcp,
                                             flags->tcp_listen, flags->tcp_service));
      }
      if (!flags->trust.empty()) {
        const config::Trust trust = TrustFlag(flags->trust);
        for (config::Listener& l : cfg.listeners) {
          if (l.kind == config::ListenerKind::kGateway &&
              l.trust.mode == config::Trust::Mode::kDefault) {
            l.trust = trust;
          }
        }
      }
      if (flags->workers >= 0) cfg.workers = flags->workers;
      ApplyAccessLogFlag(flags->access_log, &cfg);
      return cfg;
    };
    if (flags->listen_name.empty()) {
      spdlog::error("--listen-name: must not be empty");
      std::exit(2);
    }
    if (!flags->tcp_listen.empty() && flags->tcp_service.empty()) {
      spdlog::error("--tcp-listen needs --tcp-service");
      std::exit(2);
    }
    if (flags->cache.empty()) flags->cache = "graymesh-gateway.snapshot.json";
    std::exit(Serve(*flags, "gateway", build));
  });

  // The sidecar's own flags: CLI11 writes defaults when options are declared.
  flags = std::make_shared<DataPlaneFlags>();
  CLI::App* px = app.add_subcommand("proxy", "sidecar: inbound in front of the app, outbound for its calls");
  px->add_option("--service", flags->service, "this instance's service name")->required();
  px->add_option("--app", flags->app, "the local app's address, e.g. 127.0.0.1:8080")->required();
  px->add_option("--inbound", flags->inbound, "inbound listen address (what the instance registers)")
      ->capture_default_str();
  px->add_option("--outbound", flags->outbound, "outbound listen address (the app's HTTP_PROXY)")
      ->capture_default_str();
  px->add_option("--admin", flags->admin, "admin address (metrics, ready, drain), or none")
      ->default_val("127.0.0.1:15020");
  px->add_option("--config", flags->config_file, "static configuration: the services it calls");
  px->add_option("--lane", flags->lane, "this instance's lane tag (env GRAYMESH_LANE)")
      ->envname("GRAYMESH_LANE");
  AddControlFlags(px, flags.get());
  px->add_option("--advertise", flags->advertise,
                 "address other proxies reach this instance at (default: --inbound)");
  px->add_option("--lane-file", flags->lane_file,
                 "Kubernetes downward-API labels file; its graymesh.io/lane label is the tag");
  px->add_option("--labels", flags->labels, "extra instance labels k=v,...")->delimiter(',');
  px->add_option("--lane-header", flags->lane_headers,
                 "other header names that carry the lane, e.g. x-mse-tag")
      ->delimiter(',');
  px->add_option("--trace-cache", flags->trace_capacity,
                 "loose mode: trace ids remembered with their lane")
      ->capture_default_str();
  px->add_option("--trace-ttl", flags->trace_ttl, "loose mode: how long a trace keeps its lane")
      ->capture_default_str();
  px->add_option("--workers", flags->workers, "worker threads (default: cores)");
  px->add_option("--trust", flags->trust,
                 "clients of the inbound side whose lane headers are believed: all (default), "
                 "loopback, none or CIDR,...");
  px->add_option("--ready-path", flags->ready_path,
                 "register only once GET PATH on the app answers 2xx (and keep checking)");
  px->add_option("--delay-registration", flags->delay_registration,
                 "wait this long after the app is ready before registering "
                 "(default: ServicePolicy lossless.delayRegistration, else 0)");
  px->add_option("--drain-timeout", flags->drain_timeout,
                 "longest drain before exiting 1 (default: ServicePolicy lossless.drainTimeout, "
                 "else timeouts.drain, 30s)");
  px->add_option("--drain-quiet", flags->drain_quiet,
                 "while draining, serve callers until none has sent a request for this long")
      ->capture_default_str();
  px->add_flag("--no-drain", flags->no_drain,
               "stop as a plain proxy does: close every listener at once on SIGTERM, no draining "
               "state, no x-graymesh-draining (to compare)");
  px->add_option("command", flags->command,
                 "after --: the app to run; SIGTERM reaches it only after the drain, and its exit "
                 "status is the sidecar's");
  px->callback([flags] {
    // Flags on top of the file; SIGHUP runs this again on a fresh read.
    auto build = [flags](config::Config cfg) {
      // The local app is a service of its own, apart from the mesh-wide one of
      // the same name that the app may call through the outbound side.
      const std::string local = "local:" + flags->service;
      config::Service app_service{.name = local, .lb = config::LbPolicy::kRoundRobin, .endpoints = {}};
      try {
        app_service.endpoints.push_back({.address = config::ParseHostPort(flags->app)});
      } catch (const std::exception& e) {
        spdlog::error("--app {}: {}", flags->app, e.what());
        std::exit(2);
      }
      cfg.services.push_back(std::move(app_service));
      cfg.listeners.push_back(
          MakeListener("inbound", "inbound", config::ListenerKind::kInbound, flags->inbound, local));
      if (!flags->trust.empty()) cfg.listeners.back().trust = TrustFlag(flags->trust);
      cfg.listeners.push_back(
          MakeListener("outbound", "outbound", config::ListenerKind::kOutbound, flags->outbound));
      if (flags->workers >= 0) cfg.workers = flags->workers;
      cfg.node.service = flags->service;
      cfg.node.lane = flags->lane;
      if (cfg.node.lane.empty() && !flags->lane_file.empty()) {
        cfg.node.lane = LaneFromLabelsFile(flags->lane_file);
      }
      if (!cfg.node.lane.empty() && !lane::ValidLaneTag(cfg.node.lane)) {
        spdlog::error("lane tag '{}': use 1..63 of letters, digits, '.', '_', '-'", cfg.node.lane);
        std::exit(2);
      }
      for (const std::string& kv : flags->labels) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          spdlog::error("--labels {}: expected key=value", kv);
          std::exit(2);
        }
        cfg.node.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      if (!cfg.node.lane.empty()) cfg.node.labels["lane"] = cfg.node.lane;
      for (std::string h : flags->lane_headers) {
        for (char& c : h) c = char(std::tolower(static_cast<unsigned char>(c)));
        cfg.node.lane_headers.push_back(h);
      }
      ApplyAccessLogFlag(flags->access_log, &cfg);
      cfg.node.trace_capacity = flags->trace_capacity;
      try {
        cfg.node.trace_ttl_seconds = uint32_t(config::ParseDuration(flags->trace_ttl).count() / 1000);
      } catch (const std::exception& e) {
        spdlog::error("--trace-ttl {}: {}", flags->trace_ttl, e.what());
        std::exit(2);
      }
      return cfg;
    };
    if (flags->cache.empty()) flags->cache = "graymesh-proxy-" + flags->service + ".snapshot.json";
    if (flags->advertise.empty()) {
      // Other proxies cannot reach a wildcard address: advertise loopback
      // (or set --advertise to the pod IP).
      flags->advertise = flags->inbound;
      if (flags->advertise.rfind("0.0.0.0:", 0) == 0) flags->advertise.replace(0, 7, "127.0.0.1");
    }
    std::exit(Serve(*flags, "proxy", build));
  });
}

}  // namespace graymesh::cli
