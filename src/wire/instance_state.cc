#include "wire/instance_state.h"

#include <chrono>

namespace graymesh::wire {

const char* StateName(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kReady:
      return "ready";
    case InstanceState::kDraining:
      return "draining";
    case InstanceState::kUnhealthy:
      return "unhealthy";
    case InstanceState::kRetired:
      return "retired";
    case InstanceState::kRolledBack:
      return "rolled-back";
  }
  return "ready";
}

std::optional<InstanceState> ParseState(const std::string& s) {
  if (s == "starting") return InstanceState::kStarting;
  if (s == "ready") return InstanceState::kReady;
  if (s == "draining") return InstanceState::kDraining;
  if (s == "unhealthy") return InstanceState::kUnhealthy;
  if (s == "retired") return InstanceState::kRetired;
  if (s == "rolled-back") return InstanceState::kRolledBack;
  return std::nullopt;
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace graymesh::wire
