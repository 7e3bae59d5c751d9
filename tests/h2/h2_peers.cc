#include "h2/h2_peers.h"

#include <gtest/gtest.h>


#include "support/ports.h"

namespace graymesh::test {

using namespace std::chrono_literals;

std::string PeerFile(const std::string& name) {
  return std::string(GRAYMESH_H2_PEERS_DIR) + "/" + name;
}

NodeH2Server NodeH2Server::Start(const std::string& name) {
  NodeH2Server s;
  s.port = FreePort();
  s.proc = std::make_unique<ChildProcess>(
      "/usr/bin/node",
      // The first argument names the log file, so it carries no "/".
      std::vector<std::string>{"--no-warnings", PeerFile("h2_server.js"), std::to_string(s.port),
                               name});
  EXPECT_TRUE(WaitForPort(s.port, 10s)) << s.proc->Log();
  return s;
}

namespace {

std::string Quote(const std::string& a) {
  std::string q = "'";
  for (char c : a) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace

CurlResult Curl(const std::vector<std::string>& args) {
  std::string cmd = "curl -sS -v --max-time 20";
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1";
  CurlResult r;
  r.out = CommandOutput(cmd, &r.exit_code);
  return r;
}

}  // namespace graymesh::test
