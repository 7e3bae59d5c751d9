// Input limits of the YAML loaders: aliases, nesting depth and size are
// refused with FILE:LINE before anything is built, for config files, rule
// documents and lane documents alike; addresses are IP literals or DNS names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/config.h"
#include "config/yaml_limits.h"

namespace graymesh::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// A small "billion laughs": each level lists the previous one ten times, so
// `levels` levels reach 10^levels strings when expanded.
std::string AliasBomb(int levels, const std::string& prefix = "") {
  std::string y = prefix + "x0: &a0 [\"" + std::string(32, 'x') + "\"]\n";
  for (int i = 1; i <= levels; ++i) {
    y += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) y += std::string(k ? "," : "") + "*a" + std::to_string(i - 1);
    y += "]\n";
  }
  return y;
}

TEST(ConfigLimits, AnAliasInAConfigIsRefusedWithItsLine) {
  const std::string yaml =
      "services:\n"
      "  - name: a\n"
      "    endpoints: &eps\n"
      "      - address: 127.0.0.1:9001\n"
      "  - name: b\n"
      "    endpoints: *eps\n";
  EXPECT_EQ(ErrorOf([&] { ParseConfig(yaml, "gw.yaml"); }),
            "gw.yaml:6: aliases are not allowed (write the value out instead of *NAME)");
}

TEST(ConfigLimits, AMergeKeyIsAnAliasToo) {
  const std::string yaml =
      "timeouts: &t { idle: 5s }\n"
      "upstream:\n"
      "  <<: *t\n";
  EXPECT_THAT(ErrorOf([&] { ParseConfig(yaml, "gw.yaml"); }),
              StartsWith("gw.yaml:3: aliases are not allowed"));
}

TEST(ConfigLimits, AnAliasBombIsRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ErrorOf([&] { ParseConfig(AliasBomb(9), "bomb.yaml"); }),
              HasSubstr("aliases are not allowed"));
  EXPECT_THAT(ErrorOf([&] { ParseRuleDocuments(AliasBomb(9, "kind: Route\n"), "rules.yaml"); }),
              StartsWith("rules.yaml:3: aliases are not allowed"));
  EXPECT_THAT(ErrorOf([&] { ParseLaneDocuments(AliasBomb(9, "kind: TrafficLane\n"), "l.yaml"); }),
              StartsWith("l.yaml:3: aliases are not allowed"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ConfigLimits, AnAnchorWithoutAliasIsHarmless) {
  const Config c = ParseConfig("timeouts: &t { idle: 5s }\n", "gw.yaml");
  EXPECT_EQ(c.timeouts.idle, std::chrono::seconds(5));
}

TEST(ConfigLimits, NestingIsBounded) {
  auto nested = [](int depth) {
    return "lanes: " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "\n";
  };
  // 64 levels (the root map and 63 lists) pass the limit and fail later, as
  // a list of lists is no lane.
  EXPECT_THAT(ErrorOf([&] { ParseConfig(nested(kMaxYamlDepth), "gw.yaml"); }),
              Not(HasSubstr("nested deeper")));
  EXPECT_EQ(ErrorOf([&] { ParseConfig(nested(kMaxYamlDepth + 1), "gw.yaml"); }),
            "gw.yaml:1: nested deeper than 64 levels");
  // Far deeper than yaml-cpp's own recursion guard: still our message.
  EXPECT_EQ(ErrorOf([&] { ParseRuleDocuments(nested(100'000), "r.yaml"); }),
            "r.yaml:1: nested deeper than 64 levels");
}

TEST(ConfigLimits, SizeIsBounded) {
  std::string big = "# " + std::string(kMaxYamlBytes, 'x') + "\n";
  EXPECT_THAT(ErrorOf([&] { ParseConfig(big, "big.yaml"); }),
              StartsWith("big.yaml:0: larger than 4194304 bytes (4 MiB)"));
  EXPECT_THAT(ErrorOf([&] { ParseRuleDocuments(big, "big.yaml"); }),
              StartsWith("big.yaml:0: larger than"));
}

// Found by fuzz/config_yaml_fuzz.cc: yaml-cpp returns the same empty
// document forever on these, so the loader (and LoadAll for rule files) hung.
TEST(ConfigLimits, BytesThatStallTheYamlParserAreAnError) {
  const std::string stall1(",~x\0002\000y:", 8);
  const std::string stall2 = "&dikn\"kz\"Route\",\"n\"eam:\"j\",\"spec\":{1\"s\"}}";
  const auto start = std::chrono::steady_clock::now();
  // (Its NULs are refused before yaml-cpp sees it now; the stall itself is
  // still caught for text without them, stall2.)
  EXPECT_THAT(ErrorOf([&] { ParseConfig(stall1, "gw.yaml"); }),
              StartsWith("gw.yaml:1: invalid YAML: control character 0x00"));
  EXPECT_THAT(ErrorOf([&] { ParseRuleDocuments(stall2, "r.yaml"); }),
              HasSubstr("invalid YAML: cannot read past this point"));
  EXPECT_THAT(ErrorOf([&] { ParseLaneDocuments(stall1, "l.yaml"); }),
              HasSubstr("invalid YAML"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// Found by fuzz/rule_docs_fuzz.cc: such a rule passed the parser and then
// failed to become JSON in the store (a 500 from POST /v1/apply).
TEST(ConfigLimits, TextThatIsNotUtf8IsRefusedWithItsLine) {
  EXPECT_EQ(ErrorOf([] {
              ParseRuleDocuments("kind: Route\nname: r\nspec:\n  service: \x91\x95" "der\n", "r.yaml");
            }),
            "r.yaml:4: invalid YAML: not UTF-8 (byte 37)");
  EXPECT_THAT(ErrorOf([] { ParseConfig("# caf\xe9\n", "gw.yaml"); }),
              StartsWith("gw.yaml:1: invalid YAML: not UTF-8"));
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_THAT(ErrorOf([&] { ParseConfig(std::string("# ") + bad + "\n", "gw.yaml"); }),
                HasSubstr("not UTF-8"))
        << bad;
  }
  EXPECT_NO_THROW(ParseConfig("# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n", "gw.yaml"));
}

// Found by fuzz/rule_docs_fuzz.cc: a raw NUL in a Route's service passed the
// parser (yaml-cpp stops reading there) and came back from the store's JSON
// as another rule. Raw control characters are refused with their line.
TEST(ConfigLimits, RawControlCharactersAreRefusedWithTheirLine) {
  EXPECT_EQ(ErrorOf([] {
              ParseRuleDocuments(std::string("kind: Route\nname: r\nspec:\n  service: or\0der\n", 44),
                                 "r.yaml");
            }),
            "r.yaml:4: invalid YAML: control character 0x00 (byte 39); only tab, CR and LF may "
            "appear raw");
  EXPECT_THAT(ErrorOf([] { ParseConfig("workers: 1\x7f\n", "gw.yaml"); }),
              StartsWith("gw.yaml:1: invalid YAML: control character 0x7f"));
  EXPECT_THAT(ErrorOf([] { ParseLaneDocuments("name: a\x08\n", "l.yaml"); }),
              HasSubstr("control character 0x08"));
  // Tabs, CRLF line ends and escapes in quoted scalars are fine.
  EXPECT_NO_THROW(ParseConfig("# a\tcomment\r\nworkers: 1\r\n", "gw.yaml"));
  EXPECT_NO_THROW(ParseRuleDocuments(
      "kind: Route\nname: r\nspec:\n  service: \"or\\x01der\"\n", "r.yaml"));
}

TEST(ConfigLimits, EndpointAddressesAreIpLiteralsOrNames) {
  for (const char* bad : {"\"%00:1\"", "\" a:1\"", "\"a b:1\"", "\"a\\x01b:1\"", "\"a..b:1\"",
                          "\".a:1\"", "\"1.2.3.999:1\"", "\"[::1%]:1\"", "\"[::g]:1\"",
                          "\"-a:1\"", "\"a%b:1\""}) {
    const std::string yaml = std::string("services:\n  - name: s\n    endpoints:\n") +
                             "      - address: " + bad + "\n";
    EXPECT_THAT(ErrorOf([&] { ParseConfig(yaml, "gw.yaml"); }),
                StartsWith("gw.yaml:4: services[0].endpoints[0].address: invalid address"))
        << bad;
  }
}

TEST(ConfigLimits, HostPortAcceptsLiteralsAndNames) {
  EXPECT_EQ(ParseHostPort("10.0.0.1:80").host, "10.0.0.1");
  EXPECT_EQ(ParseHostPort("[fe80::1%eth0]:80").host, "fe80::1%eth0");
  EXPECT_EQ(ParseHostPort("order-svc.default_ns.svc:8080").host, "order-svc.default_ns.svc");
  EXPECT_EQ(ParseHostPort("localhost.:80").host, "localhost.");  // a fully qualified name
  EXPECT_THROW(ParseHostPort(std::string(254, 'a') + ":80"), std::invalid_argument);
  EXPECT_THROW(ParseHostPort(std::string(64, 'a') + ".b:80"), std::invalid_argument);
}

}  // namespace
}  // namespace graymesh::config
