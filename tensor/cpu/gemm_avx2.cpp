// AVX2 + FMA SGEMM micro-kernel. Compiled with -mavx2 -mfma (only this file); called only when
// active_isa() == Isa::Avx2.
#include <immintrin.h>

#include "tensor/cpu/gemm_kernel.h"

namespace sn::cpu::gemm_detail {
namespace {

struct Vec256 {
  using reg = __m256;
  static constexpr int width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_load_ps(p); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  // No mask registers: a lane mask vector drives vmaskmov (masked-off lanes are not touched).
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static reg load_first(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_first(float* p, reg v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  static void storeu(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

// Register tile 6 x 16: 6 rows x 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm
// registers. Per k step: 2 loads + 6 broadcasts feed 12 FMAs (6 cycles on two FMA ports).
//
// Cache blocks follow the AVX-512 reasoning (gemm_avx512.cpp) for a 6 x 16 tile:
//  * kc = 512: A micro-panel 6 x 512 x 4 B = 12 KiB in L1;
//  * nc = 480: packed B block 512 x 480 x 4 B = 960 KiB, half of L2;
//  * mc = 1536: packed A block in L3, B packed once for M up to 1536.
constexpr int kMR = 6, kNR = 16;
using Kernels = MicroKernels<Vec256, kMR, kNR>;

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet set{kMR, kNR, /*mc=*/1536, /*kc=*/512, /*nc=*/480, &Kernels::run};
  return set;
}

}  // namespace sn::cpu::gemm_detail
