// ParseJson: depth and number limits, and error excerpts that never print a
// user's nested value.
#include "wire/json_limits.h"

#include "config/config.h"
#include "wire/rule_json.h"
#include "control/snapshot_build.h"
#include "wire/snapshot_json.h"
#include "control/store.h"

#include <gtest/gtest.h>

#include <string>

namespace graymesh::control {
namespace {

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimits, DepthUpToTheLimitParses) {
  std::string error;
  EXPECT_TRUE(wire::ParseJson(Nested(wire::kMaxJsonDepth), &error).has_value()) << error;
  EXPECT_TRUE(wire::ParseJson(R"({"a":)" + Nested(wire::kMaxJsonDepth - 1) + "}", &error).has_value());
}

TEST(JsonLimits, DeeperIsRefused) {
  for (const std::string& text :
       {Nested(wire::kMaxJsonDepth + 1), Nested(70'000), R"({"a":)" + Nested(wire::kMaxJsonDepth) + "}",
        std::string(200'000, '[')}) {
    std::string error;
    EXPECT_FALSE(wire::ParseJson(text, &error).has_value());
    EXPECT_EQ(error, "JSON nested deeper than 64 levels");
  }
}

TEST(JsonLimits, BadSyntaxAndHugeNumbersAreErrorsNotExceptions) {
  std::string error;
  EXPECT_FALSE(wire::ParseJson("{\"a\":", &error).has_value());
  EXPECT_NE(error.find("invalid JSON"), std::string::npos) << error;
  EXPECT_FALSE(wire::ParseJson(R"({"weight":1e999})", &error).has_value());
  EXPECT_NE(error.find("number overflow"), std::string::npos) << error;
  EXPECT_THROW(wire::ParseJsonOrThrow("[1e999]", "snapshot"), std::invalid_argument);
}

TEST(JsonLimits, ExcerptsAreShortAndNeverPrintContainers) {
  EXPECT_EQ(wire::JsonExcerpt(nlohmann::json::parse("[[1]]")), "an array");
  EXPECT_EQ(wire::JsonExcerpt(nlohmann::json::parse("{}")), "an object");
  EXPECT_EQ(wire::JsonExcerpt(nlohmann::json("x")), "\"x\"");
  EXPECT_EQ(wire::JsonExcerpt(nlohmann::json(std::string(500, 'y'))).size(), 64u + 3u);
}

}  // namespace
}  // namespace graymesh::control

namespace graymesh::control {
namespace {

// A store (or snapshot) may hold more rules than one YAML text may: they are
// read in texts under the limit, and names stay unique across all of them.
TEST(RulesFromJsonLimits, MoreRulesThanOneYamlTextHoldsStillParse) {
  std::vector<nlohmann::json> docs;
  const std::string prefix = "/" + std::string(1000, 'p');
  for (int i = 0; i < 5000; ++i) {
    docs.push_back({{"kind", "Route"},
                    {"name", "r" + std::to_string(i)},
                    {"spec", {{"pathPrefix", prefix}, {"service", "s"}}}});
  }
  EXPECT_EQ(wire::RulesFromJson(docs, "store").size(), 5000u);
  docs.push_back(docs.front());  // the same name, in a later text than the first
  EXPECT_THROW(wire::RulesFromJson(docs, "store"), config::ConfigError);
}

}  // namespace
}  // namespace graymesh::control

namespace graymesh::control {
namespace {

// A store from before addresses were validated may hold "%00:1": that
// instance is left out, and the snapshot still builds.
TEST(SnapshotLimits, AnInstanceStoredWithAnInvalidAddressIsLeftOut) {
  StoreState state;
  state.revision = 4;
  Instance bad, good;
  bad.id = "web-bad";
  bad.spec.service = "web";
  bad.spec.address = "%00:1";
  good.spec.service = "web";
  good.spec.address = "10.0.0.1:80";
  state.instances = {bad, good};
  const wire::Snapshot s = BuildSnapshot(state);
  ASSERT_EQ(s.services.size(), 1u);
  ASSERT_EQ(s.services[0].endpoints.size(), 1u);
  EXPECT_EQ(s.services[0].endpoints[0].endpoint.address.host, "10.0.0.1");
}

}  // namespace
}  // namespace graymesh::control
