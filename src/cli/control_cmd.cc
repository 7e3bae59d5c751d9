// `graymesh control` (the control plane) and the commands that talk to it:
// `graymesh apply -f FILE`, `graymesh get KIND [NAME]`, `graymesh delete KIND NAME`,
// `graymesh top`.
// Client commands exit 0 on success, 1 when the control plane refused or
// could not be reached (with its reason on stderr), 2 for bad usage.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "wire/api_client.h"
#include "control/cli_output.h"
#include "control/control_server.h"
#include "control/store.h"
#include "control/traffic_table.h"

namespace graymesh::cli {
namespace {

using control::Resource;
using nlohmann::json;

std::string ReadInput(const std::string& file) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) Fail(1, fmt::format("{}: cannot read: {}", file, std::strerror(errno)));
  ss << in.rdbuf();
  return ss.str();
}

void RegisterControlServer(CLI::App& app) {
  auto opts = std::make_shared<control::ControlOptions>();
  CLI::App* cmd = app.add_subcommand(
      "control", "Control plane: instance registry with leases, rules store, snapshot watch API");
  cmd->add_option("--listen", opts->listen, "API address HOST:PORT")->capture_default_str();
  cmd->add_option("--store", opts->store, "Store URL: sqlite:PATH or etcd:URL[,URL...]")->capture_default_str();
  cmd->add_option("--token-file", opts->token_file,
                  "File holding the bearer token that writes (POST/PUT/DELETE) must carry");
  cmd->add_option("--lease-ttl", opts->lease_ttl,
                  "Instance lease: an instance without a heartbeat for this long is removed")
      ->capture_default_str();
  cmd->add_option("--header-read-timeout", opts->header_read_timeout,
                  "A request head must arrive whole within this (from the accept, or from its "
                  "first byte on a kept-alive connection)")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", opts->idle_timeout,
                  "Kept-alive connections idle this long are closed (a long poll's wait "
                  "does not count)")
      ->capture_default_str();
  cmd->add_option("--max-connections", opts->max_connections,
                  "Open connections at most, beyond which new ones get 503 (0: as many as the "
                  "open-file limit leaves room for)")
      ->capture_default_str();
  cmd->add_option("--fill-period", opts->fill_period,
                  "After a start, how long proxies that see a new store keep their last-known "
                  "endpoints and rules (default: --lease-ttl; 0s = off)");
  cmd->callback([opts] {
    int code = control::RunControl(*opts);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

void RegisterApply(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  auto file = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "apply", "Apply rule documents (TrafficLane, Route, ServicePolicy, Canary): all or nothing");
  cmd->add_option("-f,--filename", *file, "YAML file, or - for stdin")->required();
  AddClientFlags(cmd, flags.get());
  cmd->callback([flags, file] {
    std::string text = ReadInput(*file);
    std::string name = *file == "-" ? "<stdin>" : *file;
    json r = Call(*flags, "POST", "/v1/apply", text,
                  {{"content-type", "application/yaml"}, {"x-graymesh-file", name}});
    for (const json& item : r.value("results", json::array())) {
      std::string kind = item.value("kind", "");
      for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::printf("%s/%s %s\n", kind.c_str(), item.value("name", "").c_str(),
                  item.value("result", "").c_str());
    }
    // Stored, but worth a look (e.g. a lane for a gateway listener nobody has).
    for (const json& w : r.value("warnings", json::array())) {
      if (w.is_string()) std::fprintf(stderr, "warning: %s\n", w.get<std::string>().c_str());
    }
  });
}

// The items to print for `get`, from the API.
std::vector<json> Fetch(const ClientFlags& f, Resource res, const std::string& name) {
  std::vector<json> items;
  if (res == Resource::kServices) {
    json r = Call(f, "GET", "/v1/services");
    for (const json& s : r.value("services", json::array())) {
      if (name.empty() || s.value("name", "") == name) items.push_back(s);
    }
    if (!name.empty() && items.empty()) Fail(1, fmt::format("service \"{}\" not found", name));
  } else if (res == Resource::kInstances) {
    // NAME is the service: instance ids are long, services are what people know.
    std::string path = "/v1/instances";
    if (!name.empty()) path += "?service=" + Encode(name);
    json r = Call(f, "GET", path);
    for (const json& i : r.value("instances", json::array())) items.push_back(i);
  } else {
    const std::string kind = control::ResourceKind(res);
    if (name.empty()) {
      json r = Call(f, "GET", "/v1/rules?kind=" + kind);
      for (const json& rule : r.value("rules", json::array())) items.push_back(rule);
    } else {
      int status = 0;
      json r = Call(f, "GET", "/v1/rules/" + kind + "/" + Encode(name), "", {}, &status);
      if (status == 404) Fail(1, fmt::format("{} \"{}\" not found", kind, name));
      items.push_back(r);
    }
  }
  return items;
}

void RegisterGet(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  auto what = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("table");
  CLI::App* cmd = app.add_subcommand(
      "get", "List services, instances, lanes, routes, policies or canaries of the control plane");
  cmd->add_option("resource", *what, "services | instances | lanes | routes | policies | canaries")
      ->required();
  cmd->add_option("name", *name, "One of them (for instances: a service's instances)");
  cmd->add_option("-o,--output", *output, "table | yaml | json")
      ->check(CLI::IsMember({"table", "yaml", "json"}))
      ->capture_default_str();
  AddClientFlags(cmd, flags.get());
  cmd->callback([flags, what, name, output] {
    Resource res = control::ParseResource(*what);
    if (res == Resource::kUnknown) {
      Fail(2, fmt::format("unknown resource \"{}\" (expected services, instances, lanes, routes, "
                          "policies or canaries)",
                          *what));
    }
    std::vector<json> items = Fetch(*flags, res, *name);
    const bool single = !name->empty() && res != Resource::kInstances;
    std::string out;
    if (*output == "json") {
      out = control::FormatJson(res, items, single);
    } else if (*output == "yaml") {
      out = control::FormatYaml(res, items, single);
    } else if (items.empty()) {
      std::fprintf(stderr, "No %s found.\n", control::ResourceName(res).c_str());
    } else {
      out = control::FormatTable(control::MakeTable(res, items, wire::UnixMillis()));
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

void RegisterDelete(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  auto what = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("delete", "Delete a lane, route, policy or canary (or an instance)");
  cmd->add_option("resource", *what, "lane | route | policy | canary | instance")->required();
  cmd->add_option("name", *name, "Its name (an instance: its id)")->required();
  AddClientFlags(cmd, flags.get());
  cmd->callback([flags, what, name] {
    Resource res = control::ParseResource(*what);
    if (res == Resource::kUnknown || res == Resource::kServices) {
      Fail(2,
           fmt::format("cannot delete \"{}\" (expected lane, route, policy, canary or instance)", *what));
    }
    int status = 0;
    std::string kind = control::ResourceKind(res);
    std::string path = res == Resource::kInstances ? "/v1/instances/" + Encode(*name)
                                                   : "/v1/rules/" + kind + "/" + Encode(*name);
    json r = Call(*flags, "DELETE", path, "", {}, &status);
    if (status == 404) {
      Fail(1, fmt::format("{} \"{}\" not found", kind.empty() ? "instance" : kind, *name));
    }
    for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::printf("%s/%s deleted\n", kind.empty() ? "instance" : kind.c_str(), name->c_str());
  });
}

void RegisterTop(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  auto window = std::make_shared<std::string>("60s");
  auto output = std::make_shared<std::string>("table");
  auto every = std::make_shared<double>(0);
  CLI::App* cmd = app.add_subcommand(
      "top", "Traffic by service and edge, split by lane (GET /v1/traffic)");
  cmd->add_option("--window", *window, "how far back rates are taken, 1s..1h")
      ->capture_default_str();
  cmd->add_option("-o,--output", *output, "table | json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("-w,--watch", *every, "refresh every this many seconds (0 = once)")
      ->check(CLI::NonNegativeNumber);
  AddClientFlags(cmd, flags.get());
  cmd->callback([flags, window, output, every] {
    for (;;) {
      json t = Call(*flags, "GET", "/v1/traffic?window=" + Encode(*window));
      std::string out = *output == "json" ? t.dump(2) + "\n" : control::FormatTraffic(t);
      if (*every > 0) out = "\x1b[H\x1b[2J" + out;  // clear the terminal between refreshes
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
      if (*every <= 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(*every * 1000)));
    }
  });
}

}  // namespace

void RegisterControl(CLI::App& app) {
  RegisterControlServer(app);
  RegisterApply(app);
  RegisterGet(app);
  RegisterDelete(app);
  RegisterTop(app);
}

}  // namespace graymesh::cli
