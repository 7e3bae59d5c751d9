// ParseDuration / ParseHostPort / ParseByteSize edge cases.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace graymesh::config {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Asserts that `fn(text)` throws std::invalid_argument mentioning `why`.
template <typename Fn>
void ExpectInvalid(Fn fn, const std::string& text, const std::string& why) {
  try {
    fn(text);
    ADD_FAILURE() << "accepted \"" << text << "\"";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"" + text + "\"")) << "the message quotes the input";
    EXPECT_THAT(e.what(), HasSubstr(why)) << "for \"" << text << "\"";
  }
}

TEST(ConfigUnitsDuration, Units) {
  EXPECT_EQ(ParseDuration("250ms"), 250ms);
  EXPECT_EQ(ParseDuration("10s"), 10s);
  EXPECT_EQ(ParseDuration("2m"), 2min);
  EXPECT_EQ(ParseDuration("1h"), 1h);
  EXPECT_EQ(ParseDuration("0"), 0ms);
  EXPECT_EQ(ParseDuration("0ms"), 0ms);
}

TEST(ConfigUnitsDuration, BareNumberIsSeconds) {
  EXPECT_EQ(ParseDuration("30"), 30s);
  EXPECT_EQ(ParseDuration("007"), 7s);
}

TEST(ConfigUnitsDuration, FractionsAreExact) {
  EXPECT_EQ(ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(ParseDuration("1.1s"), 1100ms);  // not 1099 through a double
  EXPECT_EQ(ParseDuration("0.25"), 250ms);
  EXPECT_EQ(ParseDuration("1.5m"), 90s);
  EXPECT_EQ(ParseDuration("0.001s"), 1ms);
  EXPECT_EQ(ParseDuration("2.0ms"), 2ms);
}

TEST(ConfigUnitsDuration, Rejects) {
  auto f = [](const std::string& s) { return ParseDuration(s); };
  ExpectInvalid(f, "-1s", "negative");
  ExpectInvalid(f, "", "expected a number");
  ExpectInvalid(f, "abc", "expected a number");
  ExpectInvalid(f, "10 s", "expected a number");
  ExpectInvalid(f, " 10s", "expected a number");
  ExpectInvalid(f, "+5s", "expected a number");
  ExpectInvalid(f, "5sec", "expected a number");
  ExpectInvalid(f, "1d", "expected a number");
  ExpectInvalid(f, "1e3", "expected a number");
  ExpectInvalid(f, ".5s", "expected a number");
  ExpectInvalid(f, "5.s", "expected a number");
  ExpectInvalid(f, "1.5ms", "finer than 1ms");
  ExpectInvalid(f, "0.0001s", "finer than 1ms");
  ExpectInvalid(f, "99999999999999999999", "too large");  // > uint64
  ExpectInvalid(f, "1.0000000001s", "too many decimal places");
  ExpectInvalid(f, "9999999999999999h", "too large");
}

TEST(ConfigUnitsHostPort, Accepts) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:8080"), (HostPort{"127.0.0.1", 8080}));
  EXPECT_EQ(ParseHostPort("[::1]:80"), (HostPort{"::1", 80}));
  EXPECT_EQ(ParseHostPort("[fe80::1%eth0]:80"), (HostPort{"fe80::1%eth0", 80}));
  EXPECT_EQ(ParseHostPort("localhost:80"), (HostPort{"localhost", 80}));
  EXPECT_EQ(ParseHostPort("order-svc.default_ns:65535"), (HostPort{"order-svc.default_ns", 65535}));
  // Port 0 parses (tests bind ephemeral ports); the config loader rejects it.
  EXPECT_EQ(ParseHostPort("0.0.0.0:0").port, 0);
}

TEST(ConfigUnitsHostPort, ToStringOmitsBrackets) {
  EXPECT_EQ(ParseHostPort("a.b:9").ToString(), "a.b:9");
}

TEST(ConfigUnitsHostPort, Rejects) {
  auto f = [](const std::string& s) { return ParseHostPort(s); };
  ExpectInvalid(f, "localhost", "missing port");
  ExpectInvalid(f, "localhost:", "port must be a number");
  ExpectInvalid(f, "localhost:http", "port must be a number");
  ExpectInvalid(f, "localhost:-1", "port must be a number");
  ExpectInvalid(f, "localhost:80x", "port must be a number");
  ExpectInvalid(f, "localhost:65536", "port must be 0..65535");
  ExpectInvalid(f, "localhost:99999999999999999999", "port must be 0..65535");
  ExpectInvalid(f, ":80", "missing host");
  ExpectInvalid(f, "[]:80", "brackets are only for IPv6");
  ExpectInvalid(f, "[::1]", "missing port");
  ExpectInvalid(f, "[::1]80", "missing port");
  ExpectInvalid(f, "[::1:80", "missing ']'");
  ExpectInvalid(f, "::1:80", "must be in brackets");
  ExpectInvalid(f, "[127.0.0.1]:80", "brackets are only for IPv6");
  ExpectInvalid(f, "my host:80", "invalid character");
  ExpectInvalid(f, "http://a:80", "must be in brackets");
  ExpectInvalid(f, "a/b:80", "invalid character");
  ExpectInvalid(f, "", "missing port");
}

TEST(ConfigUnitsByteSize, Accepts) {
  EXPECT_EQ(ParseByteSize("0"), 0u);
  EXPECT_EQ(ParseByteSize("65536"), 65536u);
  EXPECT_EQ(ParseByteSize("64Ki"), 64u << 10);
  EXPECT_EQ(ParseByteSize("10Mi"), 10u << 20);
  EXPECT_EQ(ParseByteSize("1Gi"), 1ull << 30);
  // K/M/G are the same powers of 1024, not 1000.
  EXPECT_EQ(ParseByteSize("64K"), 64u << 10);
  EXPECT_EQ(ParseByteSize("10M"), 10u << 20);
  EXPECT_EQ(ParseByteSize("3G"), 3ull << 30);
  EXPECT_EQ(ParseByteSize("18446744073709551615"), UINT64_MAX);
}

TEST(ConfigUnitsByteSize, Rejects) {
  auto f = [](const std::string& s) { return ParseByteSize(s); };
  ExpectInvalid(f, "-1", "negative");
  ExpectInvalid(f, "", "expected an integer");
  ExpectInvalid(f, "Ki", "expected an integer");
  ExpectInvalid(f, "1.5Mi", "unknown suffix");
  ExpectInvalid(f, "64KB", "unknown suffix");
  ExpectInvalid(f, "64k", "unknown suffix");  // lower-case k would usually mean 1000
  ExpectInvalid(f, "64 Ki", "unknown suffix");
  ExpectInvalid(f, "1Ti", "unknown suffix");
  ExpectInvalid(f, "18446744073709551616", "too large");
  ExpectInvalid(f, "17179869184Gi", "too large");
}

}  // namespace
}  // namespace graymesh::config
