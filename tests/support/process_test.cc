// ChildProcess turns a child's sanitizer report into a test failure: most
// integration tests only stop their children and never look at exit codes,
// so a report in a child's log is the only trace an ASan/UBSan/TSan finding
// in `graymesh` leaves.
#include "support/process.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

namespace graymesh::test {
namespace {

// A child that prints what a sanitizer prints last and exits 0.
void RunChildSaying(const std::string& text) {
  ChildProcess child("/bin/sh", {"-c", "printf '%s\\n' \"$0\"", text});
  ASSERT_EQ(child.Wait(std::chrono::seconds(5)), 0);
}

TEST(ChildProcessSanitizer, AddressSanitizerReportFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      RunChildSaying("SUMMARY: AddressSanitizer: heap-use-after-free session.cc:12 in Relay"),
      "reported a sanitizer error");
}

TEST(ChildProcessSanitizer, LeakAndUndefinedBehaviorReportsFailTheTest) {
  EXPECT_NONFATAL_FAILURE(
      RunChildSaying("SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s)."),
      "reported a sanitizer error");
  EXPECT_NONFATAL_FAILURE(
      RunChildSaying("SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior parser.cc:40:7"),
      "reported a sanitizer error");
  EXPECT_NONFATAL_FAILURE(
      RunChildSaying("SUMMARY: ThreadSanitizer: data race worker.cc:88 in Apply"),
      "reported a sanitizer error");
}

TEST(ChildProcessSanitizer, OrdinaryLogLinesDoNot) {
  RunChildSaying("SUMMARY: 3 requests, 0 errors");
  RunChildSaying("the word Sanitizer alone");
}

}  // namespace
}  // namespace graymesh::test
