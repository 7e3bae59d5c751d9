// RequestView lookups (headers, cookies, query) and the IP/CIDR helpers.
#include "lane/lookup.h"

#include <gtest/gtest.h>

#include "lane/entrance.h"
#include "lane/ip_match.h"
#include "lane/test_request.h"

namespace graymesh::lane {
namespace {

using testing::TestRequest;

TEST(RequestViewHeader, CaseInsensitiveFirstWins) {
  TestRequest t;
  t.headers = {{"X-User-Id", "101"}, {"x-user-id", "202"}, {"X-Empty", ""}};
  const RequestView rq = t.View();
  EXPECT_EQ(rq.Header("x-user-id"), "101");
  EXPECT_EQ(rq.Header("X-USER-ID"), "101");
  EXPECT_TRUE(rq.HasHeader("x-empty"));
  EXPECT_EQ(rq.Header("x-empty"), "");
  EXPECT_FALSE(rq.HasHeader("x-missing"));
  EXPECT_FALSE(rq.HasHeader("x-user-i"));  // a prefix is not the name
}

TEST(RequestViewCookie, ParsesPairs) {
  TestRequest t;
  t.headers = {{"Cookie", "a=1; env=gray;b=2 ;  c = 3 ; q=\"quoted\"; flag; e="}};
  const RequestView rq = t.View();
  EXPECT_EQ(rq.Cookie("a"), "1");
  EXPECT_EQ(rq.Cookie("env"), "gray");
  EXPECT_EQ(rq.Cookie("b"), "2");
  EXPECT_EQ(rq.Cookie("c"), "3");  // spaces around '=' are trimmed
  EXPECT_EQ(rq.Cookie("q"), "quoted");
  EXPECT_EQ(rq.Cookie("flag"), "");  // no '=': skipped
  std::string_view v = "x";
  EXPECT_FALSE(detail::FindCookie(t.headers, "flag", &v));
  EXPECT_TRUE(detail::FindCookie(t.headers, "e", &v));
  EXPECT_EQ(v, "");
  EXPECT_FALSE(detail::FindCookie(t.headers, "ENV", &v));  // case-sensitive
  EXPECT_FALSE(detail::FindCookie(t.headers, "", &v));
}

TEST(RequestViewCookie, SeveralCookieHeadersAndValueWithEquals) {
  TestRequest t;
  t.headers = {{"x-other", "env=base"},
               {"cookie", "a=1"},
               {"COOKIE", "env=gray; tok=ab=cd"},
               {"cookie", "env=late"}};
  const RequestView rq = t.View();
  EXPECT_EQ(rq.Cookie("env"), "gray");   // not from x-other; first cookie header wins
  EXPECT_EQ(rq.Cookie("tok"), "ab=cd");  // split at the first '='
  EXPECT_EQ(rq.Cookie("a"), "1");
}

TEST(RequestViewCookie, NoCookieHeaderOrEmpty) {
  TestRequest t;
  std::string_view v;
  EXPECT_FALSE(detail::FindCookie(t.headers, "a", &v));
  t.headers = {{"cookie", ""}, {"cookie", ";;; "}};
  EXPECT_FALSE(detail::FindCookie(t.headers, "a", &v));
}

TEST(RequestViewQuery, ParsesPairs) {
  TestRequest t;
  t.query = "uid=150&&flag&empty=&uid=999&pct=%31&eq=a=b";
  const RequestView rq = t.View();
  EXPECT_EQ(rq.QueryParam("uid"), "150");  // first wins
  EXPECT_EQ(rq.QueryParam("pct"), "%31");  // raw, not decoded
  EXPECT_EQ(rq.QueryParam("eq"), "a=b");
  std::string_view v = "x";
  EXPECT_TRUE(detail::FindQueryParam(t.query, "flag", &v));
  EXPECT_EQ(v, "");
  EXPECT_TRUE(detail::FindQueryParam(t.query, "empty", &v));
  EXPECT_FALSE(detail::FindQueryParam(t.query, "missing", &v));
  EXPECT_FALSE(detail::FindQueryParam(t.query, "UID", &v));
  EXPECT_FALSE(detail::FindQueryParam(t.query, "", &v));
  EXPECT_FALSE(detail::FindQueryParam("", "uid", &v));
}

detail::IpNet Net(std::string_view s) {
  detail::IpNet n;
  EXPECT_TRUE(detail::ParseIpNet(s, &n)) << s;
  return n;
}

detail::IpAddr Ip(std::string_view s) {
  detail::IpAddr a;
  EXPECT_TRUE(detail::ParseIp(s, &a)) << s;
  return a;
}

TEST(IpMatch, Ipv4Cidr) {
  EXPECT_TRUE(detail::Contains(Net("10.0.0.0/8"), Ip("10.200.3.4")));
  EXPECT_FALSE(detail::Contains(Net("10.0.0.0/8"), Ip("11.0.0.1")));
  EXPECT_TRUE(detail::Contains(Net("10.1.2.3/8"), Ip("10.9.9.9")));  // host bits ignored
  EXPECT_TRUE(detail::Contains(Net("192.168.1.7"), Ip("192.168.1.7")));
  EXPECT_FALSE(detail::Contains(Net("192.168.1.7"), Ip("192.168.1.8")));
  EXPECT_TRUE(detail::Contains(Net("172.16.0.0/12"), Ip("172.31.255.255")));
  EXPECT_FALSE(detail::Contains(Net("172.16.0.0/12"), Ip("172.32.0.0")));
  EXPECT_TRUE(detail::Contains(Net("0.0.0.0/0"), Ip("8.8.8.8")));
  EXPECT_FALSE(detail::Contains(Net("0.0.0.0/0"), Ip("::1")));  // families never mix
}

TEST(IpMatch, Ipv6AndMapped) {
  EXPECT_TRUE(detail::Contains(Net("::1"), Ip("0:0::1")));
  EXPECT_TRUE(detail::Contains(Net("::1"), Ip("[::1]")));
  EXPECT_TRUE(detail::Contains(Net("fd00::/8"), Ip("fd12:3456::1")));
  EXPECT_TRUE(detail::Contains(Net("fe80::1"), Ip("fe80::1%eth0")));
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
  EXPECT_TRUE(detail::Contains(Net("10.0.0.0/8"), Ip("::ffff:10.1.2.3")));
  EXPECT_TRUE(detail::Contains(Net("::ffff:10.0.0.0/104"), Ip("10.1.2.3")));
}

TEST(IpMatch, Rejects) {
  detail::IpNet n;
  detail::IpAddr a;
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0",
                          "host", "::1/129", "10.0.0.0/8/8", "1.2.3.4 "}) {
    EXPECT_FALSE(detail::ParseIpNet(bad, &n)) << bad;
  }
  EXPECT_FALSE(detail::ParseIp("", &a));
  EXPECT_FALSE(detail::ParseIp("not-an-ip", &a));
  EXPECT_FALSE(detail::ParseIp(std::string(100, '1'), &a));
}

}  // namespace
}  // namespace graymesh::lane
