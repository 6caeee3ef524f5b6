// AVX-512 SGEMM micro-kernel. Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq (only this
// file); called only when active_isa() == Isa::Avx512.
#include "tensor/cpu/gemm_kernel.h"
#include "tensor/cpu/simd_vec.h"

namespace sn::cpu::gemm_detail {
namespace {

// Register tile 12 x 32: 12 rows x 2 zmm = 24 accumulators + 2 B vectors + 1 broadcast of the 32
// zmm registers. Per k step: 2 loads + 12 broadcasts feed 24 FMAs, i.e. 12 cycles on the two
// 512-bit FMA ports, well within the load ports' budget.
//
// Cache blocks (per core: 48 KiB L1d; L2 2 MiB on the Xeon these were first set on, 1 MiB on the
// EPYC of later sessions):
//  * kc = 512 at most (gemm_loop.h, k_block, cuts K into equal blocks): the A micro-panel being
//    reused (12 x 512 x 4 B = 24 KiB) stays in L1 next to the B micro-panel streaming through
//    (32 x 4 B per k); a shorter kc re-loads and re-stores the C tile more often. 384 before: the
//    512-channel Winograd GEMMs of VGG16 (K = 512) ran as 384 + 128, with every C tile written
//    twice. VGG16 at 224, 10 ABBA rounds (stylenet_vgg_bench --layers 1): 1 thread conv4_2 6.96 ->
//    6.69 ms, conv4_3 6.88 -> 6.59, conv5_x -0.13..-0.15 each; 2 threads 3.87 -> 3.70, 3.85 ->
//    3.60, -0.06..-0.10; stylenet_bench_gemm's BM_Sgemm shapes level.
//  * nc = 640 at most: the packed B block takes a quarter of L2 (gemm.cpp, b_block_cols: 128
//    columns on 1 MiB, 256 on 2 MiB), so each A micro-panel sweeps it from L2 and the rest of L2
//    holds the C tiles and the next panels.
//  * mc = 1536: the packed A block (1536 x 512 x 4 B = 3 MiB) lives in L3 and is read once per
//    B block; a large mc means B is packed once for every M up to 1536.
constexpr int kMR = 12, kNR = 32;
// A last A panel of one or two rows is folded into the full one before it (KernelSet::m_fold):
// 13 or 14 rows x 2 zmm = 26 or 28 accumulators, still within the 32 registers with the 2 B
// vectors and the broadcast. VGG16's conv4_x at 224 multiply 49 tiles as rows (4 x 12 + 1).
constexpr int kFold = 2;
using Kernels = MicroKernels<Vec512, kMR, kNR, kFold>;
// A last B panel of up to 8 columns (VGG16's conv3_x at 224: 196 tiles as columns, 6 x 32 + 4)
// runs with the vectors along A's rows (NarrowKernel): 2 x n accumulators for two panels, n FMAs a
// k step per panel against the 12 of a one-vector tile; at 8 columns 16 FMAs against 24. A 256 x
// 196 x 256 GEMM, 1 thread, in cache: the 4 columns past 192 cost 12.5 -> 6.5 us of ~130. VGG16
// at 224, 10 ABBA rounds: conv3_2 6.72 -> 6.40 ms, conv3_3 6.48 -> 6.15, the pass 57.5 -> 56.2 on
// 1 thread; 31.9 -> 30.8 on 2 (conv3_x -0.09..-0.17).
constexpr int kNarrow = 8;
using Narrow = NarrowKernels<Vec512, kMR, kNR, kNarrow>;

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet set{kMR, kNR, /*mc=*/1536, /*kc=*/512, /*nc=*/640,
                             &Kernels::run, kFold, &Narrow::run, kNarrow};
  return set;
}

}  // namespace sn::cpu::gemm_detail
