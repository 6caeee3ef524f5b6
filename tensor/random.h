// A seeded random generator that yields the same numbers on every machine and compiler.
//
// std::normal_distribution and friends are implementation-defined, so we draw bits from PCG32
// (O'Neill 2014) and turn them into floats ourselves: uniforms from the top 53 bits, normals by
// the Box-Muller transform using only log, sqrt, sin and cos.
#pragma once
#include <cstdint>

namespace sn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL, uint64_t stream = 0xda3e39cb94b95bdbULL);
  void seed(uint64_t seed, uint64_t stream = 0xda3e39cb94b95bdbULL);

  uint32_t next_u32();
  uint64_t next_u64() { return (static_cast<uint64_t>(next_u32()) << 32) | next_u32(); }
  double uniform();                        // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                         // mean 0, std 1
  uint64_t below(uint64_t n);              // uniform integer in [0, n), unbiased

 private:
  uint64_t state_ = 0, inc_ = 1;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace sn
