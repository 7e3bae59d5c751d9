// `graymesh gateway` and `graymesh proxy`: the two data-plane roles, one core.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <memory>

#include "config/config.h"
#include "proxy/server.h"

namespace graymesh::cli {
namespace {

struct DataPlaneFlags {
  std::string config_file;
  std::string admin;
  int workers = -1;
  // gateway
  std::string listen;
  // sidecar
  std::string service;
  std::string app;
  std::string inbound = "0.0.0.0:15006";
  std::string outbound = "127.0.0.1:15001";
  std::string lane;
};

// Loads the file, or starts from defaults. Exits 2 with "FILE:LINE: reason".
config::Config LoadOrDefault(const std::string& file) {
  if (file.empty()) return config::Config{};
  try {
    return config::LoadConfigFile(file);
  } catch (const config::ConfigError& e) {
    spdlog::error("invalid configuration: {}", e.what());
    std::exit(2);
  }
}

config::Listener MakeListener(const std::string& name, config::ListenerKind kind,
                              const std::string& address, const std::string& service = "") {
  try {
    return {.name = name, .kind = kind, .address = config::ParseHostPort(address),
            .service = service};
  } catch (const std::exception& e) {
    spdlog::error("--{} {}: {}", name, address, e.what());
    std::exit(2);
  }
}

int Serve(config::Config cfg, const std::string& role, const std::string& admin) {
  if (cfg.listeners.empty()) {
    spdlog::error("{}: nothing to listen on (give --listen or listeners in --config)", role);
    return 2;
  }
  proxy::Server server(std::make_shared<const config::Config>(std::move(cfg)),
                       {.admin_address = admin == "none" ? "" : admin, .role = role});
  try {
    server.Start();
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", role, e.what());
    return 1;
  }
  return server.Run();
}

}  // namespace

void RegisterDataPlane(CLI::App& app) {
  auto flags = std::make_shared<DataPlaneFlags>();

  CLI::App* gw = app.add_subcommand("gateway", "ingress gateway: routes by host/path to services");
  gw->add_option("--config", flags->config_file, "static configuration (YAML)");
  gw->add_option("--listen", flags->listen, "HTTP listen address, e.g. 0.0.0.0:8080");
  gw->add_option("--admin", flags->admin, "admin address (metrics, ready, drain), or none")
      ->default_val("127.0.0.1:15021");
  gw->add_option("--workers", flags->workers, "worker threads (default: cores)");
  gw->callback([flags] {
    config::Config cfg = LoadOrDefault(flags->config_file);
    if (!flags->listen.empty()) {
      cfg.listeners.push_back(MakeListener("listen", config::ListenerKind::kGateway, flags->listen));
    }
    if (flags->workers >= 0) cfg.workers = flags->workers;
    std::exit(Serve(std::move(cfg), "gateway", flags->admin));
  });

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
  px->add_option("--workers", flags->workers, "worker threads (default: cores)");
  px->callback([flags] {
    config::Config cfg = LoadOrDefault(flags->config_file);
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
        MakeListener("inbound", config::ListenerKind::kInbound, flags->inbound, local));
    cfg.listeners.push_back(
        MakeListener("outbound", config::ListenerKind::kOutbound, flags->outbound));
    if (flags->workers >= 0) cfg.workers = flags->workers;
    std::exit(Serve(std::move(cfg), "proxy", flags->admin));
  });
}

}  // namespace graymesh::cli
