// Least request by power of two choices: draw two distinct hosts in proportion
// to weight, send to the one with fewer active requests. Two random choices
// get most of the benefit of scanning every host, at O(log n) a pick.
//
// Weighted draws map a uniform number in [0, total weight) through the prefix
// sums cum_ (binary search). Excluded hosts are cut out of that range rather
// than rejected, so a pick never loops, even when the excluded host carries
// nearly all the weight.
#include <utility>
#include <vector>

#include "lb/balancer.h"
#include "lb/rng.h"

namespace graymesh::lb {
namespace {

class LeastRequest final : public Balancer {
 public:
  LeastRequest(std::span<const uint32_t> weights, uint64_t seed)
      : weight_(weights.begin(), weights.end()),
        cum_(weights.size()),
        active_(weights.size()),
        rng_(seed) {
    for (uint32_t w : weight_) live_ += w > 0;
    Rebuild(0);
  }

  int Pick(int exclude) override;
  void OnStart(int host) override {
    if (Valid(host)) ++active_[host];
  }
  void OnFinish(int host) override {
    if (Valid(host) && active_[host] > 0) --active_[host];
  }
  void SetWeight(int host, uint32_t weight) override;
  uint32_t Weight(int host) const override { return Valid(host) ? weight_[host] : 0; }
  int size() const override { return static_cast<int>(weight_.size()); }

 private:
  bool Valid(int host) const { return host >= 0 && host < size(); }
  uint64_t Start(int host) const { return cum_[host] - weight_[host]; }
  void Rebuild(int from);
  int Draw(uint64_t total, int skip1, int skip2);
  int Find(uint64_t r) const;

  std::vector<uint32_t> weight_;
  std::vector<uint64_t> cum_;  // cum_[i] = weight_[0] + ... + weight_[i]
  std::vector<uint32_t> active_;
  int live_ = 0;  // hosts with weight > 0
  Rng rng_;
};

int LeastRequest::Pick(int exclude) {
  if (!Valid(exclude) || weight_[exclude] == 0) exclude = -1;
  const int eligible = live_ - (exclude >= 0);
  if (eligible <= 0) return -1;
  const uint64_t total = cum_.back() - (exclude >= 0 ? weight_[exclude] : 0);
  const int a = Draw(total, exclude, -1);
  if (eligible == 1) return a;
  // Draw b independently so both searches overlap in the CPU; on a collision
  // redraw without a. Together that is exactly b ~ weight among hosts != a.
  int b = Draw(total, exclude, -1);
  if (b == a) b = Draw(total - weight_[a], a, exclude);
  // Ties go to a, itself a weighted random draw: when all hosts are idle the
  // picks are then exactly proportional to weight. A coin flip would mix in
  // b's distribution, which (drawn without replacement) favours light hosts.
  return active_[b] < active_[a] ? b : a;
}

void LeastRequest::SetWeight(int host, uint32_t weight) {
  if (!Valid(host) || weight_[host] == weight) return;
  live_ += (weight > 0) - (weight_[host] > 0);
  weight_[host] = weight;
  Rebuild(host);
}

void LeastRequest::Rebuild(int from) {
  uint64_t sum = from > 0 ? cum_[from - 1] : 0;
  for (size_t i = from; i < weight_.size(); ++i) cum_[i] = sum += weight_[i];
}

// A host drawn in proportion to weight among all but skip1 and skip2 (-1 =
// none); `total` is the weight left after the skips. The skipped hosts'
// ranges are stepped over in index order, mapping [0, total) onto the rest.
int LeastRequest::Draw(uint64_t total, int skip1, int skip2) {
  uint64_t r = rng_.Below(total);
  if (skip2 >= 0 && (skip1 < 0 || skip2 < skip1)) std::swap(skip1, skip2);
  if (skip1 >= 0 && r >= Start(skip1)) r += weight_[skip1];
  if (skip2 >= 0 && r >= Start(skip2)) r += weight_[skip2];
  return Find(r);
}

// First i with cum_[i] > r (r < cum_.back()), so never a weight-0 host.
// Halving without a branch (the multiply keeps GCC from making one): random r
// would mispredict half the branches of std::upper_bound.
int LeastRequest::Find(uint64_t r) const {
  const uint64_t* base = cum_.data();
  size_t len = cum_.size();
  while (len > 1) {
    const size_t half = len / 2;
    base += half * (base[half - 1] <= r);
    len -= half;
  }
  return static_cast<int>(base - cum_.data());
}

}  // namespace

std::unique_ptr<Balancer> MakeLeastRequest(std::span<const uint32_t> weights, uint64_t seed) {
  return std::make_unique<LeastRequest>(weights, seed);
}

}  // namespace graymesh::lb
