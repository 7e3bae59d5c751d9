// Carried values (docs/design.md, lane model, S3 at any depth): a rule on any service must
// match a header sent at the entry, however deep the call and whatever the
// apps in between forward. So the mesh carries, as W3C baggage members, the
// request keys (headers, cookies, query parameters) that service-scoped
// entrance rules read, and only those:
//
//   graymesh-h-NAME  header NAME (lower-case)
//   graymesh-c-NAME  cookie NAME
//   graymesh-q-NAME  query parameter NAME
//
// with values percent-encoded as W3C baggage wants. A rule condition on a
// header (cookie, parameter) reads the request's own one when present, else
// the carried member.
//
// Thread-safety: a compiled CarriedKeys is immutable; share it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lane/entrance.h"

namespace graymesh::lane {

enum class CarriedKind : uint8_t { kHeader, kCookie, kQuery };

// Carried members are the graymesh-* members with one of these prefixes.
inline constexpr std::string_view kCarriedHeaderPrefix = "graymesh-h-";
inline constexpr std::string_view kCarriedCookiePrefix = "graymesh-c-";
inline constexpr std::string_view kCarriedQueryPrefix = "graymesh-q-";

// The baggage key that carries `name` ("graymesh-h-x-user-id"). A header name
// must be lower-case. Bytes that a baggage key (an HTTP token) cannot hold
// are percent-encoded.
std::string CarriedMemberKey(CarriedKind kind, std::string_view name);

// Whether a baggage key is a carried member (any kind).
bool IsCarriedMemberKey(std::string_view key);

// Appends `raw` percent-encoded as a W3C baggage value: every byte outside
// baggage-octet, and '%', becomes %XX.
void AppendBaggageValue(std::string_view raw, std::string* out);

// Percent-decodes a baggage value into buf[0..cap). False when a '%' is not
// followed by two hex digits or the result does not fit.
bool DecodeBaggageValue(std::string_view encoded, char* buf, size_t cap, size_t* len);

class CarriedKeys {
 public:
  // The header, cookie and query names (condition names and sticky keys)
  // that lanes with `entrance.service` read, each once. Built per snapshot.
  static std::shared_ptr<const CarriedKeys> Compile(const std::vector<config::Lane>& lanes);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  // Appends "key=value" members, joined by ',', for each carried key the
  // request holds itself (a header, cookie or query parameter), then the
  // carried members of `incoming` (an inbound or restored baggage) for keys
  // not already written. Values longer than kMaxValueBytes are not carried.
  // Allocates only if *out must grow.
  void Append(const RequestView& rq, std::string_view incoming, std::string* out) const;

  // A single carried value is at most this long (encoded): longer values are
  // not carried, and a rule reading them does not match past the first hop.
  static constexpr size_t kMaxValueBytes = 256;

 private:
  struct Key {
    CarriedKind kind;
    std::string name;
    std::string member;  // CarriedMemberKey(kind, name)
  };
  std::vector<Key> keys_;
};

}  // namespace graymesh::lane
