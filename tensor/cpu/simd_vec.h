// The vector types the per-ISA kernels are written over (gemm_kernel.h, conv_direct_impl.h): one
// register of floats and the handful of operations those kernels use.
//
// Included only by the per-ISA files, each compiled with its ISA's flags (tensor/CMakeLists.txt);
// everything is in an anonymous namespace, so a kernel instantiated over Vec512 in one file and over
// Vec256 in another can never be mixed up by the linker. Vec256 exists where AVX2 is enabled, Vec512
// where AVX-512 is.
//
// A type V provides: reg, width, zero(), load(p) (aligned), loadu(p), broadcast(p), set1(x),
// fmadd(a, b, c) = a * b + c, mul(a, b), max0(a) (max(a, 0), NaN kept as std::max(a, 0.0f) keeps it),
// load_first(p, n) / store_first(p, v, n) (the first n < width lanes only), storeu(p, v) and
// prefetch(p) (into L1), prefetch_l2(p). (prefetch_for_write(p), the same for every V, is in
// intrinsics.h.)
#pragma once
#include "tensor/cpu/intrinsics.h"

namespace sn::cpu {
namespace {

#if defined(__AVX2__)
struct Vec256 {
  using reg = __m256;
  static constexpr int width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_load_ps(p); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  // set1 of the loaded value, not _mm256_broadcast_ss(p) (the same vbroadcastss): GCC 12 treats
  // that builtin's pointer as a memory access it cannot see through, and kept the GEMM tile's
  // accumulators in memory, stored every k step: the AVX2 SGEMM ran at half the FMA peak (54
  // against 102 GFLOP/s of 106 with this; VGG16 at 224 on the AVX2 path 181 -> 108 ms).
  static reg broadcast(const float* p) { return _mm256_set1_ps(*p); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  // vmaxps returns its second operand where either is NaN.
  static reg max0(reg a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }
  // No mask registers: a lane mask vector drives vmaskmov (masked-off lanes are not touched).
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static reg load_first(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_first(float* p, reg v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  static void storeu(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static void prefetch_l2(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
};
#endif

#if defined(__AVX512F__)
struct Vec512 {
  using reg = __m512;
  static constexpr int width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_load_ps(p); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg max0(reg a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }
  // AVX-512 masks make the partial edge vector as cheap as a full one.
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static reg load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static void prefetch_l2(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1); }
};
#endif

}  // namespace
}  // namespace sn::cpu
