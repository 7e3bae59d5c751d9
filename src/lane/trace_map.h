// Loose mode (docs/design.md, lane model): remembers, for a while, which lane a trace id
// came in with, so a call the app makes with only `traceparent` keeps its lane.
//
// Shared by every worker of a process without a lock: each slot is one
// 64-bit atomic holding a 40-bit hash of the trace id, an 8-bit lane id and a
// 16-bit timestamp (seconds), so a read never sees half of a write. Slots are
// grouped four to a bucket; a new trace takes an expired or the oldest slot of
// its bucket (an approximate LRU of fixed size).
//
// Base requests are learnt too (kSeenBase): a trace seen as base most
// recently never lends its earlier lane to the app's next call (a base
// request never gets a lane it did not earn at its own entry). Only the
// latest inbound request of a trace counts; two requests of one trace in
// flight at once in different lanes cannot be told apart by trace id alone.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "lane/trace_values.h"

namespace graymesh::lane {

class TraceLaneMap {
 public:
  // `capacity` entries (rounded up to a power of two, at least 64); entries
  // older than `ttl_seconds` (1..3600) are not returned.
  // The carried values of traces (values()) get the same TTL and up to
  // TraceValues::kMaxSlots slots.
  TraceLaneMap(size_t capacity, uint32_t ttl_seconds);

  // The "lane" of a trace whose latest inbound request was in base.
  static constexpr uint8_t kSeenBase = 255;

  // Remembers trace -> lane id (1..254, or kSeenBase); lane id 0 forgets.
  void Learn(std::string_view trace_id, uint8_t lane_id, uint64_t now_seconds);
  // The lane id learnt for the trace (kSeenBase included), or 0 = unknown.
  uint8_t Find(std::string_view trace_id, uint64_t now_seconds) const;

  size_t capacity() const { return buckets_ * kWays; }
  TraceValues& values() { return values_; }

 private:
  static constexpr size_t kWays = 4;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  size_t buckets_;
  uint32_t ttl_;
  TraceValues values_;
};

// Process-wide lane ids for the trace map: tags are interned once, when a
// snapshot is compiled, and never removed, so an id means the same tag for
// the life of the process. Intern() is for one thread (the one compiling
// snapshots); Name() may be called from any thread.
class LaneIds {
 public:
  static constexpr int kMax = 254;  // 255 is TraceLaneMap::kSeenBase
  // The id of `tag` (1..254), interning it; 0 when the table is full.
  static uint8_t Intern(std::string_view tag);
  // The id of an already interned tag, or 0. Any thread.
  static uint8_t Find(std::string_view tag);
  static std::string_view Name(uint8_t id);
};

}  // namespace graymesh::lane
