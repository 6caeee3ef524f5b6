// The inner loops of tensor/cpu/pointwise.h, written once as plain loops that the compiler
// vectorises. Included only by pointwise_avx2.cpp and pointwise_avx512.cpp, each compiled with its
// ISA's flags and -ffp-contract=off; everything here is in an anonymous namespace so each copy has
// internal linkage (the linker can never hand the AVX-512 copy to the AVX2 path). For the same
// reason these loops call no inline library templates (std::max, std::fill, ...), only builtins
// and libm.
//
// Every loop works on one contiguous range or row, single-threaded: pointwise.cpp does the
// threading and picks the table of the active ISA.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/cpu/pointwise_table.h"

namespace sn::cpu::pointwise_detail {
namespace {

using kernels::Binary;
using kernels::Reduce;
using kernels::Unary;

// y[i] = f(x[i]) and y[i] = f(a[i * sa], b[i * sb]); the stride-0 cases get their own loops so
// the compiler sees a broadcast, not a gather.
template <class F>
inline void map1(const float* __restrict x, float* __restrict y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <class F>
inline void map2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (sb) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    const float v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}

// The same expressions as the reference (tensor/kernels/elementwise.cpp), so the same bits.
void unary(Unary op, const float* x, float* y, int64_t n, float a, float b) {
  switch (op) {
    case Unary::Neg: return map1(x, y, n, [](float v) { return -v; });
    case Unary::Exp: return map1(x, y, n, [](float v) { return std::exp(v); });
    case Unary::Log: return map1(x, y, n, [](float v) { return std::log(v); });
    case Unary::Sqrt: return map1(x, y, n, [](float v) { return std::sqrt(v); });
    case Unary::Abs: return map1(x, y, n, [](float v) { return std::fabs(v); });
    case Unary::Sign: return map1(x, y, n, [](float v) { return static_cast<float>((v > 0) - (v < 0)); });
    case Unary::Square: return map1(x, y, n, [](float v) { return v * v; });
    case Unary::Reciprocal: return map1(x, y, n, [](float v) { return 1.0f / v; });
    case Unary::Relu: return map1(x, y, n, [](float v) { return v > 0 ? v : 0.0f; });
    case Unary::LeakyRelu: return map1(x, y, n, [a](float v) { return v > 0 ? v : a * v; });
    case Unary::LeakyReluGrad: return map1(x, y, n, [a](float v) { return v > 0 ? 1.0f : a; });
    case Unary::Tanh: return map1(x, y, n, [](float v) { return std::tanh(v); });
    case Unary::Sigmoid: return map1(x, y, n, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    case Unary::Clamp: return map1(x, y, n, [a, b](float v) { return v < a ? a : (v > b ? b : v); });
    case Unary::ClampMask: return map1(x, y, n, [a, b](float v) { return (v >= a && v <= b) ? 1.0f : 0.0f; });
    case Unary::PowScalar: return map1(x, y, n, [a](float v) { return std::pow(v, a); });
    case Unary::MulScalar: return map1(x, y, n, [a](float v) { return v * a; });
    case Unary::AddScalar: return map1(x, y, n, [a](float v) { return v + a; });
  }
}

void binary(Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (op) {
    case Binary::Add: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p + q; });
    case Binary::Sub: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p - q; });
    case Binary::Mul: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p * q; });
    case Binary::Div: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p / q; });
    case Binary::Pow: return map2(a, sa, b, sb, y, n, [](float p, float q) { return std::pow(p, q); });
    case Binary::Maximum: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p > q ? p : q; });
    case Binary::Minimum: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p < q ? p : q; });
    case Binary::Eq: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p == q ? 1.0f : 0.0f; });
    case Binary::Gt: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p > q ? 1.0f : 0.0f; });
    case Binary::Ge: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p >= q ? 1.0f : 0.0f; });
    case Binary::Lt: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p < q ? 1.0f : 0.0f; });
    case Binary::Le: return map2(a, sa, b, sb, y, n, [](float p, float q) { return p <= q ? 1.0f : 0.0f; });
  }
}

// A select, not dy * (y > 0): a masked-out inf or NaN gradient gives 0, as PyTorch.
void relu_backward(const float* __restrict dy, const float* __restrict y, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

void axpy(float* __restrict dst, const float* __restrict src, int64_t ss, float alpha, int64_t n) {
  if (ss) {
    for (int64_t i = 0; i < n; ++i) dst[i] += alpha * src[i];
  } else {
    const float v = alpha * src[0];
    for (int64_t i = 0; i < n; ++i) dst[i] += v;
  }
}

// Sums in double over 8 independent lanes (vectorisable; the lanes are folded in a fixed order).
constexpr int kLanes = 8;
inline double fold(const double* acc) {
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

double sum(const float* x, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += static_cast<double>(x[i + l]);
  double s = fold(acc);
  for (; i < n; ++i) s += x[i];
  return s;
}

// Max/min as the reference: a NaN anywhere wins (its own value is returned).
float maxmin(Reduce op, const float* x, int64_t n, float init) {
  float m = init;
  bool nan = false;
  if (op == Reduce::Max) {
    for (int64_t i = 0; i < n; ++i) {
      m = x[i] > m ? x[i] : m;
      nan |= x[i] != x[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m = x[i] < m ? x[i] : m;
      nan |= x[i] != x[i];
    }
  }
  return nan ? NAN : m;
}

double sumsq_centred(const float* x, int64_t n, double mu) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double d = x[i + l] - mu;
      acc[l] += d * d;
    }
  double s = fold(acc);
  for (; i < n; ++i) s += (x[i] - mu) * (x[i] - mu);
  return s;
}

void affine(const float* __restrict x, float* __restrict y, int64_t n, double scale, double shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * scale + shift);
}

// Instance-norm backward: sum(g) and sum(g * xhat) with xhat = (x - mean) * rstd.
void norm_grad_sums(const float* g, const float* x, int64_t n, double mean, double rstd, double* sg,
                    double* sgx) {
  double a[kLanes] = {}, b[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double xhat = (x[i + l] - mean) * rstd;
      a[l] += g[i + l];
      b[l] += g[i + l] * xhat;
    }
  double s = fold(a), t = fold(b);
  for (; i < n; ++i) {
    const double xhat = (x[i] - mean) * rstd;
    s += g[i];
    t += g[i] * xhat;
  }
  *sg = s, *sgx = t;
}

void norm_grad_input(const float* __restrict g, const float* __restrict x, float* __restrict dx, int64_t n,
                     double mean, double rstd, double k, double mean_g, double mean_gx) {
  for (int64_t i = 0; i < n; ++i) {
    const double xhat = (x[i] - mean) * rstd;
    dx[i] = static_cast<float>(k * (g[i] - mean_g - xhat * mean_gx));
  }
}

// One output row of a 2x2 stride-2 max pool from input rows r0, r1; the reference's rule: a
// strictly greater value or a NaN replaces the running maximum, in row-major window order.
void max_pool_2x2_row(const float* r0, const float* r1, float* y, int64_t ow) {
  for (int64_t j = 0; j < ow; ++j) {
    float m = r0[2 * j];
    const float b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    m = (b > m || b != b) ? b : m;
    m = (c > m || c != c) ? c : m;
    m = (d > m || d != d) ? d : m;
    y[j] = m;
  }
}

// Its backward: dy[j] goes to the window position the forward picked (the same rule, as the
// reference's window_max: a later NaN replaces an earlier one), zeros to the other three; 0 + dy as
// the reference's zeroing and += give (so -0 turns into +0). Windows do not overlap: no adds.
void max_pool_2x2_backward_row(const float* __restrict r0, const float* __restrict r1, const float* __restrict dy,
                               float* __restrict d0, float* __restrict d1, int64_t ow) {
  for (int64_t j = 0; j < ow; ++j) {  // selects only, no branches: GCC vectorises it
    const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    float m = a;
    int32_t at = 0;  // 32 bits like the floats, so one vector lane each
    at = (b > m || b != b) ? 1 : at;
    m = at == 1 ? b : m;
    at = (c > m || c != c) ? 2 : at;
    m = at == 2 ? c : m;
    at = (d > m || d != d) ? 3 : at;
    // The gradient's bits where picked, else +0's: as selects GCC 12 made masked stores, which it
    // cannot vectorise for these interleaved rows.
    const uint32_t g = __builtin_bit_cast(uint32_t, 0.0f + dy[j]);
    d0[2 * j] = __builtin_bit_cast(float, g & -static_cast<uint32_t>(at == 0));
    d0[2 * j + 1] = __builtin_bit_cast(float, g & -static_cast<uint32_t>(at == 1));
    d1[2 * j] = __builtin_bit_cast(float, g & -static_cast<uint32_t>(at == 2));
    d1[2 * j + 1] = __builtin_bit_cast(float, g & -static_cast<uint32_t>(at == 3));
  }
}

// dst[j] = src[j / sw] for j < W * sw.
void nearest_row(const float* src, float* dst, int64_t W, int64_t sw) {
  if (sw == 2) {
    for (int64_t j = 0; j < W; ++j) dst[2 * j] = dst[2 * j + 1] = src[j];
  } else {
    for (int64_t j = 0; j < W; ++j)
      for (int64_t k = 0; k < sw; ++k) dst[j * sw + k] = src[j];
  }
}

// y[i] = the F16 (or BF16) value of bits[i], as tensor/half.h's half_bits_to_float and
// bf16_bits_to_float give it, bit for bit (NaN payloads too), but branch-free so it vectorises:
// a half subnormal is its integer mantissa times 2^-24 (both exact in float). `bits` need not be
// 2-byte aligned: a weight file's data section need not be.
typedef uint16_t unaligned_u16 __attribute__((aligned(1)));
void widen_half(const void* bits, float* __restrict y, int64_t n, bool bf16) {
  const unaligned_u16* h = static_cast<const unaligned_u16*>(bits);
  if (bf16) {
    for (int64_t i = 0; i < n; ++i) y[i] = __builtin_bit_cast(float, static_cast<uint32_t>(h[i]) << 16);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t v = h[i];
    const uint32_t sign = (v & 0x8000u) << 16, exp = (v >> 10) & 0x1Fu, mant = v & 0x3FFu;
    const uint32_t normal = sign | ((exp + 112u) << 23) | (mant << 13);
    const uint32_t inf_nan = sign | 0x7F800000u | (mant << 13);
    const uint32_t subnormal = sign | __builtin_bit_cast(uint32_t, static_cast<float>(static_cast<int32_t>(mant)) * 0x1p-24f);
    y[i] = __builtin_bit_cast(float, exp == 0 ? subnormal : exp == 31 ? inf_nan : normal);
  }
}

constexpr PointwiseTable kTable = {unary,         binary,         relu_backward,  axpy,           sum,
                                   maxmin,        sumsq_centred,  affine,         norm_grad_sums,
                                   norm_grad_input, max_pool_2x2_row, max_pool_2x2_backward_row,
                                   nearest_row,   widen_half};

}  // namespace
}  // namespace sn::cpu::pointwise_detail
