#include "lane/trace_values.h"

#include <algorithm>
#include <cstring>

namespace graymesh::lane {
namespace {

uint64_t Hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= uint8_t(c);
    h *= 0x100000001b3ull;
  }
  return h | 1;  // never 0: 0 marks an empty slot
}

}  // namespace

TraceValues::TraceValues(size_t capacity, uint32_t ttl_seconds)
    : ttl_(std::clamp<uint32_t>(ttl_seconds, 1, 3600)) {
  size_t n = 64;
  while (n < std::min(capacity, kMaxSlots)) n <<= 1;
  mask_ = n - 1;
  slots_.reset(new Slot[n]);
  for (size_t i = 0; i < n; ++i) {
    for (auto& w : slots_[i].words) w.store(0, std::memory_order_relaxed);
  }
}

void TraceValues::Learn(std::string_view trace_id, std::string_view members, uint64_t now) {
  if (trace_id.empty()) return;
  const uint64_t key = Hash(trace_id);
  Slot& slot = slots_[key & mask_];
  uint64_t seq = slot.seq.load(std::memory_order_relaxed);
  if (members.empty()) {
    // Nothing to forget when the slot holds another trace (or nothing).
    if (slot.key.load(std::memory_order_relaxed) != key) return;
  }
  if ((seq & 1) != 0 ||
      !slot.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire)) {
    return;  // another worker is writing this slot
  }
  std::atomic_thread_fence(std::memory_order_release);
  if (members.empty() || members.size() > kMaxBytes) {
    slot.key.store(0, std::memory_order_relaxed);
  } else {
    uint64_t words[kWords] = {};
    std::memcpy(words, members.data(), members.size());
    for (size_t i = 0; i < (members.size() + 7) / 8; ++i) {
      slot.words[i].store(words[i], std::memory_order_relaxed);
    }
    slot.meta.store((uint64_t(members.size()) << 32) | uint32_t(now), std::memory_order_relaxed);
    slot.key.store(key, std::memory_order_relaxed);
  }
  slot.seq.store(seq + 2, std::memory_order_release);
}

bool TraceValues::Find(std::string_view trace_id, uint64_t now, std::string* out) const {
  if (trace_id.empty()) return false;
  const uint64_t key = Hash(trace_id);
  const Slot& slot = slots_[key & mask_];
  const uint64_t seq = slot.seq.load(std::memory_order_acquire);
  if ((seq & 1) != 0 || slot.key.load(std::memory_order_relaxed) != key) return false;
  const uint64_t meta = slot.meta.load(std::memory_order_relaxed);
  const size_t len = std::min<size_t>(meta >> 32, kMaxBytes);
  uint64_t words[kWords];
  for (size_t i = 0; i < (len + 7) / 8; ++i) words[i] = slot.words[i].load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (slot.seq.load(std::memory_order_relaxed) != seq) return false;  // raced a writer
  if (uint32_t(now) - uint32_t(meta) >= ttl_) return false;
  out->append(reinterpret_cast<const char*>(words), len);
  return true;
}

}  // namespace graymesh::lane
