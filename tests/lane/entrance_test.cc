// EntranceRules: every operator on every request part, AND inside a clause,
// OR across clauses, priority order, scope filtering, compile errors, and
// that Match() does not allocate.
#include "lane/entrance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "lane/lane_builders.h"
#include "lane/test_request.h"

// Counts heap allocations so a test can show Match() makes none. GCC warns
// that free() gets memory from `new`: true, and correct for this pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Every non-aligned form is replaced, so that no pair mixes ours with the
// runtime's (ASan checks that the two halves of a pair match).
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace graymesh::lane {
namespace {

using namespace testing;  // NOLINT: builders

// The tag for a request against one lane "L" (tag "t") with one clause.
std::string MatchOne(const config::MatchClause& clause, const TestRequest& t) {
  const auto rules = EntranceRules::Compile({MakeLane("L", "t", {clause})}, Scope{});
  return std::string(rules->Match(t.View()));
}

TestRequest WithHeader(std::string_view name, std::string_view value) {
  TestRequest t;
  t.headers = {{"host", "shop"}, {name, value}};
  return t;
}

TEST(EntranceOps, Exact) {
  const auto c = Header("x-env", Exact("gray"));
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "gray")), "t");
  EXPECT_EQ(MatchOne(c, WithHeader("X-Env", "gray")), "t");  // header names ignore case
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "Gray")), "");   // values do not
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "gray2")), "");
  EXPECT_EQ(MatchOne(c, WithHeader("x-other", "gray")), "");
}

TEST(EntranceOps, ExactEmptyNeedsThePresentHeader) {
  const auto c = Header("x-env", Exact(""));
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "")), "t");
  EXPECT_EQ(MatchOne(c, WithHeader("x-other", "")), "");
}

TEST(EntranceOps, Prefix) {
  const auto c = Header("x-env", Prefix("gray-"));
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "gray-7")), "t");
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "gray-")), "t");
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "gray")), "");
  EXPECT_EQ(MatchOne(c, WithHeader("x-env", "xgray-7")), "");
}

TEST(EntranceOps, RegexIsFullMatch) {
  const auto c = Header("x-user-id", Regex("1[0-9]{2}"));
  EXPECT_EQ(MatchOne(c, WithHeader("x-user-id", "150")), "t");
  EXPECT_EQ(MatchOne(c, WithHeader("x-user-id", "1500")), "");  // no implicit ".*" at the end
  EXPECT_EQ(MatchOne(c, WithHeader("x-user-id", "2150")), "");  // nor at the start
  EXPECT_EQ(MatchOne(Header("x-env", Regex(".*gray.*")), WithHeader("x-env", "a-gray-b")), "t");
  EXPECT_EQ(MatchOne(Header("x-env", Regex("^gr(a|e)y$")), WithHeader("x-env", "grey")), "t");
  EXPECT_EQ(MatchOne(Header("x-env", Regex("(?i)GRAY")), WithHeader("x-env", "gray")), "t");
  // Absent header: even a regex matching "" does not match.
  EXPECT_EQ(MatchOne(Header("x-env", Regex(".*")), WithHeader("x-other", "")), "");
}

TEST(EntranceOps, In) {
  const auto c = Header("x-env", In({"gray", "canary", "blue", "a", "zz"}));
  for (const char* v : {"gray", "canary", "blue", "a", "zz"}) {
    EXPECT_EQ(MatchOne(c, WithHeader("x-env", v)), "t") << v;
  }
  for (const char* v : {"", "base", "grayx", "b", "z"}) {
    EXPECT_EQ(MatchOne(c, WithHeader("x-env", v)), "") << v;
  }
}

TEST(EntranceOps, Range) {
  const auto c = Header("x-user-id", Range(100, 199));
  for (const char* v : {"100", "150", "199", "150.5", "1e2", "100.0"}) {
    EXPECT_EQ(MatchOne(c, WithHeader("x-user-id", v)), "t") << v;
  }
  for (const char* v :
       {"99", "200", "199.01", "abc", "", "150abc", " 150", "+150", "0x96", "nan", "inf"}) {
    EXPECT_EQ(MatchOne(c, WithHeader("x-user-id", v)), "") << v;
  }
  EXPECT_EQ(MatchOne(Header("v", Range(-5, -1)), WithHeader("v", "-3")), "t");
}

TEST(EntranceOps, PresentAndAbsent) {
  EXPECT_EQ(MatchOne(Header("x-debug", Present()), WithHeader("x-debug", "")), "t");
  EXPECT_EQ(MatchOne(Header("x-debug", Present()), WithHeader("x-other", "1")), "");
  EXPECT_EQ(MatchOne(Header("x-debug", Absent()), WithHeader("x-other", "1")), "t");
  EXPECT_EQ(MatchOne(Header("x-debug", Absent()), WithHeader("X-Debug", "")), "");
}

TEST(EntranceOps, Cookies) {
  config::MatchClause c;
  c.cookies.emplace_back("env", In({"gray", "canary"}));
  TestRequest t;
  t.headers = {{"cookie", "sid=1; env=canary"}};
  EXPECT_EQ(MatchOne(c, t), "t");
  t.headers = {{"cookie", "sid=1; env=base"}};
  EXPECT_EQ(MatchOne(c, t), "");
  t.headers = {{"cookie", "sid=1; xenv=gray"}};
  EXPECT_EQ(MatchOne(c, t), "");
  t.headers = {};
  EXPECT_EQ(MatchOne(c, t), "");
  config::MatchClause absent;
  absent.cookies.emplace_back("env", Absent());
  EXPECT_EQ(MatchOne(absent, t), "t");
}

TEST(EntranceOps, Query) {
  config::MatchClause c;
  c.query.emplace_back("uid", Range(100, 199));
  TestRequest t;
  t.query = "a=1&uid=150";
  EXPECT_EQ(MatchOne(c, t), "t");
  t.query = "uid=250&uid=150";  // the first occurrence counts
  EXPECT_EQ(MatchOne(c, t), "");
  t.query = "xuid=150";
  EXPECT_EQ(MatchOne(c, t), "");
}

TEST(EntranceOps, PathMethodSourceService) {
  config::MatchClause c;
  c.path.push_back(Prefix("/api"));
  c.method.push_back(In({"GET", "POST"}));
  c.source_service.push_back(Exact("order"));
  TestRequest t;
  t.path = "/api/v1";
  t.method = "POST";
  t.source = "order";
  EXPECT_EQ(MatchOne(c, t), "t");
  t.method = "get";  // methods are case-sensitive
  EXPECT_EQ(MatchOne(c, t), "");
  t.method = "GET";
  t.path = "/apx";
  EXPECT_EQ(MatchOne(c, t), "");
  t.path = "/api";
  t.source = "";  // no x-graymesh-source: absent
  EXPECT_EQ(MatchOne(c, t), "");
  config::MatchClause no_source;
  no_source.source_service.push_back(Absent());
  EXPECT_EQ(MatchOne(no_source, t), "t");
}

TEST(EntranceOps, SourceAddress) {
  config::MatchClause c;
  c.source_address.push_back(In({"10.0.0.0/8", "192.168.1.7", "::1", "fd00::/16"}));
  TestRequest t;
  for (const char* ip :
       {"10.1.2.3", "192.168.1.7", "::1", "0::1", "fd00:1::5", "::ffff:10.9.9.9"}) {
    t.client = ip;
    EXPECT_EQ(MatchOne(c, t), "t") << ip;
  }
  for (const char* ip : {"11.0.0.1", "192.168.1.8", "::2", "fd01::1", "", "garbage"}) {
    t.client = ip;
    EXPECT_EQ(MatchOne(c, t), "") << ip;
  }
  config::MatchClause exact;
  exact.source_address.push_back(Exact("172.16.0.0/12"));
  t.client = "172.20.1.1";
  EXPECT_EQ(MatchOne(exact, t), "t");
  config::MatchClause text;  // prefix works on the address text
  text.source_address.push_back(Prefix("172.20."));
  EXPECT_EQ(MatchOne(text, t), "t");
}

TEST(EntranceLogic, AndInsideClause) {
  config::MatchClause c = Header("x-env", Exact("gray"));
  c.headers.emplace_back("x-user-id", Regex("1[0-9]{2}"));
  c.cookies.emplace_back("beta", Exact("1"));
  TestRequest t;
  t.headers = {{"x-env", "gray"}, {"x-user-id", "123"}, {"cookie", "beta=1"}};
  EXPECT_EQ(MatchOne(c, t), "t");
  t.headers = {{"x-env", "gray"}, {"x-user-id", "123"}, {"cookie", "beta=0"}};
  EXPECT_EQ(MatchOne(c, t), "");
  t.headers = {{"x-env", "gray"}, {"x-user-id", "999"}, {"cookie", "beta=1"}};
  EXPECT_EQ(MatchOne(c, t), "");
  t.headers = {{"x-user-id", "123"}, {"cookie", "beta=1"}};
  EXPECT_EQ(MatchOne(c, t), "");
}

TEST(EntranceLogic, OrAcrossClauses) {
  const auto rules = EntranceRules::Compile(
      {MakeLane("L", "gray", {Header("x-env", Exact("gray")), Header("x-beta", Present())})},
      Scope{});
  EXPECT_EQ(rules->Match(WithHeader("x-env", "gray").View()), "gray");
  EXPECT_EQ(rules->Match(WithHeader("x-beta", "").View()), "gray");
  EXPECT_EQ(rules->Match(WithHeader("x-env", "base").View()), "");
}

TEST(EntranceLogic, PriorityThenFileOrder) {
  const std::vector<config::Lane> lanes = {
      MakeLane("late", "t-late", {Header("x-a", Present())}, 200),
      MakeLane("first-100", "t-first-100", {Header("x-a", Present())}, 100),
      MakeLane("second-100", "t-second-100", {Header("x-b", Present())}, 100),
      MakeLane("early", "t-early", {Header("x-c", Present())}, 5),
  };
  const auto rules = EntranceRules::Compile(lanes, Scope{});
  TestRequest t;
  t.headers = {{"x-a", "1"}, {"x-b", "1"}, {"x-c", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "t-early");
  t.headers = {{"x-a", "1"}, {"x-b", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "t-first-100");  // tie: file order
  t.headers = {{"x-b", "1"}};
  EXPECT_EQ(rules->Match(t.View()), "t-second-100");
}

TEST(EntranceScope, GatewayAndSidecar) {
  config::Lane every_gw = MakeLane("every", "t-every", {Header("x-every", Present())});
  config::Lane ingress = MakeLane("ingress", "t-ingress", {Header("x-ingress", Present())});
  ingress.gateway = "ingress";
  config::Lane order = MakeLane("order", "t-order", {Header("x-order", Present())});
  order.service = "order";
  config::Lane no_rules = MakeLane("none", "t-none", {});
  const std::vector<config::Lane> lanes = {every_gw, ingress, order, no_rules};

  auto tags = [&](const Scope& scope) {
    const auto rules = EntranceRules::Compile(lanes, scope);
    std::string out;
    for (const char* h : {"x-every", "x-ingress", "x-order"}) {
      out += std::string(rules->Match(WithHeader(h, "1").View())) + ",";
    }
    return out;
  };
  EXPECT_EQ(tags({"ingress", ""}), "t-every,t-ingress,,");
  EXPECT_EQ(tags({"admin-gw", ""}), "t-every,,,");
  EXPECT_EQ(tags({"", ""}), "t-every,,,");
  EXPECT_EQ(tags({"", "order"}), ",,t-order,");
  EXPECT_EQ(tags({"", "payment"}), ",,,");
  EXPECT_TRUE(EntranceRules::Compile(lanes, {"", "payment"})->empty());
  EXPECT_FALSE(EntranceRules::Compile(lanes, {"", "order"})->empty());
}

TEST(EntranceScope, LaneWithoutClausesNeverMatches) {
  const auto rules = EntranceRules::Compile({MakeLane("L", "t", {})}, Scope{});
  EXPECT_TRUE(rules->empty());
  EXPECT_EQ(rules->Match(WithHeader("x", "y").View()), "");
  EXPECT_TRUE(EntranceRules::Compile({}, Scope{})->empty());
}

TEST(EntranceCompile, TagOutlivesTheLanes) {
  std::shared_ptr<const EntranceRules> rules;
  {
    std::vector<config::Lane> lanes = {MakeLane("L", "gray", {Header("x", Present())})};
    rules = EntranceRules::Compile(lanes, Scope{});
  }
  const std::string_view tag = rules->Match(WithHeader("x", "").View());
  EXPECT_EQ(tag, "gray");
  EXPECT_EQ(tag.data(), rules->Match(WithHeader("x", "").View()).data());
}

TEST(EntranceCompile, Errors) {
  auto error = [](const config::Lane& lane) -> std::string {
    try {
      EntranceRules::Compile({lane}, Scope{});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error(MakeLane("g1", "t", {Header("x", Regex("(unclosed"))})),
            "lane \"g1\": invalid regex \"(unclosed\": missing ): (unclosed");
  config::MatchClause cidr;
  cidr.source_address.push_back(In({"10.0.0.0/33"}));
  EXPECT_EQ(error(MakeLane("g2", "t", {cidr})),
            "lane \"g2\": invalid IP address or CIDR \"10.0.0.0/33\"");
  config::MatchClause sticky = Header("x", Present());
  sticky.percent = 10;
  sticky.sticky_on = "body:uid";
  EXPECT_EQ(error(MakeLane("g3", "t", {sticky})), "lane \"g3\": invalid stickyOn \"body:uid\"");
  // A lane that does not apply to the scope is not compiled, so not checked.
  config::Lane elsewhere = MakeLane("g4", "t", {Header("x", Regex("("))});
  elsewhere.service = "other";
  EXPECT_NO_THROW(EntranceRules::Compile({elsewhere}, Scope{}));
}

TEST(EntranceCompile, ManyDistinctNamesBeyondTheCache) {
  std::vector<config::MatchClause> clauses;
  std::vector<std::string> names;
  for (int i = 0; i < 80; ++i) names.push_back("x-h" + std::to_string(i));
  for (const std::string& n : names) clauses.push_back(Header(n, Exact("v-" + n)));
  const auto rules = EntranceRules::Compile({MakeLane("L", "t", clauses)}, Scope{});
  for (int i : {0, 63, 64, 79}) {
    const std::string value = "v-" + names[i];
    EXPECT_EQ(rules->Match(WithHeader(names[i], value).View()), "t") << i;
    EXPECT_EQ(rules->Match(WithHeader(names[i], "nope").View()), "") << i;
  }
}

TEST(EntranceMatch, DoesNotAllocate) {
  config::MatchClause c = Header("x-user-id", Regex("1[0-9]{2}"));
  c.cookies.emplace_back("env", In({"gray", "canary"}));
  c.query.emplace_back("uid", Range(1, 1000));
  c.path.push_back(Prefix("/api"));
  c.source_address.push_back(In({"10.0.0.0/8"}));
  config::MatchClause share = Header("x-env", Exact("beta"));
  share.percent = 50;
  share.sticky_on = "header:x-user-id";
  const auto rules = EntranceRules::Compile({MakeLane("L", "gray", {share, c})}, Scope{});
  TestRequest hit;
  hit.path = "/api/x";
  hit.query = "uid=7";
  hit.headers = {{"x-user-id", "150"}, {"cookie", "a=b; env=gray"}, {"x-env", "prod"}};
  TestRequest miss = hit;
  miss.headers = {{"x-user-id", "250"}, {"cookie", "env=gray"}, {"x-env", "beta"}};
  const RequestView hv = hit.View(), mv = miss.View();
  // Warm RE2's lazily built DFA first; after that a match must not allocate.
  EXPECT_EQ(rules->Match(hv), "gray");
  rules->Match(mv);
  const long before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    rules->Match(hv);
    rules->Match(mv);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

}  // namespace
}  // namespace graymesh::lane

namespace graymesh::lane {
namespace {

using testing::Exact;
using testing::Header;
using testing::MakeLane;
using testing::Range;
using testing::TestRequest;

// Carried values and baggage conditions read percent-decoded members, into a
// fixed buffer: still no allocation per match.
TEST(EntranceMatch, CarriedAndBaggageDoNotAllocate) {
  config::MatchClause c = Header("x-user-id", Range(100, 199));
  c.baggage.emplace_back("tenant", Exact("a b"));
  auto lane = MakeLane("L", "gray", {c});
  lane.service = "data";
  const auto rules = EntranceRules::Compile({lane}, Scope{.gateway = "", .service = "data"});
  TestRequest rq;
  rq.carried = "graymesh-h-x-user-id=150";
  rq.baggage = "tenant=a%20b";
  const RequestView v = rq.View();
  EXPECT_EQ(rules->Match(v), "gray");
  const long before = g_allocations.load();
  for (int i = 0; i < 100; ++i) rules->Match(v);
  EXPECT_EQ(g_allocations.load() - before, 0);
}

}  // namespace
}  // namespace graymesh::lane
