#include "h2/preface.h"

#include <gtest/gtest.h>

namespace graymesh::h2 {
namespace {

TEST(Preface, WholePrefaceIsHttp2) {
  EXPECT_EQ(ClassifyFirstBytes(kPreface), Sniff::kHttp2);
  EXPECT_EQ(ClassifyFirstBytes(std::string(kPreface) + "\x00\x00\x12\x04"), Sniff::kHttp2);
}

TEST(Preface, PartOfThePrefaceNeedsMore) {
  EXPECT_EQ(ClassifyFirstBytes(""), Sniff::kNeedMore);
  EXPECT_EQ(ClassifyFirstBytes("PRI * HTTP/2"), Sniff::kNeedMore);
}

TEST(Preface, Http1RequestsAreHttp1) {
  EXPECT_EQ(ClassifyFirstBytes("GET / HTTP/1.1\r\n"), Sniff::kHttp1);
  EXPECT_EQ(ClassifyFirstBytes("P"), Sniff::kNeedMore);
  EXPECT_EQ(ClassifyFirstBytes("POST / HTTP/1.1\r\n"), Sniff::kHttp1);
  // llhttp knows a PRI method; a request line that merely starts like the
  // preface is still HTTP/1.
  EXPECT_EQ(ClassifyFirstBytes("PRI * HTTP/1.1\r\n\r\n"), Sniff::kHttp1);
}

}  // namespace
}  // namespace graymesh::h2
