// Sticky percentage: the hash is fixed (FNV-1a 64 % 100), the share holds
// over many users, a user always gets the same answer, and a request without
// the sticky key never enters the lane.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "lane/entrance.h"
#include "lane/lane_builders.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using namespace testing;  // NOLINT: builders

TEST(StickyBucket, KnownValues) {
  // FNV-1a 64 reference values (offset basis and "a" from the FNV spec);
  // pinned so that a change of hash, which would move users, fails here.
  EXPECT_EQ(StickyBucket(""), 14695981039346656037ull % 100);
  EXPECT_EQ(StickyBucket("a"), 0xaf63dc4c8601ec8cull % 100);
  EXPECT_EQ(StickyBucket("foobar"), 0x85944171f73967e8ull % 100);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(StickyBucket(std::to_string(i)), 100u);
}

std::shared_ptr<const EntranceRules> Share(int percent, std::string sticky_on) {
  config::MatchClause c;
  c.percent = percent;
  c.sticky_on = std::move(sticky_on);
  return EntranceRules::Compile({MakeLane("L", "gray", {c})}, Scope{});
}

TEST(StickyPercent, TenPercentOfUsersAndStable) {
  const auto rules = Share(10, "header:x-user-id");
  int in = 0;
  constexpr int kUsers = 10'000;
  for (int i = 0; i < kUsers; ++i) {
    const std::string id = "user-" + std::to_string(i);
    TestRequest t;
    t.headers = {{"X-User-Id", id}};
    const bool first = rules->Match(t.View()) == "gray";
    in += first;
    t.client = "10.9.9.9";  // other attributes do not change the answer
    t.path = "/other";
    for (int k = 0; k < 3; ++k) EXPECT_EQ(rules->Match(t.View()) == "gray", first) << id;
    EXPECT_EQ(first, StickyBucket(id) < 10) << id;
  }
  EXPECT_NEAR(in, kUsers / 10, kUsers * 15 / 1000) << in;  // 10% +- 1.5%
}

// Canaries keep their share by trace id: every hop of one trace (other
// client, path, headers) decides alike, and untraced requests stay base.
TEST(StickyPercent, TraceIdSharesAndEveryHopOfATraceAgrees) {
  const auto rules = Share(25, "trace");
  int in = 0;
  char id[33];
  for (int i = 0; i < 10'000; ++i) {
    std::snprintf(id, sizeof id, "%016x%016x", i * 2654435761u, i);
    TestRequest t;
    t.trace_id = id;
    const bool first = rules->Match(t.View()) == "gray";
    in += first;
    EXPECT_EQ(first, StickyBucket(id) < 25) << id;
    t.client = "10.7.7.7";
    t.path = "/next-hop";
    t.headers = {{"x-user-id", "someone"}};
    EXPECT_EQ(rules->Match(t.View()) == "gray", first) << id;
  }
  EXPECT_NEAR(in, 2500, 200);
  TestRequest untraced;
  EXPECT_EQ(rules->Match(untraced.View()), "");
}

TEST(StickyPercent, NumericIdsShareToo) {
  const auto rules = Share(10, "header:x-user-id");
  int in = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::string id = std::to_string(100'000 + i);
    TestRequest t;
    t.headers = {{"x-user-id", id}};
    in += rules->Match(t.View()) == "gray";
  }
  EXPECT_NEAR(in, 1000, 150);
}

TEST(StickyPercent, MissingOrEmptyKeyNeverMatches) {
  for (int percent : {10, 100}) {
    const auto rules = Share(percent, "header:x-user-id");
    TestRequest t;
    EXPECT_EQ(rules->Match(t.View()), "") << percent;
    t.headers = {{"x-user-id", ""}};
    EXPECT_EQ(rules->Match(t.View()), "") << percent;
  }
  const auto cookie = Share(100, "cookie:uid");
  TestRequest t;
  t.headers = {{"cookie", "other=1"}};
  EXPECT_EQ(cookie->Match(t.View()), "");
  t.headers = {{"cookie", "other=1; uid=42"}};
  EXPECT_EQ(cookie->Match(t.View()), "gray");
}

TEST(StickyPercent, ZeroAndHundred) {
  const auto none = Share(0, "header:x-user-id");
  const auto all = Share(100, "header:x-user-id");
  for (int i = 0; i < 200; ++i) {
    const std::string id = std::to_string(i);
    TestRequest t;
    t.headers = {{"x-user-id", id}};
    EXPECT_EQ(none->Match(t.View()), "");
    EXPECT_EQ(all->Match(t.View()), "gray");
  }
}

TEST(StickyPercent, KeySources) {
  // Each source is read from where it says: the same id through cookie,
  // query or client address lands in the same bucket as through a header.
  std::string id;
  for (int i = 0;; ++i) {  // an id inside a 30% share
    id = "u" + std::to_string(i);
    if (StickyBucket(id) < 30) break;
  }
  std::string out;
  for (int i = 0;; ++i) {  // and one outside it
    out = "u" + std::to_string(i);
    if (StickyBucket(out) >= 30) break;
  }
  const std::string cookie_in = "a=1; sid=" + id, cookie_out = "a=1; sid=" + out;
  const std::string query_in = "x=1&uid=" + id, query_out = "x=1&uid=" + out;
  TestRequest t;
  t.headers = {{"cookie", cookie_in}};
  EXPECT_EQ(Share(30, "cookie:sid")->Match(t.View()), "gray");
  t.headers = {{"cookie", cookie_out}};
  EXPECT_EQ(Share(30, "cookie:sid")->Match(t.View()), "");
  t.query = query_in;
  EXPECT_EQ(Share(30, "query:uid")->Match(t.View()), "gray");
  t.query = query_out;
  EXPECT_EQ(Share(30, "query:uid")->Match(t.View()), "");
  t.client = id;  // the client key is the address text as given
  EXPECT_EQ(Share(30, "client")->Match(t.View()), "gray");
  t.client = out;
  EXPECT_EQ(Share(30, "client")->Match(t.View()), "");
  t.client = "";
  EXPECT_EQ(Share(100, "client")->Match(t.View()), "");
}

TEST(StickyPercent, CombinedWithConditions) {
  config::MatchClause c = Header("x-env", Exact("beta"));
  c.percent = 100;
  c.sticky_on = "header:x-user-id";
  const auto rules = EntranceRules::Compile({MakeLane("L", "gray", {c})}, Scope{});
  TestRequest t;
  t.headers = {{"x-env", "beta"}, {"x-user-id", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "gray");
  t.headers = {{"x-env", "prod"}, {"x-user-id", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "");
}

}  // namespace
}  // namespace graymesh::lane
