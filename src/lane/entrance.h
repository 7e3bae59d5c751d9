// Lane entrance rules: which lane a request enters, decided from what it
// carries (headers, cookies, query, path, method, source service, client
// address) or by a sticky percentage. Compiled once per snapshot (regexes
// built, clauses ordered by priority), then evaluated on the request path
// without allocating.
//
// Thread-safety: a compiled EntranceRules is immutable; share it freely.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace graymesh::lane {

// What a rule can look at. All views; nothing is copied. For a TCP
// connection only `client_address` is set.
struct RequestView {
  std::string_view method;          // "GET"
  std::string_view path;            // without the query
  std::string_view query;           // after '?', without it
  std::string_view client_address;  // IP text
  std::string_view source_service;  // from x-graymesh-source (set by sidecars)
  std::string_view trace_id;        // of the traceparent (32 hex), "" when none
  // Headers as (name, value) views; names compared case-insensitively.
  std::span<const std::pair<std::string_view, std::string_view>> headers;
  // Baggage members `baggage:` conditions and carried values read: first
  // `carried` (the graymesh-h-*/-c-*/-q-* members this hop sends on, see
  // carried.h), then the request's own (trusted) `baggage` header value.
  std::string_view carried;
  std::string_view baggage;

  std::string_view Header(std::string_view name) const;  // "" when absent
  bool HasHeader(std::string_view name) const;
  std::string_view Cookie(std::string_view name) const;      // from the Cookie header(s)
  std::string_view QueryParam(std::string_view name) const;  // raw, not percent-decoded
};

// Which rules apply where. A non-empty `service` is a service scope (its
// sidecars' inbound side, or calls to it): exactly the lanes whose
// entrance.service is that name apply, whatever `gateway` says. Otherwise it
// is a gateway scope: lanes with no entrance.service whose entrance.gateway
// is "" or `gateway`. Lanes without match clauses never apply.
struct Scope {
  std::string gateway;  // a gateway listener name; rules with gateway "" or this name apply
  std::string service;  // a sidecar's service; rules with this service apply
};

class EntranceRules {
 public:
  // Keeps the lanes whose entrance applies to `scope`, ordered by priority.
  // Throws std::invalid_argument for a bad regex or CIDR (naming the lane).
  static std::shared_ptr<const EntranceRules> Compile(const std::vector<config::Lane>& lanes,
                                                      const Scope& scope);

  // The tag of the first lane whose entrance matches; "" when none does.
  // The view stays valid as long as this object. Does not allocate.
  // Semantics (docs/config.md, "Lanes"): a regex must match the whole value
  // (RE2::FullMatch, as Envoy's safe_regex); a condition on a missing
  // header/cookie/parameter fails unless it is `present: false`; a sticky
  // percentage fails when its key is missing or empty. A header, cookie or
  // query parameter the request lacks is read from its carried baggage
  // member (carried.h) when there is one; baggage values are percent-decoded.
  std::string_view Match(const RequestView& rq) const;
  bool empty() const;

  ~EntranceRules();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The sticky-percentage hash: stable across processes and versions (the same
// user stays in one lane across gateways and restarts). FNV-1a 64 of the key.
uint32_t StickyBucket(std::string_view key);  // 0..99

}  // namespace graymesh::lane
