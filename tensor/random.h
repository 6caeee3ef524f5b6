// A seeded random generator that yields the same numbers on every machine and compiler.
//
// std::normal_distribution and friends are implementation-defined, so we draw bits from PCG32
// (O'Neill 2014) and turn them into floats ourselves: uniforms from the top 53 bits, normals by
// the Box-Muller transform using only log, sqrt, sin and cos.
#pragma once
#include <cstdint>
#include <initializer_list>

namespace sn {

// A well-mixed 64-bit seed from several numbers (a SplitMix64 step per part), for a generator
// that must be a function of a tuple, such as (seed, stream, step, sample). Giving each tuple its
// own PCG stream under one seed instead gives related sequences: PCG32's states for neighbouring
// streams lie on arithmetic progressions.
uint64_t mix_seed(std::initializer_list<uint64_t> parts);

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

  // out[i] = T(mean + std * z_i) for the z_i that n calls of normal() would give, leaving the
  // generator where those calls would. Large fills run in parallel, each chunk on a copy of the
  // stream jumped ahead to its first draw, so the bits are the same for every thread count (the
  // stand-in VGG16's 14.7 M weights are drawn this way on every run).
  void fill_normal(float* out, int64_t n, double mean = 0.0, double std = 1.0);
  void fill_normal(double* out, int64_t n, double mean = 0.0, double std = 1.0);
  // The state `delta` calls of next_u32 later, in O(log delta) (PCG's jump-ahead).
  void advance(uint64_t delta);

 private:
  template <class T>
  void fill_normal_impl(T* out, int64_t n, double mean, double std);

  uint64_t state_ = 0, inc_ = 1;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace sn
