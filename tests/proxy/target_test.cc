#include "proxy/target.h"

#include <gtest/gtest.h>

namespace graymesh::proxy {
namespace {

TEST(Target, AbsoluteFormIsHttpOrHttpsInAnyCase) {
  AbsoluteTarget t;
  ASSERT_TRUE(SplitAbsoluteForm("http://a.example:81/p?q", &t));
  EXPECT_EQ(t.authority, "a.example:81");
  EXPECT_EQ(t.rest, "/p?q");
  ASSERT_TRUE(SplitAbsoluteForm("HTTPS://b?q=1", &t));
  EXPECT_EQ(t.authority, "b");
  EXPECT_EQ(t.rest, "?q=1");
  ASSERT_TRUE(SplitAbsoluteForm("hTTp://c", &t));
  EXPECT_EQ(t.authority, "c");
  EXPECT_EQ(t.rest, "");
  ASSERT_TRUE(SplitAbsoluteForm("http:///x", &t));
  EXPECT_EQ(t.authority, "");
  EXPECT_FALSE(SplitAbsoluteForm("/http://a/", &t));
  EXPECT_FALSE(SplitAbsoluteForm("ftp://a/", &t));
  EXPECT_FALSE(SplitAbsoluteForm("http:/a", &t));
}

TEST(Target, ValidAuthority) {
  for (const char* good : {"a", "a.example", "a:80", "a:", "127.0.0.1:8080", "[::1]", "[::1]:80",
                           "xn--bcher-kva.example", "a%2Db", "under_score", "a.-~!$&'()*+,;="}) {
    EXPECT_TRUE(ValidAuthority(good)) << good;
  }
  for (const char* bad : {"", ":80", "a b", "a/b", "a?b", "a#b", "u@a", "a:8o", "a:123456",
                          "a\r\nb", "a\tb", "[::1", "[]", "[::1]x", "[g::1]", "a%2", "a%zz",
                          "a:80:81", "\xc3\xa9"}) {
    EXPECT_FALSE(ValidAuthority(bad)) << bad;
  }
}

}  // namespace
}  // namespace graymesh::proxy
