#include "http/headers.h"

#include <gtest/gtest.h>

namespace graymesh::http {
namespace {

TEST(Headers, CaseInsensitive) {
  EXPECT_TRUE(IEquals("Content-Length", "content-length"));
  EXPECT_FALSE(IEquals("content-length", "content-lengt"));
}

TEST(Headers, ConnectionTokens) {
  EXPECT_TRUE(HasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(HasToken(" close ", "close"));
  EXPECT_FALSE(HasToken("closed", "close"));
}

TEST(Headers, HopByHop) {
  for (auto n : {"Connection", "keep-alive", "TE", "Trailer", "transfer-encoding", "upgrade",
                 "proxy-connection", "Proxy-Authorization", "proxy-authenticate"}) {
    EXPECT_TRUE(IsHopByHop(n)) << n;
  }
  EXPECT_FALSE(IsHopByHop("content-length"));
  EXPECT_FALSE(IsHopByHop("host"));
}

}  // namespace
}  // namespace graymesh::http
