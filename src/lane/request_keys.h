// The names (headers, cookies, query parameters) that compiled rules look up,
// and their per-request resolution. Each name is interned once at compile
// time; per request, the first lookup of a source (say, any header) resolves
// every interned name of that source in one pass over the request, into a
// fixed array on the stack, so N rules on M names cost one scan, not N*M.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lane/entrance.h"

namespace graymesh::lane::detail {

enum class Source : uint8_t {
  kHeader,
  kCookie,
  kQuery,
  kBaggage,  // a member of RequestView::carried, else of RequestView::baggage
  kPath,
  kMethod,
  kSourceService,
  kSourceAddress,
  kClient,  // sticky key only: the client address text
  kTrace,   // sticky key only: the W3C trace id (RequestView::trace_id)
};

class KeyTable {
 public:
  // Keys at or past this index (more names than any real rule set uses) are
  // looked up one by one instead.
  static constexpr uint32_t kBatched = 64;

  // `source` is kHeader, kCookie, kQuery or kBaggage; header names must be
  // lower-case.
  uint32_t Intern(Source source, std::string name);

 private:
  friend class KeyResolver;
  struct Key {
    Source source;
    std::string name;
  };
  // A request name is compared only with the interned names of its bucket:
  // its length and last byte (lower-cased, so a header in any case lands
  // where its interned lower-case name is). Names that differ only in a
  // trailing digit or letter (x-h0 .. x-h9) get buckets of their own, so
  // most request names meet no candidate at all and the rest meet one.
  // The hash folds case with | 0x20 (other bytes may then share a bucket,
  // which costs a comparison, never an answer).
  static constexpr int kBuckets = 64;
  static int Bucket(std::string_view name) {
    const unsigned last = name.empty() ? 0u : static_cast<unsigned char>(name.back()) | 0x20u;
    return static_cast<int>((name.size() * 31 + last) % kBuckets);
  }

  std::vector<Key> keys_;
  // Batched keys per source (header, cookie, query, baggage): all of them,
  // and by Bucket() of their name.
  static constexpr int kBatchedSources = 4;
  uint64_t source_mask_[kBatchedSources] = {};
  uint64_t by_bucket_[kBatchedSources][kBuckets] = {};
};

class KeyResolver {
 public:
  KeyResolver(const KeyTable& table, const RequestView& rq) : table_(table), rq_(rq) {}
  KeyResolver(const KeyResolver&) = delete;
  KeyResolver& operator=(const KeyResolver&) = delete;

  // The value of interned name `key`; false when the request lacks it.
  // Baggage values come percent-decoded (false when malformed, or when the
  // decoded values of one request pass kDecodeBytes).
  bool Get(uint32_t key, std::string_view* out) {
    if (key >= KeyTable::kBatched) return Lookup(key, out);
    const auto source = static_cast<int>(table_.keys_[key].source);
    if ((resolved_sources_ & (1u << source)) == 0) Resolve(source);
    const uint64_t bit = uint64_t{1} << key;
    if ((present_ & bit) == 0) return false;
    *out = std::string_view(slots_[key].data, slots_[key].size);
    if (source != static_cast<int>(Source::kBaggage) || (decoded_mask_ & bit) != 0) return true;
    return GetDecoded(key, bit, out);
  }

  static constexpr size_t kDecodeBytes = 512;

 private:
  void Resolve(int source);
  // A (name, value) found in the request: fills the first matching key of
  // `source` not yet present. True when every key of `source` is present.
  // Most request names have no candidate in their bucket: that is decided
  // inline, the comparison is not.
  bool Offer(int source, std::string_view name, std::string_view value) {
    const uint64_t candidates = table_.by_bucket_[source][KeyTable::Bucket(name)] & ~present_;
    return candidates != 0 && Take(source, candidates, name, value);
  }
  bool Take(int source, uint64_t candidates, std::string_view name, std::string_view value);
  // A baggage member's value, percent-decoded on its first read.
  bool GetDecoded(uint32_t key, uint64_t bit, std::string_view* out);
  bool Lookup(uint32_t key, std::string_view* out);
  bool Decode(std::string_view encoded, std::string_view* out);

  // Plain pointer+size so the array needs no initialisation per request.
  struct Slot {
    const char* data;
    size_t size;
  };

  const KeyTable& table_;
  const RequestView& rq_;
  uint32_t resolved_sources_ = 0;
  uint64_t present_ = 0;
  uint64_t decoded_mask_ = 0;  // baggage slots already percent-decoded
  Slot slots_[KeyTable::kBatched];
  size_t decoded_used_ = 0;
  char decoded_[kDecodeBytes];  // not initialised: only [0, decoded_used_) is read
};

}  // namespace graymesh::lane::detail
