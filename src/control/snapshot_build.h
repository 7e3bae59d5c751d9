// The snapshot the control plane serves, made from its store.
#pragma once

#include "control/store.h"
#include "wire/snapshot_json.h"

namespace graymesh::control {

// Registered services with their instances, plus an empty service for every
// route target without instances (requests get 503, not 404); routes in
// match order (wire::SortRoutes). Throws config::ConfigError if a stored rule
// no longer parses.
wire::Snapshot BuildSnapshot(const StoreState& state);

}  // namespace graymesh::control
