// One release event (GET /v1/events): what happened to which instance or
// rule, and when. Kept by the Store (store.h), so a restarted control plane
// or another replica answers with the same history.
#pragma once

#include <cstdint>
#include <string>

namespace graymesh::control {

struct Event {
  // Set by the store: grows in the order recorded and is never reused
  // (SQLite: its row id; etcd: the revision of the write, unique across
  // replicas).
  uint64_t id = 0;
  int64_t time_ms = 0;
  std::string kind;  // one of kEventKinds
  std::string service;
  std::string instance;  // "" when not about one instance
  std::string lane;      // "" = base or not about a lane
  std::string detail;
};

// The kinds GET /v1/events reports.
inline constexpr const char* kEventKinds[] = {
    "registered", "ready",       "draining",     "deregistered", "expired",
    "ejected",    "returned",    "rule-applied", "rule-deleted", "canary-step"};

}  // namespace graymesh::control
