// AVX-512 SGEMM micro-kernel. Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq (only this
// file); called only when active_isa() == Isa::Avx512.
#include <immintrin.h>

#include "tensor/cpu/gemm_kernel.h"

namespace sn::cpu::gemm_detail {
namespace {

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
  // AVX-512 masks make the partial edge vector as cheap as a full one.
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  static reg load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

// Register tile 12 x 32: 12 rows x 2 zmm = 24 accumulators + 2 B vectors + 1 broadcast of the 32
// zmm registers. Per k step: 2 loads + 12 broadcasts feed 24 FMAs, i.e. 12 cycles on the two
// 512-bit FMA ports, well within the load ports' budget.
//
// Cache blocks (per core: 48 KiB L1d, 2 MiB L2 on this class of Xeon):
//  * kc = 384: the A micro-panel being reused (12 x 384 x 4 B = 18 KiB) stays in L1 next to the
//    B micro-panel streaming through (32 x 4 B per k); a longer kc would crowd L1, a shorter one
//    would re-load and re-store the C tile more often.
//  * nc = 640: the packed B block (384 x 640 x 4 B = 960 KiB) sits in half of L2, so each A
//    micro-panel sweeps it from L2 and the other half of L2 holds the C tiles and the next panels.
//  * mc = 1536: the packed A block (1536 x 384 x 4 B = 2.25 MiB) lives in L3 and is read once per
//    B block; a large mc means B is packed once for every M up to 1536.
constexpr int kMR = 12, kNR = 32;
using Kernels = MicroKernels<Vec512, kMR, kNR>;

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet set{kMR, kNR, /*mc=*/1536, /*kc=*/384, /*nc=*/640, &Kernels::run};
  return set;
}

}  // namespace sn::cpu::gemm_detail
