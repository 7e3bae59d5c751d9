// Loose mode for carried values (docs/design.md, lane model): what the inbound side of a
// sidecar learnt a trace carries (graymesh-h-* and similar baggage members),
// so that the app's calls, which forward only `traceparent`, get them back on
// the outbound side and rules deeper in the chain still see them.
//
// Bounds: a fixed number of slots (direct-mapped by trace id hash; a newer
// trace takes the slot of an older one), each holding at most kMaxBytes of
// members; entries older than the TTL are not returned. What does not fit is
// not remembered, and a rule that reads it then does not match: the request
// stays where the rest of its lane logic puts it.
//
// Shared by every worker without a lock: each slot is a seqlock over 64-bit
// atomics. A writer that finds the slot being written skips its write (the
// trace then falls back as above); a reader that races a writer sees a miss.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace graymesh::lane {

class TraceValues {
 public:
  static constexpr size_t kMaxBytes = 240;
  static constexpr size_t kMaxSlots = 4096;

  // min(capacity, kMaxSlots) slots, rounded up to a power of two (at least
  // 64); `ttl_seconds` clamped to 1..3600.
  TraceValues(size_t capacity, uint32_t ttl_seconds);

  // Remembers trace -> members; empty `members` forgets the trace. Members
  // longer than kMaxBytes forget it too.
  void Learn(std::string_view trace_id, std::string_view members, uint64_t now_seconds);
  // Appends the members learnt for the trace to *out; false when none.
  bool Find(std::string_view trace_id, uint64_t now_seconds, std::string* out) const;

  size_t capacity() const { return mask_ + 1; }

 private:
  static constexpr size_t kWords = kMaxBytes / 8;
  struct Slot {
    std::atomic<uint64_t> seq{0};   // odd while being written
    std::atomic<uint64_t> key{0};   // trace id hash; 0 = empty
    std::atomic<uint64_t> meta{0};  // length << 32 | seconds
    std::atomic<uint64_t> words[kWords];
  };
  std::unique_ptr<Slot[]> slots_;
  size_t mask_;
  uint32_t ttl_;
};

}  // namespace graymesh::lane
