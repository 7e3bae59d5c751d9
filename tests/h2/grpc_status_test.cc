#include "h2/grpc_status.h"

#include <gtest/gtest.h>

namespace graymesh::h2 {
namespace {

TEST(GrpcStatus, ContentType) {
  EXPECT_TRUE(IsGrpcContentType("application/grpc"));
  EXPECT_TRUE(IsGrpcContentType("application/grpc+proto"));
  EXPECT_FALSE(IsGrpcContentType("application/grpc-web"));
  EXPECT_FALSE(IsGrpcContentType("application/json"));
}

TEST(GrpcStatus, Timeout) {
  EXPECT_EQ(ParseGrpcTimeout("100m"), 100);
  EXPECT_EQ(ParseGrpcTimeout("5S"), 5000);
  EXPECT_EQ(ParseGrpcTimeout("2M"), 120000);
  EXPECT_EQ(ParseGrpcTimeout("1H"), 3600000);
  EXPECT_EQ(ParseGrpcTimeout("1500u"), 2);
  EXPECT_EQ(ParseGrpcTimeout("1n"), 1);
  EXPECT_FALSE(ParseGrpcTimeout("100"));
  EXPECT_FALSE(ParseGrpcTimeout("m"));
  EXPECT_FALSE(ParseGrpcTimeout("123456789S"));  // more than 8 digits
  EXPECT_FALSE(ParseGrpcTimeout("1x"));
  EXPECT_FALSE(ParseGrpcTimeout("-1S"));
}

TEST(GrpcStatus, ProxyErrorsMapToGrpcCodes) {
  EXPECT_EQ(GrpcStatusFor(503), 14);
  EXPECT_EQ(GrpcStatusFor(502), 14);
  EXPECT_EQ(GrpcStatusFor(504), 4);
  EXPECT_EQ(GrpcStatusFor(404), 12);
  EXPECT_EQ(GrpcStatusFor(431), 8);
  EXPECT_EQ(GrpcStatusFor(400), 13);
}

TEST(GrpcStatus, MessageIsPercentEncoded) {
  EXPECT_EQ(PercentEncodeGrpcMessage("no endpoint: 100%"), "no endpoint: 100%25");
  EXPECT_EQ(PercentEncodeGrpcMessage("caf\xc3\xa9"), "caf%C3%A9");
}

}  // namespace
}  // namespace graymesh::h2
