// TLS to a registered service, from its ServicePolicy (spec.tls): the
// control plane carries it in the snapshot and a real gateway reaches the
// instance (a real nginx serving HTTPS) over verified TLS. A policy whose CA
// the proxy cannot load is refused by the proxy, which keeps serving.
#include <gtest/gtest.h>

#include "control/control_fixture.h"
#include "integration/control_instance.h"
#include "proxy/https_upstream.h"
#include "support/http_client.h"
#include "support/ports.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

TEST(UpstreamTlsPolicy, AServicePolicyTurnsOnVerifiedTlsToARegisteredService) {
  if (FindNginx().empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh)";
  const std::string cert = MakeCert("api.test", "DNS:api.test");
  HttpsUpstream api = HttpsUpstream::Start(cert);
  ControlPlane cp = ControlPlane::Start();
  ASSERT_LT(RegisterInstance(cp, "api", Addr(api.port)).status, 300);
  const uint16_t port = FreePort();
  ChildProcess gw(GraymeshBin(), {"gateway", "--listen", Addr(port), "--control", cp.url(),
                                  "--admin", "none", "--workers", "1", "--cache",
                                  TestTempDir() + "/gw-tls-policy.json"});
  ASSERT_TRUE(WaitForPort(port, 5s)) << gw.Log();
  auto apply = [&](const std::string& doc) {
    return RunCli({"apply", "-f", TempFile("tls-policy.yaml", doc), "--control", cp.url()});
  };
  ASSERT_EQ(apply("kind: Route\nname: api\nspec: { pathPrefix: /, service: api }\n").code, 0);
  // Without the policy the gateway speaks plain HTTP to a TLS port (nginx: 400).
  Response r;
  ASSERT_TRUE(Eventually([&] { return (r = HttpGet(port, "/x")).status == 400; }, 8s))
      << r.status << " " << r.body << gw.Log();

  CliResult applied = apply("kind: ServicePolicy\nname: api\nspec:\n  tls: { ca: " + cert +
                            ".crt, sni: api.test }\n");
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_TRUE(Eventually([&] { return (r = HttpGet(port, "/x")).status == 200; }, 8s))
      << r.status << " " << r.Header("x-graymesh-reason") << gw.Log();
  EXPECT_EQ(r.Header("x-sni"), "api.test");

  // A CA path that does not exist on the proxy's host: the control plane
  // takes it (the path is not its to check), the gateway refuses the
  // snapshot with the reason and keeps the one it has.
  ASSERT_EQ(apply("kind: ServicePolicy\nname: api\nspec:\n  tls: { ca: /nonexistent/ca.pem }\n")
                .code,
            0);
  EXPECT_TRUE(Eventually(
      [&] {
        return gw.Log().find("service api: tls: CA file /nonexistent/ca.pem") != std::string::npos;
      },
      8s))
      << gw.Log();
  EXPECT_NE(gw.Log().find("configuration refused"), std::string::npos) << gw.Log();
  r = HttpGet(port, "/x");
  EXPECT_EQ(r.status, 200) << r.Header("x-graymesh-reason");
}

}  // namespace
}  // namespace graymesh::test
