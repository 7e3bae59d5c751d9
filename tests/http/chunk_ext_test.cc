#include "http/chunk_ext.h"

#include <gtest/gtest.h>

#include <string_view>

namespace graymesh::http {
namespace {

using Step = ChunkExtScanner::Step;

// Scans the extensions `ext` (from the byte after the size) followed by CR.
Step Scan(std::string_view ext, size_t limit = 64) {
  ChunkExtScanner s(limit);
  s.Start(ext[0]);
  for (char c : ext.substr(1)) {
    Step st = s.Feed(c);
    if (st != Step::kMore) return st;
  }
  return s.Feed('\r');
}

TEST(ChunkExt, Valid) {
  for (std::string_view ext : {";a", ";a=b", ";a=b;c=\"d\"", " ;a=b", "\t; a = b ;c", ";a=\"\"",
                               ";a=\"x\\\"y\"", ";a=\"q\\\\\"", ";a=\"\x80 \t\"", ";!#$%&'*+-.^_`|~=1"}) {
    EXPECT_EQ(Scan(ext), Step::kEnd) << ext;
  }
}

TEST(ChunkExt, Invalid) {
  for (std::string_view ext : {" ", ";", ";a=", ";a =", ";a ", ";a b", ";=b", ";a=\"b", ";a=\"b\"c",
                               ";a=b\"", ";a\x01", ";a=\"\x01\"", ";a=\"\\\x7f\"", " x", ";a;",
                               ";a=b ", ";a\n", ";(a)"}) {
    EXPECT_EQ(Scan(ext), Step::kInvalid) << ext;
  }
}

TEST(ChunkExt, Limit) {
  EXPECT_EQ(Scan(";abcdefg", 8), Step::kEnd);
  EXPECT_EQ(Scan(";abcdefgh", 8), Step::kTooLong);
}

}  // namespace
}  // namespace graymesh::http
