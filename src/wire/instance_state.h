// An instance's registry state as the wire carries it (snapshots, the
// instances API), and the clock both sides stamp it with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace graymesh::wire {

enum class InstanceState { kStarting, kReady, kDraining };

const char* StateName(InstanceState s);
// "starting", "ready", "draining"; nullopt for anything else.
std::optional<InstanceState> ParseState(const std::string& s);

// Unix time in milliseconds (system clock).
int64_t UnixMillis();

}  // namespace graymesh::wire
