#include "health/warmup.h"

#include <algorithm>
#include <cmath>

namespace graymesh::health {

double WarmupFactor(const config::WarmupPolicy& p, int64_t since_ms, int64_t now_ms) {
  const int64_t window = p.window.count();
  if (since_ms <= 0 || window <= 0) return 1.0;
  const int64_t t = now_ms - since_ms;
  if (t >= window) return 1.0;
  const double progress = t <= 0 ? 0.0 : double(t) / double(window);
  const double curve = std::pow(progress, 1.0 / p.aggression);
  return std::min(1.0, std::max(p.min_weight_percent / 100.0, curve));
}

uint32_t WarmWeight(uint32_t weight, double factor) {
  if (factor >= 1.0) return weight;
  return std::max<uint32_t>(1, uint32_t(std::lround(double(weight) * factor)));
}

}  // namespace graymesh::health
