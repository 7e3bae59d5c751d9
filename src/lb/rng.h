// A tiny, fast, non-cryptographic PRNG for balancers. Load balancing needs
// cheap, well-spread numbers, not secrecy; std::mt19937_64 is 2.5 KB of state
// and slower. Not thread-safe: each balancer owns one.
#pragma once

#include <cstdint>

namespace graymesh::lb {

// wyrand (Wang Yi, public domain): a Weyl sequence mixed by one 64x64->128
// multiply. Passes BigCrush and PractRand; every seed (including 0) is fine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0xa0761d6478bd642fULL;
    const unsigned __int128 m =
        static_cast<unsigned __int128>(state_) * (state_ ^ 0xe7037ed1a0b428dbULL);
    return static_cast<uint64_t>(m >> 64) ^ static_cast<uint64_t>(m);
  }

  // Uniform in [0, bound), bound > 0. Lemire's multiply-shift instead of `%`:
  // no division, and the bias (bound / 2^64) is far below anything measurable.
  uint64_t Below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * bound) >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace graymesh::lb
