// `lanes:` in the static config and `kind: TrafficLane` documents: values
// land in the model, defaults hold, and every mistake names file, line and
// field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"

namespace graymesh::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Op = StringMatch::Op;

// Line numbers below count from the first line of the raw string.
constexpr const char* kLanes = R"(lanes:
  - name: gray
    tag: gray
    priority: 10
    fallback: none
    entrance:
      gateway: ingress
      match:
        - headers: { X-User-Id: { regex: "^1[0-9]{2}$" }, x-env: gray }
          cookies: { env: { in: [gray, canary] } }
          query: { uid: { range: { min: 100, max: 199.5 } } }
          path: { prefix: /api }
          method: { in: [GET, POST] }
          sourceService: { exact: order }
          sourceAddress: { in: ["10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"] }
        - percent: 10
          stickyOn: header:X-User-Id
        - percent: 5
        - headers: { x-debug: { present: true }, x-skip: { present: false } }
          query: { n: { range: { min: -1 } } }
  - name: order-canary
    tag: canary
    entrance:
      service: order
      match:
        - cookies: { Beta: "1" }
          percent: 0
          stickyOn: cookie:Sid
        - query: { v: { prefix: "2" } }
          percent: 100
          stickyOn: query:uid
  - name: plain
    tag: v2.1_b
)";

TEST(LaneParse, FullExample) {
  const Config c = ParseConfig(kLanes, "gw.yaml");
  ASSERT_EQ(c.lanes.size(), 3u);
  const Lane& gray = c.lanes[0];
  EXPECT_EQ(gray.name, "gray");
  EXPECT_EQ(gray.tag, "gray");
  EXPECT_EQ(gray.priority, 10);
  EXPECT_EQ(gray.fallback, Fallback::kNone);
  EXPECT_EQ(gray.gateway, "ingress");
  EXPECT_EQ(gray.service, "");
  ASSERT_EQ(gray.match.size(), 4u);

  const MatchClause& m0 = gray.match[0];
  ASSERT_EQ(m0.headers.size(), 2u);
  EXPECT_EQ(m0.headers[0].first, "x-user-id");  // lower-cased
  EXPECT_EQ(m0.headers[0].second.op, Op::kRegex);
  EXPECT_EQ(m0.headers[0].second.value, "^1[0-9]{2}$");
  EXPECT_EQ(m0.headers[1].first, "x-env");
  EXPECT_EQ(m0.headers[1].second.op, Op::kExact);  // bare string
  EXPECT_EQ(m0.headers[1].second.value, "gray");
  ASSERT_EQ(m0.cookies.size(), 1u);
  EXPECT_EQ(m0.cookies[0].first, "env");
  EXPECT_EQ(m0.cookies[0].second.op, Op::kIn);
  EXPECT_EQ(m0.cookies[0].second.values, (std::vector<std::string>{"gray", "canary"}));
  ASSERT_EQ(m0.query.size(), 1u);
  EXPECT_EQ(m0.query[0].second.op, Op::kRange);
  EXPECT_EQ(m0.query[0].second.min, 100);
  EXPECT_EQ(m0.query[0].second.max, 199.5);
  ASSERT_EQ(m0.path.size(), 1u);
  EXPECT_EQ(m0.path[0].op, Op::kPrefix);
  EXPECT_EQ(m0.path[0].value, "/api");
  ASSERT_EQ(m0.method.size(), 1u);
  EXPECT_EQ(m0.method[0].values, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_EQ(m0.source_service.size(), 1u);
  EXPECT_EQ(m0.source_service[0].value, "order");
  ASSERT_EQ(m0.source_address.size(), 1u);
  EXPECT_EQ(m0.source_address[0].values.size(), 4u);
  EXPECT_EQ(m0.percent, -1);

  EXPECT_EQ(gray.match[1].percent, 10);
  EXPECT_EQ(gray.match[1].sticky_on, "header:x-user-id");  // header name lower-cased
  EXPECT_TRUE(gray.match[1].headers.empty());
  EXPECT_EQ(gray.match[2].percent, 5);
  EXPECT_EQ(gray.match[2].sticky_on, "client");  // the default
  const MatchClause& m3 = gray.match[3];
  EXPECT_EQ(m3.headers[0].second.op, Op::kPresent);
  EXPECT_EQ(m3.headers[1].second.op, Op::kAbsent);
  EXPECT_EQ(m3.query[0].second.min, -1);
  EXPECT_TRUE(std::isinf(m3.query[0].second.max));  // max omitted: unbounded

  const Lane& canary = c.lanes[1];
  EXPECT_EQ(canary.priority, 100);  // default
  EXPECT_EQ(canary.fallback, Fallback::kBase);
  EXPECT_EQ(canary.gateway, "");
  EXPECT_EQ(canary.service, "order");
  EXPECT_EQ(canary.match[0].cookies[0].first, "Beta");  // cookie names keep their case
  EXPECT_EQ(canary.match[0].percent, 0);
  EXPECT_EQ(canary.match[0].sticky_on, "cookie:Sid");
  EXPECT_EQ(canary.match[1].sticky_on, "query:uid");
  EXPECT_EQ(canary.match[1].percent, 100);

  EXPECT_TRUE(c.lanes[2].match.empty());  // no entrance: tag and fallback only
  EXPECT_EQ(c.lanes[2].tag, "v2.1_b");
}

TEST(LaneParse, NoLanesIsEmpty) {
  EXPECT_TRUE(ParseConfig("lanes: []\n", "gw.yaml").lanes.empty());
  EXPECT_TRUE(ParseConfig("lanes:\n", "gw.yaml").lanes.empty());
  EXPECT_TRUE(ParseConfig("workers: 1\n", "gw.yaml").lanes.empty());
}

void ExpectError(const std::string& yaml, int line, const std::string& reason) {
  try {
    ParseConfig(yaml, "gw.yaml");
    ADD_FAILURE() << "parsed fine; wanted line " << line << ": " << reason;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "gw.yaml");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_THAT(e.what(), StartsWith("gw.yaml:" + std::to_string(line) + ": "));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

// A lane whose only clause is `clause` (indented as a match item) at line 5.
std::string WithClause(const std::string& clause) {
  return "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      match:\n" + clause;
}

TEST(LaneReject, BadRegex) {
  ExpectError(R"(lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - headers: { x-env: gray }
        - headers:
            x-user-id:
              regex: "^1[0-9{2}$"
)",
              9,
              "lanes[0].entrance.match[1].headers.x-user-id.regex: invalid regex "
              "\"^1[0-9{2}$\": missing ]: [0-9{2}$");
  ExpectError(WithClause("        - path: { regex: \"\" }\n"), 6,
              "lanes[0].entrance.match[0].path.regex: must not be empty");
  ExpectError(WithClause("        - path: { regex: \"a{1001}\" }\n"), 6,
              "lanes[0].entrance.match[0].path.regex: invalid regex");
}

TEST(LaneReject, UnknownOperator) {
  ExpectError(WithClause("        - headers:\n            x-env:\n              exactly: gray\n"),
              8,
              "lanes[0].entrance.match[0].headers.x-env: unknown operator \"exactly\" "
              "(expected exact, prefix, regex, in, range or present)");
}

TEST(LaneReject, TwoOperatorsInOneCondition) {
  ExpectError(WithClause("        - headers:\n            x-env:\n              exact: gray\n"
                         "              prefix: gr\n"),
              9,
              "lanes[0].entrance.match[0].headers.x-env: one operator per condition, got "
              "\"exact\" and \"prefix\"");
  ExpectError(WithClause("        - path: {}\n"), 6,
              "lanes[0].entrance.match[0].path: needs one operator");
}

TEST(LaneReject, PercentOutOfRange) {
  ExpectError(WithClause("        - headers: { x-env: gray }\n          percent: 101\n"), 7,
              "lanes[0].entrance.match[0].percent: must be 0..100, got 101");
  ExpectError(WithClause("        - percent: -1\n"), 6,
              "lanes[0].entrance.match[0].percent: must be 0..100, got -1");
  ExpectError(WithClause("        - percent: 10%\n"), 6,
              "lanes[0].entrance.match[0].percent: expected an integer 0..100");
}

TEST(LaneReject, DuplicateLaneName) {
  ExpectError(R"(lanes:
  - name: gray
    tag: gray
  - name: blue
    tag: blue
  - name: gray
    tag: gray2
)",
              6, "lanes[2].name: duplicate lane name \"gray\"");
}

TEST(LaneReject, LaneFields) {
  ExpectError("lanes:\n  - tag: gray\n", 2, "lanes[0]: missing required key \"name\"");
  ExpectError("lanes:\n  - name: gray\n", 2, "lanes[0]: missing required key \"tag\"");
  ExpectError("lanes:\n  - name: gray\n    tag: \"gr ay\"\n", 3,
              "lanes[0].tag: must be at most 63 letters, digits, '-', '_' or '.'");
  ExpectError("lanes:\n  - name: gray\n    tag: -gray\n", 3, "lanes[0].tag: must be");
  ExpectError("lanes:\n  - name: gray\n    tag: " + std::string(64, 'a') + "\n", 3,
              "lanes[0].tag: must be");
  ExpectError("lanes:\n  - name: \"a/b\"\n    tag: gray\n", 2, "lanes[0].name: must be");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    fallback: fail\n", 4,
              "lanes[0].fallback: must be base or none, got \"fail\"");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    priority: -1\n", 4,
              "lanes[0].priority: must be 0..1000000, got -1");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    prio: 1\n", 4,
              "unknown key \"prio\" in lanes[0]");
  ExpectError("lanes:\n  name: gray\n", 2, "lanes: expected a list, got a map");
}

TEST(LaneReject, Entrance) {
  // A block map's line is that of its first key.
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      gateway: ingress\n", 5,
              "lanes[0].entrance: missing required key \"match\"");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    entrance:\n", 4,
              "lanes[0].entrance: missing required key \"match\"");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      match: []\n", 5,
              "lanes[0].entrance.match: must not be empty");
  ExpectError(
      "lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      gateway: ingress\n"
      "      service: order\n      match: [{ percent: 1 }]\n",
      6, "lanes[0].entrance.service: cannot be combined with gateway");
  ExpectError("lanes:\n  - name: gray\n    tag: gray\n    entrance:\n      gatway: x\n", 5,
              "unknown key \"gatway\" in lanes[0].entrance");
}

TEST(LaneReject, Clauses) {
  ExpectError(WithClause("        - {}\n"), 6,
              "lanes[0].entrance.match[0]: a match clause needs at least one condition");
  ExpectError(WithClause("        - headers: {}\n"), 6,
              "lanes[0].entrance.match[0]: a match clause needs at least one condition");
  ExpectError(WithClause("        - header: { x-env: gray }\n"), 6,
              "unknown key \"header\" in lanes[0].entrance.match[0]");
  ExpectError(WithClause("        - headers: { x-env: gray }\n          stickyOn: client\n"), 7,
              "lanes[0].entrance.match[0].stickyOn: only valid together with percent");
  ExpectError(WithClause("        - percent: 5\n          stickyOn: body:uid\n"), 7,
              "lanes[0].entrance.match[0].stickyOn: must be header:NAME, cookie:NAME, "
              "query:NAME, client or trace, got \"body:uid\"");
  ExpectError(WithClause("        - percent: 5\n          stickyOn: \"header:\"\n"), 7,
              "stickyOn: must be header:NAME");
  ExpectError(WithClause("        - headers: [x-env]\n"), 6,
              "lanes[0].entrance.match[0].headers: expected a map of name: condition, got a list");
  ExpectError(WithClause("        - headers: { X-Env: a, x-env: b }\n"), 6,
              "duplicate name \"x-env\" in lanes[0].entrance.match[0].headers");
  ExpectError(WithClause("        - headers: { \"x env\": a }\n"), 6,
              "lanes[0].entrance.match[0].headers: invalid name \"x env\"");
  ExpectError(WithClause("        - query: { \"a=b\": a }\n"), 6,
              "lanes[0].entrance.match[0].query: invalid name \"a=b\"");
  ExpectError(WithClause("        - headers: { x-env: }\n"), 6,
              "lanes[0].entrance.match[0].headers.x-env: expected a string or a map");
  ExpectError(WithClause("        - headers: { x-env: [a] }\n"), 6,
              "lanes[0].entrance.match[0].headers.x-env: expected a string or a map with one of");
}

TEST(LaneReject, OperatorValues) {
  ExpectError(WithClause("        - method: { in: [] }\n"), 6,
              "lanes[0].entrance.match[0].method.in: must not be empty");
  ExpectError(WithClause("        - method: { in: GET }\n"), 6,
              "lanes[0].entrance.match[0].method.in: expected a list, got \"GET\"");
  ExpectError(WithClause("        - method: { in: [GET, [POST]] }\n"), 6,
              "lanes[0].entrance.match[0].method.in[1]: expected a string, got a list");
  ExpectError(WithClause("        - query: { n: { range: { min: 5, max: 1 } } }\n"), 6,
              "lanes[0].entrance.match[0].query.n.range: min must not be greater than max");
  ExpectError(WithClause("        - query:\n            n:\n              range:\n"
                         "                min: ten\n"),
              9, "lanes[0].entrance.match[0].query.n.range.min: expected a number, got \"ten\"");
  ExpectError(WithClause("        - query: { n: { range: { min: .inf } } }\n"), 6,
              "range.min: expected a number");
  ExpectError(WithClause("        - query: { n: { range: {} } }\n"), 6,
              "lanes[0].entrance.match[0].query.n.range: needs min and/or max");
  ExpectError(WithClause("        - query: { n: { range: { low: 1 } } }\n"), 6,
              "unknown key \"low\" in lanes[0].entrance.match[0].query.n.range");
  ExpectError(WithClause("        - headers: { x-a: { present: yes } }\n"), 6,
              "lanes[0].entrance.match[0].headers.x-a.present: must be true or false, got \"yes\"");
}

TEST(LaneReject, SourceAddress) {
  ExpectError(WithClause("        - sourceAddress:\n            in:\n              - 10.0.0.0/8\n"
                         "              - 10.0.0.0/33\n"),
              9,
              "lanes[0].entrance.match[0].sourceAddress.in[1]: expected an IP address or "
              "CIDR, got \"10.0.0.0/33\"");
  ExpectError(WithClause("        - sourceAddress: myhost\n"), 6,
              "lanes[0].entrance.match[0].sourceAddress: expected an IP address or CIDR");
  ExpectError(WithClause("        - sourceAddress: { exact: \"10.0.0.1/\" }\n"), 6,
              "lanes[0].entrance.match[0].sourceAddress.exact: expected an IP address or CIDR");
  ExpectError(WithClause("        - sourceAddress: { range: { min: 1 } }\n"), 6,
              "lanes[0].entrance.match[0].sourceAddress.range: not valid for sourceAddress");
}

// ---- TrafficLane documents ----

constexpr const char* kDocs = R"(# two lanes
kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    gateway: ingress
    match:
      - headers: { x-user-id: { regex: "^1[0-9]{2}$" } }
      - percent: 10
        stickyOn: header:x-user-id
  fallback: base
---
---
kind: TrafficLane
name: proj-a
spec:
  tag: proj-a
  priority: 5
  fallback: none
)";

TEST(LaneDocuments, TwoDocuments) {
  const std::vector<Lane> lanes = ParseLaneDocuments(kDocs, "rules.yaml");
  ASSERT_EQ(lanes.size(), 2u);  // the empty document in between is skipped
  EXPECT_EQ(lanes[0].name, "gray");
  EXPECT_EQ(lanes[0].tag, "gray");
  EXPECT_EQ(lanes[0].gateway, "ingress");
  ASSERT_EQ(lanes[0].match.size(), 2u);
  EXPECT_EQ(lanes[0].match[0].headers[0].second.op, Op::kRegex);
  EXPECT_EQ(lanes[0].match[1].percent, 10);
  EXPECT_EQ(lanes[0].match[1].sticky_on, "header:x-user-id");
  EXPECT_EQ(lanes[0].fallback, Fallback::kBase);
  EXPECT_EQ(lanes[1].name, "proj-a");
  EXPECT_EQ(lanes[1].priority, 5);
  EXPECT_EQ(lanes[1].fallback, Fallback::kNone);
  EXPECT_TRUE(lanes[1].match.empty());
  EXPECT_TRUE(ParseLaneDocuments("", "rules.yaml").empty());
  EXPECT_TRUE(ParseLaneDocuments("---\n# nothing\n---\n", "rules.yaml").empty());
}

void ExpectDocError(const std::string& yaml, int line, const std::string& reason) {
  try {
    ParseLaneDocuments(yaml, "rules.yaml");
    ADD_FAILURE() << "parsed fine; wanted line " << line << ": " << reason;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_THAT(e.what(), StartsWith("rules.yaml:" + std::to_string(line) + ": "));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

TEST(LaneDocuments, Errors) {
  // Lines count across documents.
  ExpectDocError(std::string(kDocs) + "---\nkind: ServicePolicy\nname: order\nspec: {}\n", 22,
                 "kind: unsupported kind \"ServicePolicy\" (expected TrafficLane)");
  ExpectDocError(std::string(kDocs) + "---\nkind: TrafficLane\nname: gray\nspec: { tag: x }\n", 23,
                 "name: duplicate lane name \"gray\"");
  ExpectDocError(
      "kind: TrafficLane\nname: a\nspec:\n  tag: a\n  entrance:\n    match:\n"
      "      - percent: 101\n",
      7, "spec.entrance.match[0].percent: must be 0..100, got 101");
  ExpectDocError("kind: TrafficLane\nname: a\nspec:\n  name: a\n  tag: a\n", 4,
                 "unknown key \"name\" in spec");
  ExpectDocError("kind: TrafficLane\nname: a\n", 1, "missing required key \"spec\"");
  ExpectDocError("name: a\nspec: {tag: a}\n", 1, "missing required key \"kind\"");
  ExpectDocError("kind: TrafficLane\nname: a\nspec: {tag: a}\nextra: 1\n", 4,
                 "unknown key \"extra\" at top level");
  ExpectDocError("- kind: TrafficLane\n", 1, "a rule document must be a map, got a list");
  ExpectDocError("kind: TrafficLane\nname: a\nspec: { tag: a\n", 4, "invalid YAML");
}

// The TrafficLane example in docs/config.md really loads.
TEST(LaneDocuments, DocExampleParses) {
  std::ifstream in(GRAYMESH_CONFIG_DOC);
  ASSERT_TRUE(in) << "cannot open " << GRAYMESH_CONFIG_DOC;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t start = doc.find("```yaml\nkind: TrafficLane");
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc.find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  const std::string text = doc.substr(start + 8, end - start - 8);
  const std::vector<Lane> lanes = ParseLaneDocuments(text, "docs/config.md");
  EXPECT_GE(lanes.size(), 2u);
  // And the static example has lanes too.
  const size_t first = doc.find("```yaml\n");
  const Config c =
      ParseConfig(doc.substr(first + 8, doc.find("```", first + 8) - first - 8), "docs/config.md");
  EXPECT_FALSE(c.lanes.empty());
}

}  // namespace
}  // namespace graymesh::config

namespace graymesh::config {
namespace {

// `baggage:` conditions read W3C baggage members by key (kept as written).
TEST(LaneParse, BaggageCondition) {
  Config c = ParseConfig(R"(lanes:
  - name: tenant
    tag: gray
    entrance:
      service: data
      match:
        - baggage: { tenantId: { in: [acme, initech] }, graymesh-h-x-user-id: "7" }
)",
                         "t.yaml");
  ASSERT_EQ(c.lanes.size(), 1u);
  const MatchClause& m = c.lanes[0].match[0];
  ASSERT_EQ(m.baggage.size(), 2u);
  EXPECT_EQ(m.baggage[0].first, "tenantId");
  EXPECT_EQ(m.baggage[0].second.op, StringMatch::Op::kIn);
  EXPECT_EQ(m.baggage[1].first, "graymesh-h-x-user-id");
  EXPECT_EQ(m.baggage[1].second.value, "7");
}

TEST(LaneReject, BaggageCondition) {
  try {
    ParseConfig("lanes:\n  - name: a\n    tag: a\n    entrance:\n      match:\n"
                "        - baggage: { \"a b\": x }\n",
                "t.yaml");
    FAIL() << "accepted a baggage key that is not a token";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(
                              "t.yaml:6: lanes[0].entrance.match[0].baggage: invalid name \"a b\""));
  }
}

}  // namespace
}  // namespace graymesh::config
