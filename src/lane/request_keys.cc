#include "lane/request_keys.h"

#include <bit>
#include <utility>

#include "lane/carried.h"
#include "lane/lookup.h"
#include "lane/propagation.h"

namespace graymesh::lane::detail {
namespace {

// `lower` is an interned header name, lower-case already: only the request's
// name is folded.
bool EqualsLowerCase(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (http::AsciiLower(name[i]) != lower[i]) return false;
  }
  return true;
}

}  // namespace

uint32_t KeyTable::Intern(Source source, std::string name) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].source == source && keys_[i].name == name) return static_cast<uint32_t>(i);
  }
  const auto key = static_cast<uint32_t>(keys_.size());
  if (key < kBatched) {
    const int s = static_cast<int>(source);
    source_mask_[s] |= uint64_t{1} << key;
    by_bucket_[s][Bucket(name)] |= uint64_t{1} << key;
  }
  keys_.push_back({source, std::move(name)});
  return key;
}

bool KeyResolver::GetDecoded(uint32_t key, uint64_t bit, std::string_view* out) {
  // Decoded once per request, however many conditions read the member.
  if (!Decode(*out, out)) {
    present_ &= ~bit;
    return false;
  }
  slots_[key] = {out->data(), out->size()};
  decoded_mask_ |= bit;
  return true;
}

bool KeyResolver::Decode(std::string_view encoded, std::string_view* out) {
  if (encoded.find('%') == std::string_view::npos) {
    *out = encoded;
    return true;
  }
  size_t len = 0;
  char* dst = decoded_ + decoded_used_;
  if (!DecodeBaggageValue(encoded, dst, kDecodeBytes - decoded_used_, &len)) return false;
  decoded_used_ += len;
  *out = std::string_view(dst, len);
  return true;
}

void KeyResolver::Resolve(int source) {
  resolved_sources_ |= 1u << source;
  const auto offer = [&](std::string_view name, std::string_view value) {
    return Offer(source, name, value);
  };
  switch (static_cast<Source>(source)) {
    case Source::kHeader:
      for (const auto& [name, value] : rq_.headers) {
        if (Offer(source, name, value)) return;
      }
      return;
    case Source::kCookie:
      for (const auto& [name, value] : rq_.headers) {
        if (IEquals(name, "cookie") && ForEachPair(value, true, offer)) return;
      }
      return;
    case Source::kQuery:
      ForEachPair(rq_.query, false, offer);
      return;
    case Source::kBaggage: {
      bool all = false;
      const auto member = [&](std::string_view, std::string_view key, std::string_view value) {
        all = Offer(source, key, value);
        return all;
      };
      ForEachBaggageMember(rq_.carried, member);
      if (!all) ForEachBaggageMember(rq_.baggage, member);
      return;
    }
    default:
      return;
  }
}

bool KeyResolver::Take(int source, uint64_t candidates, std::string_view name,
                       std::string_view value) {
  const auto& keys = table_.keys_;
  // Not yet present only (the caller masked them out): the first occurrence
  // of a name wins.
  while (candidates != 0) {
    const int k = std::countr_zero(candidates);
    candidates &= candidates - 1;
    const std::string& want = keys[k].name;
    const bool same = static_cast<Source>(source) == Source::kHeader ? EqualsLowerCase(name, want)
                                                                     : name == want;
    if (same) {
      present_ |= uint64_t{1} << k;
      slots_[k] = {value.data(), value.size()};
      break;
    }
  }
  return (present_ & table_.source_mask_[source]) == table_.source_mask_[source];
}

bool KeyResolver::Lookup(uint32_t key, std::string_view* out) {
  const KeyTable::Key& k = table_.keys_[key];
  switch (k.source) {
    case Source::kHeader:
      return FindHeader(rq_.headers, k.name, out);
    case Source::kCookie:
      return FindCookie(rq_.headers, k.name, out);
    case Source::kQuery:
      return FindQueryParam(rq_.query, k.name, out);
    case Source::kBaggage: {
      bool found = false;
      const auto member = [&](std::string_view, std::string_view name, std::string_view value) {
        if (name != k.name) return false;
        *out = value;
        found = true;
        return true;
      };
      ForEachBaggageMember(rq_.carried, member);
      if (!found) ForEachBaggageMember(rq_.baggage, member);
      return found && Decode(*out, out);
    }
    default:
      return false;
  }
}

}  // namespace graymesh::lane::detail
