#include "integration/mesh_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

std::string Addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  static int seq = 0;
  std::string path = TestTempDir() + "/mesh-" + std::to_string(++seq) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

std::string PathOf(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  std::string path;
  for (const nlohmann::json* hop = &j; hop != nullptr && hop->is_object();) {
    std::string lane = hop->value("lane", "");
    if (!path.empty()) path += ">";
    path += hop->value("service", "?") + ":" + (lane.empty() ? "base" : lane);
    const nlohmann::json& calls = (*hop)["calls"];
    hop = calls.is_array() && !calls.empty() ? &calls[0] : nullptr;
  }
  return path;
}

MeshInstance& Mesh::Add(const std::string& service, const std::string& lane,
                        std::vector<std::string> calls) {
  auto in = std::make_unique<MeshInstance>();
  in->service = service;
  in->lane = lane;
  in->calls = std::move(calls);
  in->app = FreePort();
  in->inbound = FreePort();
  in->outbound = FreePort();
  in->admin = FreePort();
  instances_.push_back(std::move(in));
  return *instances_.back();
}

void Mesh::Start(const std::string& lanes_yaml, const std::string& entry_service) {
  // Services: every instance, grouped by service, addressed by its sidecar.
  std::vector<std::string> names;
  for (const auto& in : instances_) {
    if (std::find(names.begin(), names.end(), in->service) == names.end()) {
      names.push_back(in->service);
    }
  }
  std::string services = "services:\n";
  for (const std::string& name : names) {
    services += "  - name: " + name + "\n" + service_extra + "    endpoints:\n";
    for (const auto& in : instances_) {
      if (in->service != name) continue;
      services += "      - address: " + Addr(in->inbound) + "\n";
      if (!in->lane.empty()) services += "        labels: { lane: " + in->lane + " }\n";
    }
  }
  std::string mesh = WriteFile("mesh.yaml", services + lanes_yaml);

  for (const auto& in : instances_) {
    std::vector<std::string> args{"sample-app", "--name", in->service, "--listen", Addr(in->app),
                                  "--propagate", in->propagate};
    if (!in->lane.empty()) args.insert(args.end(), {"--lane", in->lane});
    if (!in->calls.empty()) {
      args.insert(args.end(), {"--calls", Join(in->calls), "--via", Addr(in->outbound)});
    }
    if (!in->forward_headers.empty()) {
      args.insert(args.end(), {"--forward-headers", Join(in->forward_headers)});
    }
    in->app_proc = std::make_unique<ChildProcess>(GraymeshBin(), args);
    std::vector<std::string> sidecar{"proxy",     "--service",  in->service, "--app",
                                     Addr(in->app), "--inbound", Addr(in->inbound),
                                     "--outbound", Addr(in->outbound), "--admin",
                                     Addr(in->admin), "--config", mesh, "--workers", "1"};
    if (!in->lane.empty()) sidecar.insert(sidecar.end(), {"--lane", in->lane});
    sidecar.insert(sidecar.end(), in->sidecar_args.begin(), in->sidecar_args.end());
    in->sidecar = std::make_unique<ChildProcess>(GraymeshBin(), sidecar);
  }
  gateway_port_ = FreePort();
  const std::string trust = gateway_trust.empty() ? "" : "    trust: " + gateway_trust + "\n";
  std::string gw = WriteFile("gateway.yaml", "workers: 1\nlisteners:\n  - name: ingress\n"
                                             "    address: " + Addr(gateway_port_) + "\n" + trust +
                                             "routes:\n  - { pathPrefix: /, service: " +
                                             entry_service + " }\n" + services + lanes_yaml);
  gateway_ = std::make_unique<ChildProcess>(
      GraymeshBin(), std::vector<std::string>{"gateway", "--config", gw, "--admin",
                                              gateway_admin == 0 ? "none" : Addr(gateway_admin)});
  for (const auto& in : instances_) {
    ASSERT_TRUE(WaitForPort(in->app, 5s)) << in->app_proc->Log();
    ASSERT_TRUE(WaitForPort(in->inbound, 5s)) << in->sidecar->Log();
    ASSERT_TRUE(WaitForPort(in->outbound, 5s)) << in->sidecar->Log();
  }
  ASSERT_TRUE(WaitForPort(gateway_port_, 5s)) << gateway_->Log();
}

}  // namespace graymesh::test
