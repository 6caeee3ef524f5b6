// AVX2 + FMA SGEMM micro-kernel. Compiled with -mavx2 -mfma (only this file); called only when
// active_isa() == Isa::Avx2.
#include "tensor/cpu/gemm_kernel.h"
#include "tensor/cpu/simd_vec.h"

namespace sn::cpu::gemm_detail {
namespace {

// Register tile 6 x 16: 6 rows x 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm
// registers. Per k step: 2 loads + 6 broadcasts feed 12 FMAs (6 cycles on two FMA ports).
//
// Cache blocks follow the AVX-512 reasoning (gemm_avx512.cpp) for a 6 x 16 tile:
//  * kc = 512: A micro-panel 6 x 512 x 4 B = 12 KiB in L1;
//  * nc = 480 at most: the packed B block takes a quarter of L2 (gemm_loop.cpp, b_block_cols);
//  * mc = 1536: packed A block in L3, B packed once for M up to 1536.
constexpr int kMR = 6, kNR = 16;
using Kernels = MicroKernels<Vec256, kMR, kNR>;
// A last B panel of up to 4 columns with the vectors along A's rows (NarrowKernel; see
// gemm_avx512.cpp): 4 FMAs a k step per 6-row panel against 6, 2 x 4 accumulators in 16 registers.
constexpr int kNarrow = 4;
using Narrow = NarrowKernels<Vec256, kMR, kNR, kNarrow>;

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet set{kMR, kNR, /*mc=*/1536, /*kc=*/512, /*nc=*/480,
                             &Kernels::run, /*m_fold=*/0, &Narrow::run, kNarrow};
  return set;
}

}  // namespace sn::cpu::gemm_detail
