// Slow start, Envoy's formula: an endpoint t ms into its warmup window gets
//   weight * max(min_weight_percent / 100, (t / window) ^ (1 / aggression)).
#pragma once

#include <cstdint>

#include "config/config.h"

namespace graymesh::health {

// The factor in [min_weight_percent/100, 1] for an endpoint warming since
// `since_ms` (1 once the window has passed; 1 when since_ms is 0 = unknown).
double WarmupFactor(const config::WarmupPolicy& p, int64_t since_ms, int64_t now_ms);

// The weight to give the balancer: at least 1 while warming, so a warming
// endpoint is never out of rotation.
uint32_t WarmWeight(uint32_t weight, double factor);

}  // namespace graymesh::health
