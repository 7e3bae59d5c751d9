// Loose mode (DESIGN.md §3): remembers, for a while, which lane a trace id
// came in with, so a call the app makes with only `traceparent` keeps its lane.
//
// Shared by every worker of a process without a lock: each slot is one
// 64-bit atomic holding a 40-bit hash of the trace id, an 8-bit lane id and a
// 16-bit timestamp (seconds), so a read never sees half of a write. Slots are
// grouped four to a bucket; a new trace takes an expired or the oldest slot of
// its bucket (an approximate LRU of fixed size).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace graymesh::lane {

class TraceLaneMap {
 public:
  // `capacity` entries (rounded up to a power of two, at least 64); entries
  // older than `ttl_seconds` (1..3600) are not returned.
  TraceLaneMap(size_t capacity, uint32_t ttl_seconds);

  // Remembers trace -> lane id (1..255); lane id 0 forgets.
  void Learn(std::string_view trace_id, uint8_t lane_id, uint64_t now_seconds);
  // The lane id learnt for the trace, or 0.
  uint8_t Find(std::string_view trace_id, uint64_t now_seconds) const;

  size_t capacity() const { return buckets_ * kWays; }

 private:
  static constexpr size_t kWays = 4;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  size_t buckets_;
  uint32_t ttl_;
};

// Process-wide lane ids for the trace map: tags are interned once, when a
// snapshot is compiled, and never removed, so an id means the same tag for
// the life of the process. Intern() is for one thread (the one compiling
// snapshots); Name() may be called from any thread.
class LaneIds {
 public:
  static constexpr int kMax = 255;
  // The id of `tag` (1..255), interning it; 0 when the table is full.
  static uint8_t Intern(std::string_view tag);
  // The id of an already interned tag, or 0. Any thread.
  static uint8_t Find(std::string_view tag);
  static std::string_view Name(uint8_t id);
};

}  // namespace graymesh::lane
