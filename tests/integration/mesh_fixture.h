// A small mesh on loopback: sample apps, each behind a real sidecar, and a
// gateway in front of `order`. Every sidecar and the gateway get the same
// static configuration: all instances (by their sidecars' inbound addresses,
// labelled with their lanes) and the lanes under test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace graymesh::test {

// The path a request took, from a sample app's nested answer:
// "order:gray>payment:base>data:gray".
std::string PathOf(const std::string& body);

struct MeshInstance {
  std::string service;
  std::string lane;
  std::vector<std::string> calls;
  std::string propagate = "all";
  std::vector<std::string> forward_headers;
  std::vector<std::string> sidecar_args;  // extra flags for its `graymesh proxy`
  uint16_t app = 0, inbound = 0, outbound = 0, admin = 0;
  std::unique_ptr<ChildProcess> app_proc, sidecar;
};

class Mesh {
 public:
  MeshInstance& Add(const std::string& service, const std::string& lane,
                    std::vector<std::string> calls = {});
  // Starts everything; `lanes_yaml` is a `lanes:` section (may be empty).
  void Start(const std::string& lanes_yaml, const std::string& entry_service = "order");
  uint16_t gateway_port() const { return gateway_port_; }
  // Set before Start: the gateway listener's `trust` (YAML value); "" = default.
  std::string gateway_trust;
  // Set before Start: the gateway's admin port (metrics); 0 = no admin endpoint.
  uint16_t gateway_admin = 0;
  // Set before Start: lines added to every service entry (indented by 4),
  // e.g. "    outlier: { consecutiveErrors: 3 }\n".
  std::string service_extra;

 private:
  std::vector<std::unique_ptr<MeshInstance>> instances_;
  std::unique_ptr<ChildProcess> gateway_;
  uint16_t gateway_port_ = 0;
};

}  // namespace graymesh::test
