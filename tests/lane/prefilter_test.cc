// The value index in front of the entrance rules (entrance.cc, "Rules
// indexed by value") skips clauses whose exact/in/prefix/regex guard cannot
// hold; it must never change the answer. Each request is matched by a rule
// set small enough to be indexed and by the same rules behind more than 512
// never-matching clauses, where the index is off.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lane/entrance.h"
#include "lane/lane_builders.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using namespace testing;  // NOLINT: builders

std::vector<config::Lane> MixedLanes() {
  std::vector<config::Lane> lanes;
  config::MatchClause two;  // exact AND regex: either may be the guard
  two.headers.emplace_back("x-a", Exact("one"));
  two.headers.emplace_back("x-b", Regex("id-[0-9]+"));
  lanes.push_back(MakeLane("exact-and-regex", "t1", {two}, 10));
  lanes.push_back(MakeLane("regex-literal", "t2", {Header("x-b", Regex("ver-(1|2)\\.[0-9]"))}, 20));
  lanes.push_back(MakeLane("regex-open", "t3", {Header("x-b", Regex("[a-z]+-9"))}, 30));
  lanes.push_back(MakeLane("prefix", "t4", {Header("x-a", Prefix("pre-"))}, 40));
  config::MatchClause cookie;
  cookie.cookies.emplace_back("c", In({"x", "y"}));
  // OR: a guarded clause and an unguarded one (present) in one lane.
  lanes.push_back(MakeLane("in-or-present", "t5", {cookie, Header("x-flag", Present())}, 50));
  config::MatchClause path;
  path.path.push_back(Prefix("/beta/"));
  lanes.push_back(MakeLane("path", "t6", {path}, 60));
  config::MatchClause bag;
  bag.baggage.emplace_back("tenant", Exact("acme corp"));
  lanes.push_back(MakeLane("baggage", "t7", {bag}, 70));
  lanes.push_back(MakeLane("range", "t8", {Header("x-n", Range(10, 20))}, 80));
  return lanes;
}

// The same rules, then enough never-matching lanes to switch the index off.
std::vector<config::Lane> Unindexed() {
  std::vector<config::Lane> lanes = MixedLanes();
  for (int i = 0; i < 600; ++i) {
    lanes.push_back(MakeLane("pad-" + std::to_string(i), "pad",
                             {Header("x-pad", Exact("never-" + std::to_string(i)))}, 1000));
  }
  return lanes;
}

struct Case {
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view path = "/";
  std::string_view carried;
  std::string_view baggage;
  std::string want;
};

TEST(EntrancePrefilter, SameAnswersAsEvaluatingEveryRule) {
  const auto indexed = EntranceRules::Compile(MixedLanes(), Scope{});
  const auto plain = EntranceRules::Compile(Unindexed(), Scope{});
  const std::vector<Case> cases = {
      {.headers = {}, .want = ""},
      {.headers = {{"x-a", "one"}, {"x-b", "id-42"}}, .want = "t1"},
      {.headers = {{"x-a", "one"}, {"x-b", "id-x"}}, .want = ""},
      {.headers = {{"x-a", "two"}, {"x-b", "id-42"}}, .want = ""},
      // Same length and last byte as "one" (the exact values' shape filter
      // lets them through), and one whose shape wraps to the same bit.
      {.headers = {{"x-a", "ane"}, {"x-b", "id-42"}}, .want = ""},
      {.headers = {{"x-a", "abcd'"}, {"x-b", "id-42"}}, .want = ""},
      {.headers = {{"x-b", "ver-2.7"}}, .want = "t2"},
      {.headers = {{"x-b", "ver-3.7"}}, .want = ""},
      {.headers = {{"x-b", "abc-9"}}, .want = "t3"},
      {.headers = {{"x-a", "pre-"}}, .want = "t4"},
      {.headers = {{"x-a", "pre"}}, .want = ""},
      {.headers = {{"cookie", "a=1; c=y"}}, .want = "t5"},
      {.headers = {{"cookie", "c=z"}}, .want = ""},
      {.headers = {{"cookie", "c=z"}, {"x-flag", ""}}, .want = "t5"},
      {.headers = {}, .path = "/beta/x", .want = "t6"},
      {.headers = {}, .path = "/bet", .want = ""},
      {.headers = {}, .baggage = "tenant=acme%20corp", .want = "t7"},
      {.headers = {}, .baggage = "tenant=acme", .want = ""},
      {.headers = {{"x-n", "15"}}, .want = "t8"},
      // A header the request lacks is read from its carried member: the
      // index must read it the same way.
      {.headers = {}, .carried = "graymesh-h-x-a=pre-carried", .want = "t4"},
      {.headers = {{"x-a", "one"}}, .carried = "graymesh-h-x-b=id-7", .want = "t1"},
  };
  for (const Case& c : cases) {
    TestRequest t;
    t.headers = c.headers;
    t.path = c.path;
    t.carried = c.carried;
    t.baggage = c.baggage;
    const std::string got(indexed->Match(t.View()));
    EXPECT_EQ(got, c.want) << "headers " << c.headers.size() << " path " << c.path << " carried "
                           << c.carried << " baggage " << c.baggage;
    EXPECT_EQ(got, std::string(plain->Match(t.View()))) << "index changed the answer";
  }
}

// Priority still decides between two lanes whose guards both hold.
TEST(EntrancePrefilter, FirstMatchInPriorityOrderAmongCandidates) {
  const auto rules = EntranceRules::Compile(
      {MakeLane("late", "late", {Header("x-a", Prefix("p"))}, 20),
       MakeLane("early", "early", {Header("x-a", Exact("pq"))}, 10)},
      Scope{});
  TestRequest t;
  t.headers = {{"x-a", "pq"}};
  EXPECT_EQ(rules->Match(t.View()), "early");
  t.headers = {{"x-a", "pz"}};
  EXPECT_EQ(rules->Match(t.View()), "late");
}

// Request names are compared only with the rule names of their bucket
// (request_keys.h: length and last byte, case folded). Names that share a
// bucket ("x-a" and "x-!": 'a' and '!' are 64 apart) and names in another
// case must resolve exactly as a scan over every header does: the same
// rules after 600 padding lanes, whose names are interned first, so these
// get keys past KeyTable::kBatched and are looked up one by one.
TEST(EntranceKeys, NamesSharingABucketResolveAsAScanDoes) {
  std::vector<config::Lane> lanes = {
      MakeLane("a", "ta", {Header("x-a", Exact("1"))}, 10),
      MakeLane("bang", "tbang", {Header("x-!", Exact("1"))}, 20),
      MakeLane("h0", "th0", {Header("X-H0", Exact("1"))}, 30),
      MakeLane("h1", "th1", {Header("x-h1", Exact("1"))}, 40),
  };
  const auto indexed = EntranceRules::Compile(lanes, Scope{});
  std::vector<config::Lane> padded;
  for (int i = 0; i < 600; ++i) {
    padded.push_back(MakeLane("pad-" + std::to_string(i), "pad",
                              {Header("x-pad-" + std::to_string(i), Exact("never"))}, 1000));
  }
  padded.insert(padded.end(), lanes.begin(), lanes.end());
  const auto scanned = EntranceRules::Compile(padded, Scope{});
  const std::vector<std::pair<std::vector<std::pair<std::string_view, std::string_view>>,
                              std::string>>
      cases = {
          {{{"x-!", "0"}, {"X-A", "1"}}, "ta"},
          {{{"x-a", "0"}, {"x-!", "1"}}, "tbang"},
          {{{"x-!", "0"}, {"x-a", "0"}}, ""},
          {{{"x-h0", "1"}}, "th0"},
          {{{"X-H1", "1"}}, "th1"},
          {{{"x-h1", "0"}, {"x-h1", "1"}}, ""},  // the first occurrence wins
          {{{"x-h2", "1"}, {"x-h", "1"}, {"x-h00", "1"}}, ""},
      };
  for (const auto& [headers, want] : cases) {
    TestRequest t;
    t.headers = headers;
    EXPECT_EQ(std::string(indexed->Match(t.View())), want) << headers.front().first;
    EXPECT_EQ(std::string(scanned->Match(t.View())), want) << headers.front().first;
  }
}

}  // namespace
}  // namespace graymesh::lane
