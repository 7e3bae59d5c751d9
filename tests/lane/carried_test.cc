// Carried values (S3 at any depth): which keys a snapshot carries, how they
// are encoded in baggage, and that rules read them when the request lacks the
// key itself; `baggage:` conditions.
#include "lane/carried.h"

#include <gtest/gtest.h>

#include <random>

#include "lane/lane_builders.h"
#include "lane/propagation.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using testing::Exact;
using testing::Header;
using testing::MakeLane;
using testing::Range;
using testing::TestRequest;

config::Lane ServiceLane(std::string service, std::vector<config::MatchClause> match) {
  config::Lane l = MakeLane("L-" + service, "gray", std::move(match));
  l.service = std::move(service);
  return l;
}

TEST(Carried, EncodingFollowsW3cBaggage) {
  std::string out;
  AppendBaggageValue("a b,c;d=\"e\"\\%f", &out);
  EXPECT_EQ(out, "a%20b%2Cc%3Bd=%22e%22%5C%25f");
  char buf[64];
  size_t len = 0;
  ASSERT_TRUE(DecodeBaggageValue(out, buf, sizeof(buf), &len));
  EXPECT_EQ(std::string_view(buf, len), "a b,c;d=\"e\"\\%f");
  EXPECT_FALSE(DecodeBaggageValue("bad%2", buf, sizeof(buf), &len));
  EXPECT_FALSE(DecodeBaggageValue("bad%zz", buf, sizeof(buf), &len));
  EXPECT_FALSE(DecodeBaggageValue("toolong", buf, 3, &len));
  EXPECT_EQ(CarriedMemberKey(CarriedKind::kHeader, "x-user-id"), "graymesh-h-x-user-id");
  EXPECT_EQ(CarriedMemberKey(CarriedKind::kQuery, "a[b]"), "graymesh-q-a%5Bb%5D");
  EXPECT_TRUE(IsCarriedMemberKey("graymesh-c-sid"));
  EXPECT_FALSE(IsCarriedMemberKey("graymesh-lane"));
}

// Any bytes survive the trip, and what is written is always valid baggage:
// no byte outside baggage-octet, so a value can never end a member early.
TEST(Carried, EveryByteRoundTrips) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string raw(rng() % 40, '\0');
    for (char& c : raw) c = static_cast<char>(rng() % 256);
    std::string enc;
    AppendBaggageValue(raw, &enc);
    for (unsigned char c : enc) {
      ASSERT_TRUE(c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\')
          << int(c);
    }
    char buf[160];
    size_t len = 0;
    ASSERT_TRUE(DecodeBaggageValue(enc, buf, sizeof(buf), &len));
    ASSERT_EQ(std::string(buf, len), raw);
  }
}

TEST(Carried, OnlyKeysOfServiceScopedRulesAreCarried) {
  config::MatchClause data = Header("x-user-id", Range(100, 199));
  data.cookies.emplace_back("beta", Exact("1"));
  config::MatchClause sticky;
  sticky.percent = 10;
  sticky.sticky_on = "query:uid";
  config::MatchClause by_client;
  by_client.percent = 10;  // stickyOn client: an address, nothing to carry
  config::Lane gateway = MakeLane("gw", "gray", {Header("x-env", Exact("gray"))});
  const auto keys = CarriedKeys::Compile(
      {gateway, ServiceLane("data", {data, sticky, by_client}),
       ServiceLane("payment", {Header("x-user-id", Exact("7"))})});
  EXPECT_EQ(keys->size(), 3u) << "x-user-id once, beta, uid; not the gateway rule's x-env";

  TestRequest rq;
  rq.query = "uid=42&x=1";
  rq.headers = {{"X-User-Id", "150"}, {"x-env", "gray"}, {"cookie", "beta=1; sid=z"}};
  std::string out;
  keys->Append(rq.View(), "", &out);
  EXPECT_EQ(out, "graymesh-h-x-user-id=150,graymesh-c-beta=1,graymesh-q-uid=42");
  EXPECT_TRUE(CarriedKeys::Compile({gateway})->empty());
}

TEST(Carried, OwnValuesWinThenIncomingMembersPassOn) {
  const auto keys = CarriedKeys::Compile({ServiceLane("data", {Header("x-user-id", Range(1, 9))})});
  TestRequest rq;
  rq.headers = {{"x-user-id", "5"}};
  std::string out;
  keys->Append(rq.View(),
               "a=1,graymesh-h-x-user-id=9,graymesh-h-x-other=7;p,graymesh-lane=gray,"
               "graymesh-h-x-other=8",
               &out);
  // The request's own x-user-id replaces the incoming one; a member this
  // node has no rule for still goes on (another service's rule may read it),
  // once; non-carried members are not part of the carried list.
  EXPECT_EQ(out, "graymesh-h-x-user-id=5,graymesh-h-x-other=7");
  out.clear();
  keys->Append(TestRequest{}.View(), "graymesh-h-x-user-id=9", &out);
  EXPECT_EQ(out, "graymesh-h-x-user-id=9");
}

TEST(Carried, LongValuesAreNotCarried) {
  const auto keys = CarriedKeys::Compile({ServiceLane("data", {Header("x-big", Exact("x"))})});
  const std::string big(CarriedKeys::kMaxValueBytes + 1, 'v');
  TestRequest rq;
  rq.headers = {{"x-big", big}};
  std::string out;
  keys->Append(rq.View(), "", &out);
  EXPECT_EQ(out, "");
}

TEST(Carried, ComposedBaggageReplacesMeshMembersAndStaysWithinTheLimit) {
  std::string out;
  ASSERT_TRUE(ComposeBaggage("a=1,graymesh-h-x=old,graymesh-lane=blue,b=2", "graymesh-h-x=new",
                             "gray", &out));
  EXPECT_EQ(out, "a=1,b=2,graymesh-h-x=new,graymesh-lane=gray");
  out.clear();
  ASSERT_TRUE(ComposeBaggage("", "", "", &out));
  EXPECT_EQ(out, "");
  const std::string big = "k=" + std::string(kMaxBaggageBytes - 10, 'v');
  out = "head";
  EXPECT_FALSE(ComposeBaggage(big, "graymesh-h-x=1", "gray", &out));
  EXPECT_EQ(out, "head");
  EXPECT_TRUE(HasMeshMembers(" a=1 , graymesh-q-u=2"));
  EXPECT_FALSE(HasMeshMembers("a=1,graymeshx=2"));
  out.clear();
  AppendWithoutMeshMembers("graymesh-lane=gray, a=1;p ,graymesh-h-x=1,b=2", &out);
  EXPECT_EQ(out, "a=1;p,b=2");
}

TEST(Carried, RulesReadTheCarriedMemberWhenTheRequestLacksTheKey) {
  config::MatchClause by_cookie;
  by_cookie.cookies.emplace_back("beta", Exact("1"));
  config::MatchClause sticky;
  sticky.percent = 100;
  sticky.sticky_on = "query:uid";
  const auto rules = EntranceRules::Compile(
      {ServiceLane("data", {Header("x-user-id", Range(100, 199))}),
       ServiceLane("data", {by_cookie}), ServiceLane("data", {sticky})},
      Scope{.gateway = "", .service = "data"});
  TestRequest rq;
  rq.carried = "graymesh-h-x-user-id=150";
  EXPECT_EQ(rules->Match(rq.View()), "gray");
  rq.carried = "graymesh-h-x-user-id=250";
  EXPECT_EQ(rules->Match(rq.View()), "");
  // The request's own header wins over the carried one.
  rq.headers = {{"x-user-id", "120"}};
  EXPECT_EQ(rules->Match(rq.View()), "gray");
  rq.headers = {};
  rq.carried = {};
  rq.baggage = "graymesh-c-beta=1";  // carried members in the request's own baggage count too
  EXPECT_EQ(rules->Match(rq.View()), "gray");
  rq.baggage = "graymesh-q-uid=42";
  EXPECT_EQ(rules->Match(rq.View()), "gray") << "sticky keys are carried too";
  rq.baggage = "x-user-id=150";  // a plain member is not a carried one
  EXPECT_EQ(rules->Match(rq.View()), "");
}

TEST(Carried, BaggageConditionsReadMembersByName) {
  config::MatchClause c;
  c.baggage.emplace_back("tenant", Exact("acme corp"));
  const auto rules = EntranceRules::Compile({MakeLane("L", "gray", {c})}, Scope{});
  TestRequest rq;
  rq.baggage = "userId=1, tenant = acme%20corp ;prop=1";
  EXPECT_EQ(rules->Match(rq.View()), "gray");
  rq.baggage = "Tenant=acme%20corp";  // keys are case-sensitive
  EXPECT_EQ(rules->Match(rq.View()), "");
  rq.baggage = "tenant=acme%2";  // malformed encoding never matches
  EXPECT_EQ(rules->Match(rq.View()), "");
  rq.baggage = "";
  rq.carried = "tenant=acme%20corp";
  EXPECT_EQ(rules->Match(rq.View()), "gray");
}

// A member read by many conditions is decoded once per request: the decode
// buffer is fixed, so decoding it per condition would run out and make the
// last rules miss.
TEST(Carried, AMemberReadByManyConditionsIsDecodedOnce) {
  const std::string value = "acme corp, the long name";  // 24 bytes, 28 encoded
  std::string encoded;
  AppendBaggageValue(value, &encoded);
  std::vector<config::Lane> lanes;
  for (int i = 0; i < 60; ++i) {
    config::MatchClause c;
    c.baggage.emplace_back("tenant", Exact(value));
    // A regex runs after the exact baggage condition (cheapest first), so the
    // member is read before the clause fails.
    c.headers.emplace_back("x-never-" + std::to_string(i), testing::Regex("z+"));
    lanes.push_back(MakeLane("L" + std::to_string(i), "no", {c}));
  }
  config::MatchClause last;
  last.baggage.emplace_back("tenant", Exact(value));
  lanes.push_back(MakeLane("last", "gray", {last}));
  const auto rules = EntranceRules::Compile(lanes, Scope{});
  TestRequest rq;
  const std::string baggage = "tenant=" + encoded;
  rq.baggage = baggage;
  EXPECT_EQ(rules->Match(rq.View()), "gray");
}

}  // namespace
}  // namespace graymesh::lane
