// The per-ISA transforms of Winograd F(m x m, 3x3), m = 4 or 6 (tensor/cpu/winograd.cpp drives
// them; the loops are in winograd_impl.h, compiled once per ISA). Internal.
//
// Layouts, for a block of Tb tiles (tile t covers output rows m i .. m i + m - 1, columns
// m j .. m j + m - 1 of image n, numbered t = (n * tiles_h + i) * tiles_w + j) and the a^2
// positions xi of the a x a transform (a = m + 2: 36 for F(4x4), 64 for F(6x6)):
//   U[xi][o][c]       transformed weights  (G g G^T),   a^2 x O x C
//   V[xi][c][tb]      transformed input    (B^T d B),   a^2 x C x Tb
//   M[xi][o][tb]      products             U[xi] V[xi], a^2 x O x Tb
// and for the weight gradient (F(4x4)): dM[xi][o][tb] = A dY A^T of the output gradient's tiles and
// dU[xi] (O x C) = dM[xi] V[xi]^T summed over the blocks, dw = G^T dU G.
// so each xi is one ordinary GEMM  M[xi] (O x Tb) = U[xi] (O x C) * V[xi] (C x Tb).
// V[xi] is written in the layout the GEMM multiplies (PackedBLayout: a row-major one where V is
// also read transposed, or another backend runs), M[xi] and dM[xi] row-major; the a^2 matrices of
// each lie position_stride apart. With the tiles as the GEMMs' rows (few tiles, many channels:
// winograd.cpp) the same products are M^T[xi] (Tb x O, row-major) = V^T[xi] (Tb x C, our SGEMM's
// packed A layout) U^T[xi] (C x O, its packed B layout, which is U[xi]'s packed A layout with
// panels of nr rows, so the weight transform writes it unchanged).
#pragma once
#include <cstdint>

#include "tensor/cpu/gemm.h"

namespace sn::cpu::winograd_detail {

// Floats from one position's matrix of V, M or dM (P x tb, in layout l) to the next: one cache line
// more than it holds. A transform reads or writes one lane group at all a^2 positions in a row, and
// P x tb floats are a multiple of 4 KiB for most blocks (tb = 64, P = 64: 16 KiB), which put all 64
// (36) accesses in one set of the 12-way L1: each store waited for a line evicted by the one
// before. With the extra line they fall in consecutive sets: VGG16's conv1_2 at 224, 1 thread,
// 15.9 -> 12.8 ms (stylenet_vgg_bench --layers 1, medians of 5 alternating runs).
inline int64_t position_stride(const PackedBLayout& l) { return static_cast<int64_t>(l.floats()) + 16; }
// The P x tb row-major layout.
inline PackedBLayout row_major(int64_t P, int64_t tb) { return {P, tb, 0, 0, 0}; }

struct TileGeometry {
  int64_t C, H, W;          // input planes of one image
  int64_t O, OH, OW;        // output planes of one image
  int64_t ph, pw;           // zero padding
  int64_t tiles_h, tiles_w; // ceil(OH / m), ceil(OW / m)
};

struct WinogradKernels {
  // U for output channels [o0, o1): w [O, C, 3, 3]. Each U[xi] (O x C) is written in `ul`'s
  // layout (the GEMM's packed A, or row-major), ul.floats() apart.
  void (*weights)(const float* w, int64_t O, int64_t C, int64_t o0, int64_t o1, const PackedALayout& ul, float* U);
  // V (layout vl: C x tb) for channels [c0, c1) and tiles [t0, t0 + tb) of the block; x is the
  // whole batch. In a packed layout the columns from tb to tb rounded up to 16 are zero (what the
  // GEMM reads of the last panel's padding; see PackedBLayout). past_cache (packed vl only): V is
  // written with non-temporal stores, for a V that several threads read (winograd.cpp).
  void (*input)(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
                const PackedBLayout& vl, float* V, bool past_cache);
  // y for output channels [o0, o1) and the block's tiles, from M; adds bias (may be null) and
  // applies ReLU when asked. y is the whole batch. pool (with relu only): y is the 2 x 2 max-pool
  // of that, [N, O, OH / 2, OW / 2] (max_pool2d's floor), and the unpooled map is never written.
  void (*output)(const TileGeometry& g, const float* M, int64_t o0, int64_t o1, int64_t t0, int64_t tb,
                 const float* bias, bool relu, bool pool, float* y);
  // Backward weights (F(4x4) only; null for F(6x6)). dM[xi][o][tb] = (A dY A^T)[xi] for output
  // channels [o0, o1) and the block's tiles, from dy (whole batch; `g` describes dy as the input
  // of a convolution: C = O, H = OH, W = OW, no padding).
  void (*output_grad)(const TileGeometry& g, const float* dy, int64_t o0, int64_t o1, int64_t t0, int64_t tb,
                      float* dM);
  // dw [O, C, 3, 3] for output channels [o0, o1) from dU[xi][O][C] (row-major): G^T dU G.
  void (*weight_grad)(const float* dU, int64_t O, int64_t C, int64_t o0, int64_t o1, float* dw);

  // The tiles as the GEMMs' rows (M^T[xi] = V^T[xi] U^T[xi], see winograd.cpp): V^T (tiles x C in
  // the packed A layout vl, whose mr > 0; each V^T[xi] vs apart) for channels [c0, c1), its rows
  // from tb to vl.m_padded zero as far as the last lane group reaches (the caller zeroes the rest),
  // and y for output channels [o0, o1) from M^T[xi] (tb x O row-major, ms apart). past_cache: as
  // input's, where the layout allows whole cache lines (F(4x4), runs of 4 planes), else ignored.
  void (*input_rows)(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
                     const PackedALayout& vl, int64_t vs, float* V, bool past_cache);
  void (*output_rows)(const TileGeometry& g, const float* MT, int64_t ms, int64_t o0, int64_t o1, int64_t t0,
                      int64_t tb, const float* bias, bool relu, bool pool, float* y);
};

// The kernels of F(m x m, 3x3), m = 4 or 6.
const WinogradKernels& winograd_avx2(int m);
const WinogradKernels& winograd_avx512(int m);
// Those of the active ISA (AVX-512, else AVX2; the caller makes sure the ISA is not Ref).
const WinogradKernels& winograd_active(int m);

}  // namespace sn::cpu::winograd_detail
