// The dead-gray-instance cases of endpoint health through real sidecars:
// gateway -> order (base) -> data (base and gray). When the gray data
// instance dies (SIGKILL of sidecar and app) or only its app crashes (its
// sidecar answers 502), gray requests land on base; with health off they
// keep failing.
#include <gtest/gtest.h>

#include <thread>

#include "integration/mesh_fixture.h"
#include "support/http_client.h"

namespace graymesh::test {
using namespace std::chrono_literals;
namespace {

const std::string kGrayByHeader =
    "lanes:\n  - { name: gray, tag: gray, fallback: base, entrance: { match: [ { headers: { "
    "x-env: { exact: gray } } } ] } }\n";

struct Counts {
  int ok = 0, failed = 0, on_base = 0;
};

Counts Send(uint16_t port, int n) {
  Counts c;
  for (int i = 0; i < n; ++i) {
    Response r = HttpGet(port, "/x", {{"x-env", "gray"}});
    if (r.status == 200) {
      ++c.ok;
      c.on_base += PathOf(r.body) == "order:base>data:base";
    } else {
      ++c.failed;
    }
  }
  return c;
}

struct GrayData {
  Mesh mesh;
  MeshInstance* gray = nullptr;
  explicit GrayData(bool health) {
    mesh.Add("order", "", {"data"});
    mesh.Add("data", "");
    gray = &mesh.Add("data", "gray");
    mesh.service_extra = "    outlier: { consecutiveErrors: 3 }\n";
    mesh.Start(kGrayByHeader + (health ? "" : "upstream: { health: false }\n"));
    // Before anything fails, gray requests reach the gray instance.
    Response r = HttpGet(mesh.gateway_port(), "/x", {{"x-env", "gray"}});
    EXPECT_EQ(PathOf(r.body), "order:base>data:gray") << r.body;
  }
};

TEST(HealthMesh, GrayInstanceKilledGrayRequestsLandOnBase) {
  GrayData m(true);
  m.gray->sidecar->Kill();
  m.gray->app_proc->Kill();
  // order's sidecar: the refused connect is retried on base at once.
  Counts c = Send(m.mesh.gateway_port(), 30);
  EXPECT_LE(c.failed, 0);
  EXPECT_EQ(c.on_base, c.ok);
}

TEST(HealthMesh, GrayInstanceKilledWithHealthOffEveryGrayRequestFails) {
  GrayData m(false);
  m.gray->sidecar->Kill();
  m.gray->app_proc->Kill();
  Counts c = Send(m.mesh.gateway_port(), 20);
  EXPECT_EQ(c.failed, 20);
}

TEST(HealthMesh, GrayAppCrashedBehindItsSidecarGrayRequestsLandOnBaseOnceDetected) {
  GrayData m(true);
  m.gray->app_proc->Kill();  // its sidecar lives on and answers 502
  Counts first = Send(m.mesh.gateway_port(), 10);
  EXPECT_LE(first.failed, 3);  // consecutiveErrors: 3, then ejected
  Counts after = Send(m.mesh.gateway_port(), 30);
  EXPECT_EQ(after.failed, 0);
  EXPECT_EQ(after.on_base, 30);
}

TEST(HealthMesh, GrayAppCrashedWithHealthOffEveryGrayRequestFails) {
  GrayData m(false);
  m.gray->app_proc->Kill();
  Counts c = Send(m.mesh.gateway_port(), 20);
  EXPECT_EQ(c.failed, 20);
}

}  // namespace
}  // namespace graymesh::test
