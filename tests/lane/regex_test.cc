// Regex conditions: Match() rejects some values by RE2's PossibleMatchRange
// before running the regex. That shortcut must never change an answer, so
// compare it with a plain RE2::FullMatch over many values.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>

#include "lane/entrance.h"
#include "lane/lane_builders.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using namespace testing;  // NOLINT: builders

TEST(EntranceRegex, SameAnswerAsFullMatch) {
  const char* patterns[] = {
      "id-[0-9]+", "abc|xyz", "(?i)GRAY", "gr(a|e)y.*", "a*",       "[a-c]{2,3}x?",
      "\\d{3}",    "a\\.b",   "(?i)ab+c", "^abc$",      "x|",       "[^a]*",
      "é+",        "\\C+",    ".*",       "(a|b)*c",    "zz+|a{2}", "ab(?i)c",
  };
  const std::string alphabet[] = {"a", "b", "c", "x", "y", "z", "A", "B", "C", "G",    "R",
                                  "Y", "i", "d", "-", "0", "1", "9", ".", "é", "\xff", "e"};
  // Values near the patterns' matches, mutated, plus random ones.
  const std::string seeds[] = {"id-1", "id-907", "abc", "xyz", "GrAy", "grey-1", "aab", "a.b",
                               "123",  "abbbc",  "ABC", "x",   "ééé",  "aaab",   "zzz", "bc"};
  std::mt19937 rng(7);
  auto next_value = [&] {
    std::string value;
    if (rng() % 2 == 0) {
      value = seeds[rng() % std::size(seeds)];
      for (int m = static_cast<int>(rng() % 3); m > 0 && !value.empty(); --m) {
        const size_t at = rng() % value.size();
        switch (rng() % 3) {
          case 0:
            value.erase(at, 1);
            break;
          case 1:
            value.insert(at, alphabet[rng() % std::size(alphabet)]);
            break;
          default:
            value += alphabet[rng() % std::size(alphabet)];
        }
      }
      return value;
    }
    const int len = static_cast<int>(rng() % 7);
    for (int k = 0; k < len; ++k) value += alphabet[rng() % std::size(alphabet)];
    return value;
  };
  for (const char* p : patterns) {
    const auto rules = EntranceRules::Compile({MakeLane("L", "t", {Header("v", Regex(p))})}, {});
    const RE2 re(p);
    ASSERT_TRUE(re.ok()) << p;
    int matched = 0;
    for (int i = 0; i < 20'000; ++i) {
      const std::string value = next_value();
      TestRequest t;
      t.headers = {{"v", value}};
      const bool want = RE2::FullMatch(value, re);
      matched += want;
      ASSERT_EQ(rules->Match(t.View()) == "t", want) << "pattern " << p << " value " << value;
    }
    // Each pattern meets both answers in the corpus, else the test shows little.
    EXPECT_GT(matched, 0) << p;
    EXPECT_LT(matched, 20'000) << p;
  }
}

}  // namespace
}  // namespace graymesh::lane
