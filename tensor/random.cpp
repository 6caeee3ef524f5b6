#include "tensor/random.h"

#include <atomic>
#include <cmath>
#include <numbers>

#include "tensor/cpu/parallel.h"

namespace sn {

Generator::Generator(uint64_t seed_value, uint64_t stream) { seed(seed_value, stream); }

void Generator::seed(uint64_t seed_value, uint64_t stream) {
  state_ = 0;
  inc_ = (stream << 1u) | 1u;
  next_u32();
  state_ += seed_value;
  next_u32();
  has_spare_ = false;
}

namespace {
constexpr uint64_t kMultiplier = 6364136223846793005ULL;
constexpr int64_t kDrawsPerPair = 4;  // a Box-Muller pair takes two uniforms of two 32-bit draws
}  // namespace

uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6a09e667f3bcc908ULL;
  for (uint64_t part : parts) {
    uint64_t z = (h ^ part) + 0x9e3779b97f4a7c15ULL;  // SplitMix64 (Steele, Lea, Flood 2014)
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    h = z ^ (z >> 31);
  }
  return h;
}

uint32_t Generator::next_u32() {
  const uint64_t old = state_;
  state_ = old * kMultiplier + inc_;
  const auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
  const auto rot = static_cast<uint32_t>(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is -inf
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

void Generator::advance(uint64_t delta) {
  // state_k = A_k * state + C_k, built from the LCG's square-and-multiply (Brown 1994).
  uint64_t acc_mult = 1, acc_plus = 0, cur_mult = kMultiplier, cur_plus = inc_;
  for (; delta > 0; delta >>= 1) {
    if (delta & 1) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1) * cur_plus;
    cur_mult *= cur_mult;
  }
  state_ = acc_mult * state_ + acc_plus;
}

template <class T>
void Generator::fill_normal_impl(T* out, int64_t n, double mean, double std) {
  const bool affine = mean != 0.0 || std != 1.0;  // else z as is (keeps the sign of a zero)
  const auto put = [&](int64_t i, double z) { out[i] = static_cast<T>(affine ? mean + std * z : z); };
  int64_t i = 0;
  if (n > 0 && has_spare_) put(i++, normal());
  const int64_t pairs = (n - i) / 2;
  const Generator start = *this;
  std::atomic<bool> rejected{false};  // a u1 of exactly 0, which normal() would draw again
  cpu::parallel_for(0, pairs, 16384, [&](int64_t b, int64_t e) {
    Generator g = start;
    g.advance(static_cast<uint64_t>(b * kDrawsPerPair));
    for (int64_t k = b; k < e; ++k) {
      const double u1 = g.uniform(), u2 = g.uniform();
      if (u1 <= 0.0) rejected = true;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double theta = 2.0 * std::numbers::pi * u2;
      put(i + 2 * k, r * std::cos(theta));
      put(i + 2 * k + 1, r * std::sin(theta));
    }
  });
  if (rejected) {  // about once in 2^53 pairs: redo in order, as normal() draws
    *this = start;
    for (int64_t k = i; k < n; ++k) put(k, normal());
    return;
  }
  advance(static_cast<uint64_t>(pairs * kDrawsPerPair));
  if (i + 2 * pairs < n) put(n - 1, normal());  // an odd count: keeps the spare, as normal() does
}

void Generator::fill_normal(float* out, int64_t n, double mean, double std) { fill_normal_impl(out, n, mean, std); }
void Generator::fill_normal(double* out, int64_t n, double mean, double std) { fill_normal_impl(out, n, mean, std); }

uint64_t Generator::below(uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // reject the short last bucket
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

}  // namespace sn
