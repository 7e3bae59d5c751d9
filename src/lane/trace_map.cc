#include "lane/trace_map.h"

#include <algorithm>
#include <array>
#include <string>

namespace graymesh::lane {
namespace {

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= uint8_t(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

constexpr uint64_t kKeyBits = 40;
constexpr uint64_t kKeyMask = (1ull << kKeyBits) - 1;

uint64_t Pack(uint64_t key, uint8_t lane, uint16_t time) {
  return (key & kKeyMask) | (uint64_t(lane) << kKeyBits) | (uint64_t(time) << 48);
}
uint64_t KeyOf(uint64_t v) { return v & kKeyMask; }
uint8_t LaneOf(uint64_t v) { return uint8_t(v >> kKeyBits); }
uint16_t TimeOf(uint64_t v) { return uint16_t(v >> 48); }

// Age in seconds of a 16-bit timestamp, modulo 2^16.
uint32_t Age(uint16_t then, uint64_t now) { return uint16_t(uint16_t(now) - then); }

}  // namespace

TraceLaneMap::TraceLaneMap(size_t capacity, uint32_t ttl_seconds)
    : ttl_(std::clamp<uint32_t>(ttl_seconds, 1, 3600)), values_(capacity, ttl_seconds) {
  size_t n = 64;
  while (n < capacity) n <<= 1;
  buckets_ = n / kWays;
  slots_.reset(new std::atomic<uint64_t>[n]);
  for (size_t i = 0; i < n; ++i) slots_[i].store(0, std::memory_order_relaxed);
}

void TraceLaneMap::Learn(std::string_view trace_id, uint8_t lane_id, uint64_t now) {
  if (trace_id.empty()) return;
  uint64_t h = Fnv1a(trace_id);
  uint64_t key = (h >> 24) | 1;  // never 0: 0 marks an empty slot
  std::atomic<uint64_t>* bucket = &slots_[(h % buckets_) * kWays];
  size_t victim = 0;
  uint32_t oldest = 0;
  for (size_t i = 0; i < kWays; ++i) {
    uint64_t v = bucket[i].load(std::memory_order_relaxed);
    if (v == 0 || KeyOf(v) == (key & kKeyMask)) {
      victim = i;
      break;
    }
    uint32_t age = Age(TimeOf(v), now);
    if (age >= ttl_) {
      victim = i;
      break;
    }
    if (age >= oldest) {
      oldest = age;
      victim = i;
    }
  }
  // Two workers racing on one bucket may overwrite each other's entry: the
  // loser's trace falls back to its node's lane, never to a wrong lane.
  bucket[victim].store(lane_id == 0 ? 0 : Pack(key, lane_id, uint16_t(now)),
                       std::memory_order_relaxed);
}

uint8_t TraceLaneMap::Find(std::string_view trace_id, uint64_t now) const {
  if (trace_id.empty()) return 0;
  uint64_t h = Fnv1a(trace_id);
  uint64_t key = ((h >> 24) | 1) & kKeyMask;
  const std::atomic<uint64_t>* bucket = &slots_[(h % buckets_) * kWays];
  for (size_t i = 0; i < kWays; ++i) {
    uint64_t v = bucket[i].load(std::memory_order_relaxed);
    if (v != 0 && KeyOf(v) == key && Age(TimeOf(v), now) < ttl_) return LaneOf(v);
  }
  return 0;
}

namespace {

struct Table {
  std::array<std::string, LaneIds::kMax + 1> names;
  std::atomic<int> count{0};  // names[1..count] are published
};

Table& Ids() {
  static Table t;
  return t;
}

}  // namespace

uint8_t LaneIds::Intern(std::string_view tag) {
  if (uint8_t id = Find(tag); id != 0) return id;
  Table& t = Ids();
  int n = t.count.load(std::memory_order_relaxed);
  if (n >= kMax) return 0;
  t.names[n + 1] = std::string(tag);
  t.count.store(n + 1, std::memory_order_release);
  return uint8_t(n + 1);
}

uint8_t LaneIds::Find(std::string_view tag) {
  Table& t = Ids();
  int n = t.count.load(std::memory_order_acquire);
  for (int i = 1; i <= n; ++i) {
    if (t.names[i] == tag) return uint8_t(i);
  }
  return 0;
}

std::string_view LaneIds::Name(uint8_t id) {
  Table& t = Ids();
  if (id == 0 || id > t.count.load(std::memory_order_acquire)) return {};
  return t.names[id];
}

}  // namespace graymesh::lane
