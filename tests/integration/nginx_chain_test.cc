// The seed's chain with a self-built access layer: a real nginx whose
// split_clients on the user id sets x-graymesh-lane for a share of users, in
// front of order's sidecar; order calls data (base and gray instances). The
// apps forward trace context and baggage (as OpenTelemetry does) or only
// traceparent. Every isolation property must hold: gray users reach gray
// data, base users never do, and a client's own lane header counts for
// nothing, at nginx (which sets the header itself) and at the gateway.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/mesh_fixture.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/process.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string FindNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// nginx as a foreground child with everything (config, pid, logs, temp
// files) under its own directory.
std::unique_ptr<ChildProcess> StartNginx(const std::string& bin, uint16_t port,
                                         uint16_t upstream) {
  const std::string dir = TestTempDir() + "/nginx-" + std::to_string(port);
  const std::string conf = dir + "/nginx.conf";
  std::filesystem::create_directories(dir + "/tmp");
  std::ofstream(conf) << "pid " << dir << "/nginx.pid;\n"
                      << "error_log " << dir << "/error.log warn;\n"
                      << "events { worker_connections 256; }\n"
                      << "http {\n"
                      << "  access_log off;\n"
                      << "  client_body_temp_path " << dir << "/tmp/body;\n"
                      << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
                      << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
                      << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
                      << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
                      // The access layer's gray release: 30% of users, sticky.
                      // A client's baggage that names graymesh members is not
                      // passed on: only the access layer decides the lane.
                      << "  map $http_baggage $client_baggage {\n"
                      << "    \"~graymesh-\" \"\";\n"
                      << "    default $http_baggage;\n"
                      << "  }\n"
                      << "  split_clients \"${http_x_user_id}\" $graymesh_lane {\n"
                      << "    30% gray;\n"
                      << "    * \"\";\n"
                      << "  }\n"
                      << "  server {\n"
                      << "    listen 127.0.0.1:" << port << ";\n"
                      << "    location / {\n"
                      << "      proxy_pass http://127.0.0.1:" << upstream << ";\n"
                      << "      proxy_http_version 1.1;\n"
                      << "      proxy_set_header Connection \"\";\n"
                      // Replaces any client-sent x-graymesh-lane; empty = not sent.
                      << "      proxy_set_header x-graymesh-lane $graymesh_lane;\n"
                      << "      proxy_set_header baggage $client_baggage;\n"
                      << "      add_header x-split-lane $graymesh_lane always;\n"
                      << "    }\n"
                      << "  }\n"
                      << "}\n";
  return std::make_unique<ChildProcess>(
      bin, std::vector<std::string>{"-p", dir, "-c", conf, "-e", dir + "/error.log", "-g",
                                    "daemon off; master_process off;"});
}

void RunChain(const std::string& propagate) {
  const std::string nginx_bin = FindNginx();
  if (nginx_bin.empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh installs it)";
  Mesh mesh;
  MeshInstance& order = mesh.Add("order", "", {"data"});
  order.propagate = propagate;
  mesh.Add("data", "");
  mesh.Add("data", "gray");
  mesh.Start("");
  const uint16_t port = FreePort();
  std::unique_ptr<ChildProcess> nginx = StartNginx(nginx_bin, port, order.inbound);
  ASSERT_TRUE(WaitForPort(port, 5s)) << nginx->Log();

  const int users = 200;
  int gray = 0;
  for (int user = 0; user < users; ++user) {
    for (int again = 0; again < 2; ++again) {  // sticky: same answer twice
      Response r = HttpGet(port, "/checkout", {{"x-user-id", std::to_string(user)}});
      ASSERT_EQ(r.status, 200) << r.error << r.body;
      const bool split_gray = r.Header("x-split-lane") == "gray";
      if (split_gray && again == 0) ++gray;
      // Gray users reach gray data; base users never reach a gray instance.
      ASSERT_EQ(PathOf(r.body), split_gray ? "order:base>data:gray" : "order:base>data:base")
          << "user " << user;
    }
  }
  EXPECT_NEAR(gray, users * 3 / 10, users / 8) << "nginx's 30% share";

  // A base user who sends the lane himself, in the header or in baggage:
  // nginx replaces the one and drops the other.
  int forged_base = 0;
  for (int user = 0; user < 40; ++user) {
    for (const HeaderList& forged :
         {HeaderList{{"x-user-id", std::to_string(user)}, {"x-graymesh-lane", "gray"}},
          HeaderList{{"x-user-id", std::to_string(user)}, {"baggage", "graymesh-lane=gray"}}}) {
      Response r = HttpGet(port, "/checkout", forged);
      ASSERT_EQ(r.status, 200) << r.error;
      if (r.Header("x-split-lane") == "gray") continue;
      ++forged_base;
      EXPECT_EQ(PathOf(r.body), "order:base>data:base") << "user " << user << " " << forged[1].first;
    }
  }
  EXPECT_GT(forged_base, 20);
  // At the gateway, which trusts no client by default, neither form counts.
  for (const HeaderList& forged : {HeaderList{{"x-graymesh-lane", "gray"}},
                                   HeaderList{{"baggage", "graymesh-lane=gray"}}}) {
    Response r = HttpGet(mesh.gateway_port(), "/checkout", forged);
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(PathOf(r.body), "order:base>data:base") << forged[0].first;
  }
}

TEST(NginxChain, SplitClientsLaneHoldsWithAppsPropagatingBaggage) { RunChain("all"); }

TEST(NginxChain, SplitClientsLaneHoldsWithAppsForwardingOnlyTraceparent) { RunChain("trace"); }

}  // namespace
}  // namespace graymesh::test
