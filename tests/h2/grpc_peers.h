// Where the gRPC test peers live: the scripts in tests/h2/grpc, their npm
// modules in build/grpc/node_modules (scripts/setup.sh installs them there
// from the committed lockfile; node finds them through NODE_PATH).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "h2/h2_peers.h"

namespace graymesh::test {

inline std::string GrpcDir() { return PeerFile("../grpc"); }
inline std::string GrpcModules() { return GRAYMESH_GRPC_MODULES; }
// For ChildProcess's extra environment, or in front of a shell command.
inline std::string GrpcNodePath() { return "NODE_PATH=" + GrpcModules(); }
// Runs client.js against 127.0.0.1:port (`kind`: unary, bidi, server or
// client; `metadata`: key=value pairs; `env`: assignments put in front) and
// returns what it printed, stderr included: one JSON line.
inline std::string GrpcClient(uint16_t port, const std::string& kind,
                              const std::vector<std::string>& metadata = {},
                              const std::string& env = "") {
  std::string cmd = env + " " + GrpcNodePath() + " /usr/bin/node " + GrpcDir() +
                    "/client.js 127.0.0.1:" + std::to_string(port) + " " + kind;
  for (const std::string& m : metadata) cmd += " '" + m + "'";
  return CommandOutput(cmd + " 2>&1");
}
inline bool GrpcPeersInstalled() {
  return std::filesystem::exists(GrpcModules() + "/@grpc/grpc-js");
}

}  // namespace graymesh::test
