// Loose mode state: carried values per trace (bounded, TTL, lock-free), and
// the "seen as base" mark of the trace lane map.
#include "lane/trace_values.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "lane/trace_map.h"

namespace graymesh::lane {
namespace {

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

TEST(TraceValues, RemembersUntilTtlAndForgets) {
  TraceValues v(1024, 10);
  v.Learn(kTrace, "graymesh-h-x-user-id=150", 1000);
  std::string out;
  ASSERT_TRUE(v.Find(kTrace, 1005, &out));
  EXPECT_EQ(out, "graymesh-h-x-user-id=150");
  out.clear();
  EXPECT_FALSE(v.Find(kTrace, 1010, &out)) << "expired";
  EXPECT_FALSE(v.Find("00000000000000000000000000000001", 1005, &out));
  v.Learn(kTrace, "graymesh-h-x-user-id=150", 1000);
  v.Learn(kTrace, "", 1001);  // a request of the trace without values
  EXPECT_FALSE(v.Find(kTrace, 1002, &out));
  EXPECT_EQ(out, "");
}

TEST(TraceValues, BoundedInSlotsAndBytes) {
  TraceValues v(1u << 20, 60);
  EXPECT_EQ(v.capacity(), TraceValues::kMaxSlots);
  std::string out;
  v.Learn(kTrace, std::string(TraceValues::kMaxBytes, 'a'), 5);
  ASSERT_TRUE(v.Find(kTrace, 5, &out));
  EXPECT_EQ(out.size(), TraceValues::kMaxBytes);
  v.Learn(kTrace, std::string(TraceValues::kMaxBytes + 1, 'a'), 5);
  out.clear();
  EXPECT_FALSE(v.Find(kTrace, 5, &out)) << "too long: not remembered, and the old value is gone";
  TraceValues small(10, 60);
  EXPECT_EQ(small.capacity(), 64u);
}

TEST(TraceValues, ConcurrentWritersAndReadersNeverSeeATornValue) {
  TraceValues v(256, 60);
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string mine = "graymesh-h-k=" + std::string(100 + t * 20, char('a' + t));
      std::string out;
      for (int i = 0; i < 20000; ++i) {
        const std::string id = "trace-" + std::to_string(i % 300);
        v.Learn(id, mine, 5);
        out.clear();
        if (v.Find(id, 5, &out)) {
          bool ok = false;
          for (int u = 0; u < 4; ++u) {
            ok = ok || out == "graymesh-h-k=" + std::string(100 + u * 20, char('a' + u));
          }
          if (!ok) ++torn;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(torn.load(), 0);
}

TEST(TraceLaneMap, SeenAsBaseIsNotUnknown) {
  TraceLaneMap map(1024, 60);
  const uint8_t gray = LaneIds::Intern("gray");
  EXPECT_EQ(map.Find(kTrace, 10), 0) << "unknown";
  map.Learn(kTrace, gray, 10);
  map.Learn(kTrace, TraceLaneMap::kSeenBase, 11);  // the latest request of the trace was base
  EXPECT_EQ(map.Find(kTrace, 12), TraceLaneMap::kSeenBase);
  map.Learn(kTrace, gray, 13);
  EXPECT_EQ(map.Find(kTrace, 14), gray);
  EXPECT_EQ(LaneIds::Name(TraceLaneMap::kSeenBase), "");
  EXPECT_LT(LaneIds::kMax, TraceLaneMap::kSeenBase);
}

}  // namespace
}  // namespace graymesh::lane
