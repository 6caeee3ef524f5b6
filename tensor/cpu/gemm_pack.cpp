// Packing op(A) and op(B) blocks into the micro-panel layouts of gemm_internal.h.
//
// Baseline-compiled (no ISA flags): packing is a copy, bound by memory rather than by arithmetic.
// Each routine has a fast path for the layout that is contiguous along the direction it copies
// (so the inner loop is a memcpy or a unit-stride read) and a general strided fallback.
#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "tensor/cpu/gemm_internal.h"

namespace sn::cpu::gemm_detail {

namespace {

#if defined(__SSE2__)
// A whole micro-panel from `width` lines of kb values, each contiguous along k (line l starts at
// src + l * stride): value k of line l goes to dst[k * width + l]. 4x4 blocks are transposed in SSE
// registers (baseline x86-64), so both the reads (along k) and the writes (across the panel) are
// 16-byte vectors instead of one scalar store per element. width % 4 == 0.
void pack_lines_transposed(const float* src, int64_t stride, int width, int64_t kb, float* dst) {
  int64_t k = 0;
  for (; k + 4 <= kb; k += 4)
    for (int l = 0; l < width; l += 4) {
      const float* s = src + l * stride + k;
      __m128 x0 = _mm_loadu_ps(s), x1 = _mm_loadu_ps(s + stride), x2 = _mm_loadu_ps(s + 2 * stride),
             x3 = _mm_loadu_ps(s + 3 * stride);
      _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
      float* d = dst + k * width + l;
      _mm_storeu_ps(d, x0), _mm_storeu_ps(d + width, x1), _mm_storeu_ps(d + 2 * width, x2),
          _mm_storeu_ps(d + 3 * width, x3);
    }
  for (; k < kb; ++k)
    for (int l = 0; l < width; ++l) dst[k * width + l] = src[l * stride + k];
}
#endif

}  // namespace

void pack_a(Strided a, int64_t mb, int64_t kb, int mr, float* dst) {
  for (int64_t i0 = 0; i0 < mb; i0 += mr, dst += kb * mr) {
    const int m = static_cast<int>(std::min<int64_t>(mr, mb - i0));
    if (a.rs == 1) {
      // op(A) column-major (a transposed operand): each k gives m contiguous values.
      for (int64_t k = 0; k < kb; ++k) {
        const float* src = a.at(i0, k);
        float* d = dst + k * mr;
        for (int r = 0; r < m; ++r) d[r] = src[r];
        for (int r = m; r < mr; ++r) d[r] = 0.0f;
      }
    } else {
#if defined(__SSE2__)
      if (a.cs == 1 && m == mr && mr % 4 == 0) {  // row-major, whole panel: rows are the lines
        pack_lines_transposed(a.at(i0, 0), a.rs, mr, kb, dst);
        continue;
      }
#endif
      // Row-major (cs == 1) or general: read each row along k, scatter with stride mr.
      for (int r = 0; r < m; ++r) {
        const float* src = a.at(i0 + r, 0);
        float* d = dst + r;
        if (a.cs == 1)
          for (int64_t k = 0; k < kb; ++k) d[k * mr] = src[k];
        else
          for (int64_t k = 0; k < kb; ++k) d[k * mr] = src[k * a.cs];
      }
      for (int r = m; r < mr; ++r)
        for (int64_t k = 0; k < kb; ++k) dst[k * mr + r] = 0.0f;
    }
  }
}

void pack_b(Strided b, int64_t kb, int64_t nb, int nr, float* dst) {
  for (int64_t j0 = 0; j0 < nb; j0 += nr, dst += kb * nr) {
    const int n = static_cast<int>(std::min<int64_t>(nr, nb - j0));
    if (b.cs == 1) {
      // op(B) row-major: each k gives n contiguous values.
      for (int64_t k = 0; k < kb; ++k) {
        float* d = dst + k * nr;
        std::memcpy(d, b.at(k, j0), sizeof(float) * n);
        for (int j = n; j < nr; ++j) d[j] = 0.0f;
      }
    } else {
#if defined(__SSE2__)
      // Column-major (a transposed operand: convolution's backward-weights GEMM reads im2col's
      // rows this way), whole panel: columns are the lines.
      if (b.rs == 1 && n == nr && nr % 4 == 0) {
        pack_lines_transposed(b.at(0, j0), b.cs, nr, kb, dst);
        continue;
      }
#endif
      // Column-major or general: read each column along k.
      for (int j = 0; j < n; ++j) {
        const float* src = b.at(0, j0 + j);
        float* d = dst + j;
        if (b.rs == 1)
          for (int64_t k = 0; k < kb; ++k) d[k * nr] = src[k];
        else
          for (int64_t k = 0; k < kb; ++k) d[k * nr] = src[k * b.rs];
      }
      for (int j = n; j < nr; ++j)
        for (int64_t k = 0; k < kb; ++k) dst[k * nr + j] = 0.0f;
    }
  }
}

void pack_b_lines(const float* lines, int64_t kb, int n, int nr, float* dst) {
#if defined(__SSE2__)
  if (n == nr && nr % 4 == 0) return pack_lines_transposed(lines, kb, nr, kb, dst);
#endif
  for (int j = 0; j < nr; ++j)
    for (int64_t k = 0; k < kb; ++k) dst[k * nr + j] = j < n ? lines[j * kb + k] : 0.0f;
}

}  // namespace sn::cpu::gemm_detail
