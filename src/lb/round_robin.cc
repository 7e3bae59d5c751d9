// Smooth weighted round robin as an earliest-deadline-first (EDF) schedule.
//
// Host i comes due once per step of 1/w_i periods (a period: the time in
// which every host comes due `weight` times). A pick takes the earliest
// deadline (ties: lowest index) and moves it one step on. After sum(w) picks
// every host was picked exactly w_i times and every deadline moved by exactly
// one period, so the schedule is periodic and any window of sum(w) picks is
// exact.
//
// First deadlines: the j-th of m hosts of equal weight is due at (j + 1/2) / m
// of its first step, so equal weights run in index order and a class of light
// hosts is spread over the period. Starting every host at a full step (Envoy)
// sends the heavy host's whole share first for weights 5,1,1 (a a a a a b c);
// starting all at half a step bunches the light ones (a a a b c a a); spread,
// it is a b a a a c a. Hosts of different weights are not coordinated: unlike
// nginx's O(n)-a-pick smooth WRR, two light hosts may come due together.
//
// Exact arithmetic: time counts in ticks, period_ of them a period, so a
// deadline is num / w ticks with integer num, a step adds period_ to num, and
// deadlines compare by 128-bit cross multiplication: no drift however long the
// run. A rebase now and then keeps numerators below 2^63.
//
// The hosts sit under a tournament (winner) tree rather than a heap: a pick
// replays one leaf-to-root path of fixed length with selects instead of
// unpredictable branches, ties go to the lower index for free (left subtrees
// hold lower indexes), and "best but `exclude`" is the best sibling winner on
// one path, which leaves the schedule itself untouched. Nodes hold copies of
// the winner's deadline so the replay carries it in registers: the critical
// path is one multiply-compare-select a level, all loads are off it.
#include <algorithm>
#include <bit>
#include <limits>
#include <numeric>
#include <vector>

#include "lb/balancer.h"

namespace graymesh::lb {
namespace {

using u128 = unsigned __int128;

// c ? a : b without a jump. GCC turns the ?: in Replay into one, and which
// side wins there is a coin toss to the branch predictor.
template <typename T>
T Select(bool c, T a, T b) {
  const T mask = T{0} - T{c};
  return (a & mask) | (b & ~mask);
}

class RoundRobin final : public Balancer {
 public:
  RoundRobin(std::span<const uint32_t> weights, uint64_t seed);

  int Pick(int exclude) override;
  void SetWeight(int host, uint32_t weight) override;
  uint32_t Weight(int host) const override { return Valid(host) ? weight_[host] : 0; }
  int size() const override { return size_; }

 private:
  // Host `host` is due at num / den ticks; den is the weight it was placed
  // with. Weight 0 and padding leaves sit at kNever / 1, after any real one.
  struct Entry {
    uint64_t num;
    uint32_t den;
    int32_t host;
  };
  static constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

  bool Valid(int host) const { return host >= 0 && host < size_; }
  static bool Earlier(const Entry& a, const Entry& b) {
    return u128{a.num} * b.den < u128{b.num} * a.den;
  }
  Entry& Leaf(int host) { return tree_[leaves_ + host]; }

  void SpreadFirstDeadlines();
  void Build();
  void Replay(int host);
  void Advance(int host);
  int BestExcluding(int host) const;
  void Rebase();

  int size_;
  size_t leaves_;                 // power of two >= max(size_, 1)
  uint64_t period_;               // ticks a period: >= 2 * size_, fine enough to spread phases
  uint64_t rebase_at_;            // ticks; keeps num < (rebase_at_ + 2 * period_) * 2^32 < 2^63
  std::vector<uint32_t> weight_;  // one per leaf, padding 0
  std::vector<Entry> tree_;       // tree_[1] is the root, tree_[leaves_ + i] host i's leaf
  uint64_t now_num_ = 0;          // deadline of the last pick, now_num_ / now_den_ ticks
  uint32_t now_den_ = 1;
};

RoundRobin::RoundRobin(std::span<const uint32_t> weights, uint64_t seed)
    : size_(static_cast<int>(weights.size())),
      leaves_(std::bit_ceil(std::max<size_t>(weights.size(), 1))),
      period_(std::max<uint64_t>(2 * leaves_, std::min<uint64_t>(64 * leaves_, 1 << 28))),
      rebase_at_(std::min(period_ << 20, uint64_t{1} << 30)),
      weight_(leaves_),
      tree_(2 * leaves_) {
  std::copy(weights.begin(), weights.end(), weight_.begin());
  for (size_t i = 0; i < leaves_; ++i) tree_[leaves_ + i] = {kNever, 1, static_cast<int>(i)};
  SpreadFirstDeadlines();
  Build();
  // Enter the cycle `seed % live` picks in. Cheap (< n picks), keeps every
  // property of the schedule, and with equal weights worker s starts on host s.
  const uint64_t live =
      std::count_if(weights.begin(), weights.end(), [](uint32_t w) { return w > 0; });
  if (live > 0) {
    for (uint64_t k = seed % live; k > 0; --k) Advance(tree_[1].host);
  }
}

// The j-th (by index) of the m hosts of one weight gets its first deadline at
// (2j + 1) / 2m of a step: period_ * (2j + 1) / 2m ticks over w. period_ >= 2m
// keeps these strictly increasing in j and inside the first step.
void RoundRobin::SpreadFirstDeadlines() {
  std::vector<int> order(size_);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return weight_[a] < weight_[b]; });
  for (size_t first = 0, last = 0; first < order.size(); first = last) {
    const uint32_t weight = weight_[order[first]];
    while (last < order.size() && weight_[order[last]] == weight) ++last;
    if (weight == 0) continue;
    const uint64_t m = last - first;
    for (uint64_t j = 0; j < m; ++j) {
      Entry& e = Leaf(order[first + j]);
      e.num = period_ * (2 * j + 1) / (2 * m);
      e.den = weight;
    }
  }
}

// Internal nodes from the leaves; the left child wins ties (lower indexes).
void RoundRobin::Build() {
  for (size_t node = leaves_ - 1; node >= 1; --node) {
    const Entry& left = tree_[2 * node];
    const Entry& right = tree_[2 * node + 1];
    tree_[node] = Earlier(right, left) ? right : left;
  }
}

int RoundRobin::Pick(int exclude) {
  int host = tree_[1].host;
  if (host == exclude) host = BestExcluding(exclude);
  if (host < 0 || weight_[host] == 0) return -1;
  Advance(host);
  return host;
}

// A new weight restarts the host on its new grid, due half a step after now,
// like a host that just joined. Weight 0 parks it at kNever.
void RoundRobin::SetWeight(int host, uint32_t weight) {
  if (!Valid(host) || weight_[host] == weight) return;
  weight_[host] = weight;
  Entry& e = Leaf(host);
  if (weight == 0) {
    e.num = kNever;
    e.den = 1;
  } else {
    e.num = static_cast<uint64_t>(u128{now_num_} * weight / now_den_) + period_ / 2;
    e.den = weight;
  }
  Replay(host);
}

// Recomputes the winners on `host`'s leaf-to-root path after its deadline
// changed.
void RoundRobin::Replay(int host) {
  size_t node = leaves_ + host;
  uint64_t num = tree_[node].num;
  uint32_t den = tree_[node].den;
  int32_t win = host;
  for (; node > 1; node >>= 1) {
    const Entry& other = tree_[node ^ 1];
    // other < win, or other <= win when other is the left child (ties go left).
    const bool take = u128{other.num} * den < u128{num} * other.den + (node & 1);
    num = Select(take, other.num, num);
    den = Select(take, other.den, den);
    win = Select(take, other.host, win);
    tree_[node >> 1] = {num, den, win};
  }
}

void RoundRobin::Advance(int host) {
  Entry& e = Leaf(host);
  now_num_ = e.num;
  now_den_ = e.den;
  e.num += period_;
  Replay(host);
  if (now_num_ >= now_den_ * rebase_at_) Rebase();
}

// The best host other than `host` is the best of the sibling winners on its
// leaf-to-root path; those subtrees cover every other leaf exactly once.
int RoundRobin::BestExcluding(int host) const {
  const Entry* best = nullptr;
  for (size_t node = leaves_ + host; node > 1; node >>= 1) {
    const Entry& other = tree_[node ^ 1];
    if (best == nullptr || Earlier(other, *best) ||
        (!Earlier(*best, other) && other.host < best->host)) {
      best = &other;
    }
  }
  return best == nullptr ? -1 : best->host;
}

// Subtracts the same whole number of ticks from every deadline and from now:
// order is unchanged, numerators stay small. The amount is the floor of the
// smallest of them (a pick with `exclude` can leave the earliest deadline
// behind now). Runs once per 2^20 periods (fewer periods past 512 hosts), and
// a period is sum(w) picks.
void RoundRobin::Rebase() {
  const Entry& first = tree_[1];
  const uint64_t k = std::min(first.num / first.den, now_num_ / now_den_);
  for (int i = 0; i < size_; ++i) {
    if (weight_[i] > 0) Leaf(i).num -= k * Leaf(i).den;
  }
  now_num_ -= k * now_den_;
  Build();
}

}  // namespace

std::unique_ptr<Balancer> MakeRoundRobin(std::span<const uint32_t> weights, uint64_t seed) {
  return std::make_unique<RoundRobin>(weights, seed);
}

}  // namespace graymesh::lb
