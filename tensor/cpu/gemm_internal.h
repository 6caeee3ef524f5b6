// Pieces of the SGEMM shared between the driver (gemm.cpp, gemm_loop.cpp), the packing routines
// (gemm_pack.cpp) and the per-ISA micro-kernels (gemm_avx2.cpp, gemm_avx512.cpp). Not part of the
// public API.
#pragma once
#include <cstdint>

namespace sn::cpu::gemm_detail {

// Packed layouts (Goto/BLIS):
//  * an A micro-panel holds MR rows of op(A) for kc values of k, k-major: a[k * MR + r];
//  * a B micro-panel holds NR columns of op(B) for kc values of k, k-major: b[k * NR + j].
// Rows/columns past the matrix edge are zero, so a micro-kernel never needs a bounds check on its
// inputs; only its write-back to C is limited to the valid m x n corner.
//
// The micro-kernel: C[m x n] (row-major, ldc) = alpha * (a-panel * b-panel) + beta * C, for
// 1 <= m <= MR (+ m_fold, below) and 1 <= n <= NR. beta == 0 does not read C. A tile wider than
// one vector also asks for the line at `pf` into L2 on each k step, pf advancing a line a step
// (kc lines in all), unless pf is null: the driver hands it the next B block to fetch while this
// one is read from L2 (gemm_loop.cpp, NextBlock), or else the next A micro-panel. With `a_streams` (the
// driver's call: A's micro-panels each serve a tile or two and come from beyond L2) it also asks
// for A a fixed distance ahead, as a one-vector tile always does.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             float alpha, float beta, int m, int n, const float* pf, bool a_streams);
// pf's step: the floats of one 64-byte cache line.
constexpr int64_t kLineFloats = 64 / sizeof(float);

// The narrow kernel: C[m x n] = alpha * (a-panels * b-panel) + beta * C for a last B micro-panel of
// n <= KernelSet::narrow_max columns and the m <= 2 mr rows of one or two consecutive A
// micro-panels (the second at a + mr * kc), with the vectors along A's rows: n FMAs a k step for
// each panel where the tile of one vector along N spends mr FMAs on a vector mostly of padding.
// Each element is summed in the same order as by the micro-kernel: the same bits.
using NarrowKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                              float beta, int m, int n);

struct KernelSet {
  int mr, nr;              // register tile
  int64_t mc, kc, nc;      // cache blocks (see the rationale next to each ISA's values)
  MicroKernel kernel;
  // The kernel also takes m up to mr + m_fold: a block's last A micro-panel of at most m_fold rows
  // is folded into the full one before it (read from where it is packed), so those rows do not
  // sweep the B block a second time for a handful of FMAs per load.
  int m_fold = 0;
  NarrowKernel narrow = nullptr;  // for a last B panel of at most narrow_max columns, if any
  int narrow_max = 0;
};

const KernelSet& avx2_kernels();
const KernelSet& avx512_kernels();

// Element (i, j) of a strided operand is p[i * rs + j * cs]. A transposed BLAS operand is just the
// same memory with rs and cs swapped.
struct Strided {
  const float* p;
  int64_t rs, cs;
  const float* at(int64_t i, int64_t j) const { return p + i * rs + j * cs; }
};

// Packs the mb x kb block of A starting at `a` into ceil(mb / mr) A micro-panels at dst.
void pack_a(Strided a, int64_t mb, int64_t kb, int mr, float* dst);
// Packs the kb x nb block of B starting at `b` into ceil(nb / nr) B micro-panels at dst.
void pack_b(Strided b, int64_t kb, int64_t nb, int nr, float* dst);
// One B micro-panel from n <= nr columns of kb values each, column l at lines + l * kb (the rest of
// the panel zero): the same bytes pack_b writes for those columns.
void pack_b_lines(const float* lines, int64_t kb, int n, int nr, float* dst);

}  // namespace sn::cpu::gemm_detail
