// An instance's registry state as the wire carries it (snapshots, the
// instances API), and the clock both sides stamp it with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace graymesh::wire {

// unhealthy: registered, but its sidecar finds the app not answering
// (consumers do not choose it; readySince restarts when it recovers).
// kRetired and kRolledBack are set by the control plane only (a canary
// promoted or rolled back, docs/canary.md). Only ready instances take
// traffic.
enum class InstanceState { kStarting, kReady, kDraining, kUnhealthy, kRetired, kRolledBack };

const char* StateName(InstanceState s);
// "starting", "ready", "draining", "unhealthy", "retired", "rolled-back";
// nullopt for anything else.
std::optional<InstanceState> ParseState(const std::string& s);

// Unix time in milliseconds (system clock).
int64_t UnixMillis();

}  // namespace graymesh::wire
