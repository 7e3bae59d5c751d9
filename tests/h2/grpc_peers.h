// Where the gRPC test peers live: the scripts in tests/h2/grpc, their npm
// modules in build/grpc/node_modules (scripts/setup.sh installs them there
// from the committed lockfile; node finds them through NODE_PATH).
#pragma once

#include <filesystem>
#include <string>

#include "h2/h2_peers.h"

namespace graymesh::test {

inline std::string GrpcDir() { return PeerFile("../grpc"); }
inline std::string GrpcModules() { return GRAYMESH_GRPC_MODULES; }
// For ChildProcess's extra environment, or in front of a shell command.
inline std::string GrpcNodePath() { return "NODE_PATH=" + GrpcModules(); }
inline bool GrpcPeersInstalled() {
  return std::filesystem::exists(GrpcModules() + "/@grpc/grpc-js");
}

}  // namespace graymesh::test
