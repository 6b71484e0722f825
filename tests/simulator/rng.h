// Deterministic pseudo-random numbers for the simulator.
//
// Everything the simulator invents (ids, dates, names, faults) comes from Rng so that
// the same --seed always yields the same data. SplitMix64 is used instead of <random>
// distributions because those are not specified bit-for-bit across standard libraries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ldsim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform integer in [lo, hi] (inclusive). Requires lo <= hi.
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1U;
    if (span == 0U) {  // the full 64-bit range
      return static_cast<std::int64_t>(next());
    }
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + next() % span);
  }

  std::size_t index(std::size_t size) { return static_cast<std::size_t>(next() % size); }

  // Uniform double in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  bool chance(double p) { return unit() < p; }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[index(v.size())];
  }

  // n lowercase hex digits.
  std::string hex(std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n);
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 16 == 0) bits = next();
      out.push_back(kDigits[bits & 0xfU]);
      bits >>= 4;
    }
    return out;
  }

  // A version-4 style UUID string.
  std::string uuid() {
    std::string h = hex(32);
    h[12] = '4';
    h[16] = "89ab"[next() % 4];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20, 12);
  }

 private:
  std::uint64_t state_;
};

// Derives an independent stream seed from a base seed and a salt.
inline std::uint64_t derive_seed(std::uint64_t base, std::uint64_t salt) {
  Rng r(base ^ (salt * 0xd1b54a32d192ed03ULL));
  r.next();
  return r.next();
}

}  // namespace ldsim
