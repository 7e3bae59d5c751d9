// Tokens, body limits and malformed input on a real `graymesh control`.
#include <gtest/gtest.h>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

using nlohmann::json;

const char kToken[] = "s3cret-token";

HeaderList Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

TEST(ControlSecurity, WritesNeedTheTokenAndChangeNothingWithoutIt) {
  ControlPlane cp = ControlPlane::Start({"--token-file", TempFile("token", "  s3cret-token\n")});
  const int64_t rev = cp.Revision();
  const std::string reg = R"({"service":"order","address":"127.0.0.1:9001"})";
  const std::string rule = "kind: Route\nname: r\nspec:\n  service: order\n";
  for (const HeaderList& h : {HeaderList{}, Bearer("wrong"), Bearer("s3cret-token-and-more"),
                              HeaderList{{"Authorization", "Basic czNjcmV0LXRva2Vu"}}}) {
    Response r = cp.Send("POST", "/v1/instances", reg, h);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"graymesh\"");
    EXPECT_EQ(cp.Send("POST", "/v1/apply", rule, h).status, 401);
    EXPECT_EQ(cp.Send("DELETE", "/v1/rules/Route/r", "", h).status, 401);
  }
  // Reads stay open; nothing was written.
  EXPECT_EQ(cp.Get("/v1/instances").status, 200);
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 0u);
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 0u);
  EXPECT_EQ(cp.Revision(), rev);
  EXPECT_EQ(cp.Metric("graymesh_control_unauthorized_total"), 12);

  // The right token (the scheme in any case) is let through.
  Response ok = cp.Send("POST", "/v1/instances", reg, Bearer(kToken));
  ASSERT_EQ(ok.status, 201) << ok.body;
  const std::string id = Json(ok)["id"];
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id + "/heartbeat", "").status, 401);
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id + "/heartbeat", "",
                    {{"authorization", std::string("bearer ") + kToken}})
                .status,
            200);
  EXPECT_EQ(cp.Send("POST", "/v1/apply", rule, Bearer(kToken)).status, 200);
}

TEST(ControlSecurity, AnEmptyOrMissingTokenFileRefusesToStart) {
  ChildProcess empty(GraymeshBin(),
                     {"control", "--listen", "127.0.0.1:0", "--store",
                      "sqlite:" + TempFile("x.db", ""), "--token-file", TempFile("token", "\n")});
  EXPECT_EQ(empty.Wait(std::chrono::seconds(5)), 2);
  EXPECT_NE(empty.Log().find("empty"), std::string::npos) << empty.Log();
  ChildProcess missing(
      GraymeshBin(), {"control", "--listen", "127.0.0.1:0", "--token-file", "/nonexistent/token"});
  EXPECT_EQ(missing.Wait(std::chrono::seconds(5)), 2);
}

TEST(ControlSecurity, BodiesOverOneMebibyteAre413AndStoreNothing) {
  ControlPlane cp = ControlPlane::Start();
  const int64_t rev = cp.Revision();
  // Valid YAML all the way: a comment padding one real document.
  std::string big =
      "kind: Route\nname: big\nspec:\n  service: order\n# " + std::string(2 << 20, 'x') + "\n";
  Response r = cp.Send("POST", "/v1/apply", big);
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_NE(r.body.find("over the limit of 1048576 bytes"), std::string::npos) << r.body;
  EXPECT_EQ(cp.Get("/v1/rules/Route/big").status, 404);
  // Chunked, where the size is only found out on the way.
  Response chunked = cp.Send("POST", "/v1/apply",
                             "100000\r\n" + std::string(0x100000, '#') + "\r\n10\r\n" +
                                 std::string(16, '#') + "\r\n0\r\n\r\n",
                             {{"Transfer-Encoding", "chunked"}});
  EXPECT_EQ(chunked.status, 413) << chunked.error;
  EXPECT_EQ(cp.Revision(), rev);
  // Just under the limit is fine.
  std::string fits = "kind: Route\nname: fits\nspec:\n  service: order\n# ";
  fits += std::string((1 << 20) - fits.size() - 1, 'x') + "\n";
  ASSERT_EQ(fits.size(), 1u << 20);
  EXPECT_EQ(cp.Send("POST", "/v1/apply", fits).status, 200);
}

TEST(ControlSecurity, MalformedJsonIs400WithTheReason) {
  ControlPlane cp = ControlPlane::Start();
  Response r = cp.Send("POST", "/v1/instances", "{\"service\": \"order\", \"address\": ");
  EXPECT_EQ(r.status, 400);
  std::string error = Json(r)["error"];
  EXPECT_TRUE(error.starts_with("invalid JSON: ")) << error;
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
  const std::string id = Json(RegisterInstance(cp, "order", "127.0.0.1:9001"))["id"];
  EXPECT_EQ(cp.Send("PUT", "/v1/instances/" + id, "state=ready").status, 400);
}

}  // namespace
}  // namespace graymesh::test
