// Hostile input on a real `graymesh control`: deeply nested JSON, numbers out
// of range, addresses that are no address, YAML alias bombs and deep YAML.
// Each is a 400 with a reason, stores nothing, and leaves the process small
// and answering.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "control/control_fixture.h"
#include "support/ports.h"
#include "support/proc_stats.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

void ExpectAlive(const ControlPlane& cp) {
  ASSERT_TRUE(cp.proc->Running()) << cp.proc->Log();
  EXPECT_EQ(cp.Get("/healthz").status, 200);
}

TEST(ControlLimits, DeeplyNestedJsonIs400AndTheControlPlaneStaysUp) {
  ControlPlane cp = ControlPlane::Start();
  const std::string deep = Nested(70'000);  // 140 KB
  Response put = cp.Send("PUT", "/v1/instances/x", "{\"state\":" + deep + "}");
  EXPECT_EQ(put.status, 400) << put.error;
  EXPECT_NE(put.body.find("nested deeper than 64 levels"), std::string::npos) << put.body;
  ExpectAlive(cp);
  Response reg = cp.Send("POST", "/v1/instances",
                         R"({"service":"a","address":"127.0.0.1:1","weight":)" + deep + "}");
  EXPECT_EQ(reg.status, 400) << reg.error;
  EXPECT_NE(reg.body.find("nested deeper than 64 levels"), std::string::npos) << reg.body;
  ExpectAlive(cp);
  // Just inside the limit the value is parsed, and refused by type without
  // being printed.
  Response shallow = cp.Send("POST", "/v1/instances",
                             R"({"service":"a","address":"127.0.0.1:1","weight":)" + Nested(60) +
                                 "}");
  EXPECT_EQ(shallow.status, 400);
  EXPECT_NE(shallow.body.find("weight: must be an integer 1..10000, got an array"),
            std::string::npos)
      << shallow.body;
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 0u);
}

TEST(ControlLimits, NumbersOutOfRangeAre400) {
  ControlPlane cp = ControlPlane::Start();
  for (const char* w : {"1e999", "-1e999", "0", "-1", "1.5", "10001", "18446744073709551616",
                        "18446744073709551615", "\"5\"", "true", "null"}) {
    Response r = cp.Send("POST", "/v1/instances",
                         std::string(R"({"service":"a","address":"127.0.0.1:1","weight":)") + w +
                             "}");
    EXPECT_EQ(r.status, 400) << w << ": " << r.body;
    // The field, or (for a number JSON cannot hold) the number itself.
    const std::string reason = r.Header("x-graymesh-reason");
    EXPECT_TRUE(reason.find("weight") != std::string::npos || reason.find(w) != std::string::npos)
        << w << ": " << r.body;
  }
  for (const char* q : {"version=1e300", "version=-1", "version=99999999999999999999",
                        "version=1.5", "wait=1e999", "wait=nan", "wait=-1"}) {
    Response r = cp.Get(std::string("/v1/snapshot?") + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.body;
  }
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 0u);
  ExpectAlive(cp);
}

TEST(ControlLimits, AddressesMustBeIpLiteralsOrHostNames) {
  ControlPlane cp = ControlPlane::Start();
  for (const char* a : {"%00:1", ":1", " a:1", "a b:1", "a\\u0001b:1", "a\\u0000:1", "1.2.3.4:0",
                        "1.2.3.4:65536", "", "[::1%]:1", "a..b:1", "999.1.1.1:80"}) {
    Response r = cp.Send("POST", "/v1/instances",
                         std::string(R"({"service":"a","address":")") + a + "\"}");
    EXPECT_EQ(r.status, 400) << a << ": " << r.body;
  }
  EXPECT_EQ(Json(cp.Get("/v1/instances"))["instances"].size(), 0u);
  EXPECT_EQ(RegisterInstance(cp, "a", "order-0.order.default.svc:8080").status, 201);
  EXPECT_EQ(RegisterInstance(cp, "a", "[fe80::1%eth0]:80").status, 201);
}

// A rule whose aliases multiply: 3.5 KB of YAML that expands to a rule of
// `clauses` x `values` copies of a long string.
std::string AliasRule(int clauses, int values) {
  std::string y =
      "kind: TrafficLane\nname: bomb\nspec:\n  tag: gray\n  entrance:\n    match:\n"
      "      - &c {headers: {x: {in: [&s \"" +
      std::string(64, 'x') + "\"";
  for (int i = 1; i < values; ++i) y += ", *s";
  y += "]}}}\n";
  for (int i = 1; i < clauses; ++i) y += "      - *c\n";
  return y;
}

TEST(ControlLimits, AnAliasBombThroughApplyIsRefusedFastAndCostsNothing) {
  ControlPlane cp = ControlPlane::Start();
  const std::string bomb = AliasRule(300, 300);
  ASSERT_LT(bomb.size(), 6000u);
  // Growth of the peak, not the peak: a sanitizer build starts far larger.
  const int64_t peak_before = PeakRssKib(cp.proc->pid());
  const auto start = std::chrono::steady_clock::now();
  Response r = cp.Send("POST", "/v1/apply", bomb, {{"x-graymesh-file", "bomb.yaml"}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("bomb.yaml:7: aliases are not allowed"), std::string::npos) << r.body;
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 0u);
  EXPECT_LT(PeakRssKib(cp.proc->pid()) - peak_before, 16 * 1024);
  ExpectAlive(cp);
}

TEST(ControlLimits, DeepYamlThroughApplyIs400) {
  ControlPlane cp = ControlPlane::Start();
  Response r = cp.Send("POST", "/v1/apply", "kind: Route\nname: r\nspec: " + Nested(100'000));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("request:3: nested deeper than 64 levels"), std::string::npos) << r.body;
  ExpectAlive(cp);
}

// Found by fuzz/rule_docs_fuzz.cc: a rule that is not UTF-8 parsed, then
// could not be stored as JSON: a 500 "store error".
TEST(ControlLimits, ARuleThatIsNotUtf8Is400) {
  ControlPlane cp = ControlPlane::Start();
  Response r = cp.Send("POST", "/v1/apply", "kind: Route\nname: r\nspec:\n  service: \x91\x95der\n");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("request:4: invalid YAML: not UTF-8"), std::string::npos) << r.body;
  EXPECT_EQ(Json(cp.Get("/v1/rules"))["rules"].size(), 0u);
}

// The data plane reads snapshots (and its cache file) with the same bound: a
// poisoned cache is refused, not a crash.
TEST(ControlLimits, ADeeplyNestedCachedSnapshotIsRefusedByTheGateway) {
  const std::string cache = TempFile(
      "deep.snapshot.json",
      R"({"version":3,"services":[],"routes":[],"policies":[],"lanes":[{"name":"l","tag":)" +
          Nested(70'000) + "}]}");
  const uint16_t dead = FreePort();  // nothing listens: the gateway falls back to the cache
  ChildProcess gw(GraymeshBin(), {"gateway", "--listen", "127.0.0.1:" + std::to_string(FreePort()),
                                  "--admin", "none", "--control",
                                  "http://127.0.0.1:" + std::to_string(dead), "--cache", cache});
  EXPECT_EQ(gw.Wait(10s), 1) << gw.Log();
  EXPECT_NE(gw.Log().find("nested deeper than 64 levels"), std::string::npos) << gw.Log();
}

}  // namespace
}  // namespace graymesh::test
