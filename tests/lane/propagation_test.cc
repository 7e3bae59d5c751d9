#include "lane/propagation.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "lane/trace_map.h"

namespace graymesh::lane {
namespace {

TEST(Propagation, LaneFromBaggage) {
  EXPECT_EQ(LaneFromBaggage("graymesh-lane=gray"), "gray");
  EXPECT_EQ(LaneFromBaggage("userId=alice, graymesh-lane = proj-a ;prop=1,x=y"), "proj-a");
  EXPECT_EQ(LaneFromBaggage("userId=alice"), "");
  EXPECT_EQ(LaneFromBaggage("graymesh-lane=bad value!"), "");
  EXPECT_EQ(LaneFromBaggage(""), "");
}

TEST(Propagation, TraceIdFromTraceparent) {
  EXPECT_EQ(TraceIdFromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceIdFromTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdFromTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdFromTraceparent("garbage"), "");
}

TEST(Propagation, BaggageKeepsOtherMembersAndReplacesTheLane) {
  std::string out;
  ASSERT_TRUE(AppendBaggageWithLane("userId=alice,graymesh-lane=old,k=v;p", "gray", &out));
  EXPECT_EQ(out, "userId=alice,k=v;p,graymesh-lane=gray");
  out.clear();
  ASSERT_TRUE(AppendBaggageWithLane("", "gray", &out));
  EXPECT_EQ(out, "graymesh-lane=gray");
}

TEST(Propagation, BaggageNeverGrowsPastTheLimit) {
  std::string big(kMaxBaggageBytes - 5, 'a');
  big = "k=" + big.substr(2);
  std::string out = "prefix";
  EXPECT_FALSE(AppendBaggageWithLane(big, "gray", &out));
  EXPECT_EQ(out, "prefix");
}

TEST(Propagation, ValidLaneTag) {
  EXPECT_TRUE(ValidLaneTag("gray"));
  EXPECT_TRUE(ValidLaneTag("proj-a.v2_1"));
  EXPECT_FALSE(ValidLaneTag(""));
  EXPECT_FALSE(ValidLaneTag("a b"));
  EXPECT_FALSE(ValidLaneTag(std::string(64, 'a')));
}

TEST(TraceLaneMap, RemembersUntilTtl) {
  TraceLaneMap map(1024, 10);
  uint8_t gray = LaneIds::Intern("gray");
  ASSERT_NE(gray, 0);
  map.Learn("4bf92f3577b34da6a3ce929d0e0e4736", gray, 1000);
  EXPECT_EQ(map.Find("4bf92f3577b34da6a3ce929d0e0e4736", 1005), gray);
  EXPECT_EQ(map.Find("4bf92f3577b34da6a3ce929d0e0e4736", 1010), 0) << "expired";
  EXPECT_EQ(map.Find("00000000000000000000000000000001", 1005), 0);
  EXPECT_EQ(LaneIds::Name(gray), "gray");
  EXPECT_EQ(LaneIds::Intern("gray"), gray);
}

TEST(TraceLaneMap, BoundedAndKeepsTheNewest) {
  TraceLaneMap map(256, 60);
  uint8_t lane = LaneIds::Intern("blue");
  for (int i = 0; i < 10000; ++i) map.Learn("trace-" + std::to_string(i), lane, 100 + i / 1000);
  EXPECT_EQ(map.capacity(), 256u);
  int recent = 0, old = 0;
  for (int i = 9900; i < 10000; ++i) recent += map.Find("trace-" + std::to_string(i), 110) != 0;
  for (int i = 0; i < 100; ++i) old += map.Find("trace-" + std::to_string(i), 110) != 0;
  EXPECT_GT(recent, 50) << "the newest traces are mostly kept";
  EXPECT_EQ(old, 0) << "the oldest were evicted";
}

TEST(TraceLaneMap, ConcurrentWritersAndReadersNeverSeeAWrongLane) {
  TraceLaneMap map(4096, 60);
  uint8_t a = LaneIds::Intern("lane-a"), b = LaneIds::Intern("lane-b");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      uint8_t mine = t % 2 ? a : b;
      for (int i = 0; i < 20000; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i % 500);
        map.Learn(id, mine, 5);
        uint8_t got = map.Find(id, 5);
        if (got != 0 && got != mine) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace graymesh::lane
