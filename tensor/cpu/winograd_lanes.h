// A block's tiles as rows of pixels and as lanes (one tile per lane), and the conversions between
// them. Part of winograd_impl.h (see there for how these headers are compiled).
#pragma once
#include "tensor/cpu/winograd_tile.h"

namespace sn::cpu::winograd_detail {
namespace {

// The tiles of a block sit side by side in a row (tile l covers columns M l .. M l + M - 1),
// while the transforms want one lane per tile: converting between "row" x[M l + k] and "lanes"
// r[k][l] (rows L apart) is a transpose of L x M floats. With AVX-512: for M = 4 two 4x4
// transposes, of the floats within each 128-bit block and of the 128-bit blocks across registers
// (both are involutions, so the inverse applies them in the other order); for M = 6 two-source
// permutes (vpermt2ps) over the 96 floats, blended; otherwise plain loops.
#if defined(__AVX512F__)
inline void transpose_in_blocks(__m512& a, __m512& b, __m512& c, __m512& d) {
  const __m512 t0 = _mm512_unpacklo_ps(a, b), t1 = _mm512_unpackhi_ps(a, b), t2 = _mm512_unpacklo_ps(c, d),
               t3 = _mm512_unpackhi_ps(c, d);
  a = _mm512_shuffle_ps(t0, t2, 0x44), b = _mm512_shuffle_ps(t0, t2, 0xEE);
  c = _mm512_shuffle_ps(t1, t3, 0x44), d = _mm512_shuffle_ps(t1, t3, 0xEE);
}
inline void transpose_blocks(__m512& a, __m512& b, __m512& c, __m512& d) {
  const __m512 v0 = _mm512_shuffle_f32x4(a, b, 0x88), v1 = _mm512_shuffle_f32x4(c, d, 0x88),
               w0 = _mm512_shuffle_f32x4(a, b, 0xDD), w1 = _mm512_shuffle_f32x4(c, d, 0xDD);
  a = _mm512_shuffle_f32x4(v0, v1, 0x88), c = _mm512_shuffle_f32x4(v0, v1, 0xDD);
  b = _mm512_shuffle_f32x4(w0, w1, 0x88), d = _mm512_shuffle_f32x4(w0, w1, 0xDD);
}

// r[c] <- column c of the 16 x 16 matrix whose row j is r[j]: 4 x 4 transposes inside the 128-bit
// blocks of each four rows, then of the blocks across the rows' fours.
inline void transpose16(__m512* r) {
  for (int i = 0; i < 4; ++i) transpose_in_blocks(r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
  for (int k = 0; k < 4; ++k) transpose_blocks(r[k], r[4 + k], r[8 + k], r[12 + k]);
}

// Lane l's index into a row of tiles of side 6: 6 l.
inline __m512i six_l() { return _mm512_setr_epi32(0, 6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72, 78, 84, 90); }
#endif

#if defined(__AVX512F__)
// x[M l + k] = r[k * L + l] for k < M, l < L, as the M vectors of 16 floats x[16 q ..].
template <int M>
inline void lanes_to_vectors(const float* r, __m512* x) {
  static_assert(L == 16);
  if constexpr (M == 4) {
    __m512 a = _mm512_loadu_ps(r), b = _mm512_loadu_ps(r + L), c = _mm512_loadu_ps(r + 2 * L),
           d = _mm512_loadu_ps(r + 3 * L);
    transpose_in_blocks(a, b, c, d);
    transpose_blocks(a, b, c, d);
    x[0] = a, x[1] = b, x[2] = c, x[3] = d;
  } else {
    // Output vector q holds x[16 q + i] = r[k][l] with e = 16 q + i, l = e / 6, k = e % 6: from
    // the pair of lane-vectors (r[2j], r[2j + 1]), j = k / 2, at position 16 (k % 2) + l.
    struct Plan {
      int32_t idx[6][16];
      __mmask16 second[6], third[6];  // lanes from the pairs j = 1, 2
    };
    static constexpr Plan plan = [] {
      Plan p{};
      for (int q = 0; q < 6; ++q)
        for (int i = 0; i < 16; ++i) {
          const int e = 16 * q + i, l = e / 6, k = e % 6;
          p.idx[q][i] = 16 * (k % 2) + l;
          if (k / 2 == 1) p.second[q] = static_cast<__mmask16>(p.second[q] | (1u << i));
          if (k / 2 == 2) p.third[q] = static_cast<__mmask16>(p.third[q] | (1u << i));
        }
      return p;
    }();
    const __m512 r0 = _mm512_loadu_ps(r), r1 = _mm512_loadu_ps(r + L), r2 = _mm512_loadu_ps(r + 2 * L),
                 r3 = _mm512_loadu_ps(r + 3 * L), r4 = _mm512_loadu_ps(r + 4 * L), r5 = _mm512_loadu_ps(r + 5 * L);
    for (int q = 0; q < 6; ++q) {
      const __m512i ix = _mm512_loadu_si512(plan.idx[q]);
      __m512 v = _mm512_permutex2var_ps(r0, ix, r1);
      v = _mm512_mask_blend_ps(plan.second[q], v, _mm512_permutex2var_ps(r2, ix, r3));
      v = _mm512_mask_blend_ps(plan.third[q], v, _mm512_permutex2var_ps(r4, ix, r5));
      x[q] = v;
    }
  }
}

// dst[e - lo] = x[e] for e in [lo, hi) of the M vectors x (masked stores: no copy through memory,
// and none of the short memcpy calls a loop became).
template <int M>
inline void store_positions(const __m512* x, int64_t lo, int64_t hi, float* dst) {
  for (int64_t q = lo / 16; q < M && 16 * q < hi; ++q) {
    const int64_t a = lo - 16 * q > 0 ? lo - 16 * q : 0, b = hi - 16 * q < 16 ? hi - 16 * q : 16;
    if (b - a == 16) {
      _mm512_storeu_ps(dst + 16 * q - lo, x[q]);
      continue;
    }
    const __mmask16 mask = static_cast<__mmask16>((1u << b) - (1u << a));
    _mm512_mask_storeu_ps(dst + 16 * q - lo, mask, x[q]);  // masked-off lanes are not written
  }
}
#endif

// The lanes' values as one row: x[M l + k] = r[k * L + l] for k < M, l < L (lane l's M values
// as M consecutive floats), stored a span of positions at a time.
template <int M>
struct LaneRow {
#if defined(__AVX512F__)
  __m512 x[M];
  explicit LaneRow(const float* r) { lanes_to_vectors<M>(r, x); }
  // dst[e - lo] = x[e] for e in [lo, hi).
  void store(int64_t lo, int64_t hi, float* dst) const { store_positions<M>(x, lo, hi, dst); }
#else
  float x[M * L];
  explicit LaneRow(const float* r) {
    for (int l = 0; l < L; ++l)
      for (int k = 0; k < M; ++k) x[M * l + k] = r[k * L + l];
  }
  void store(int64_t lo, int64_t hi, float* dst) const {
    for (int64_t e = lo; e < hi; ++e) dst[e - lo] = x[e];
  }
#endif
};

#if defined(__AVX512F__)
// r[k * L + l] = x[M l + k] for k < `rows` (<= M), l < L, with x given as its M vectors of 16.
template <int M>
inline void vectors_to_lanes(const __m512* x, float* r, int rows) {
  static_assert(L == 16);
  if constexpr (M == 4) {
    __m512 a = x[0], b = x[1], c = x[2], d = x[3];
    transpose_blocks(a, b, c, d);
    transpose_in_blocks(a, b, c, d);
    _mm512_storeu_ps(r, a);
    if (rows > 1) _mm512_storeu_ps(r + L, b);
    if (rows > 2) _mm512_storeu_ps(r + 2 * L, c);
    if (rows > 3) _mm512_storeu_ps(r + 3 * L, d);
  } else {
    // r[k][l] = x[e], e = 6 l + k < 96, from the pair of 16-float vectors (2p, 2p + 1), p = e / 32
    // (vpermt2ps reads the low 5 bits of e: its position within the pair).
    for (int k = 0; k < rows; ++k) {
      const __m512i e = _mm512_add_epi32(six_l(), _mm512_set1_epi32(k));
      __m512 v = _mm512_permutex2var_ps(x[0], e, x[1]);
      v = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(32)), v, _mm512_permutex2var_ps(x[2], e, x[3]));
      v = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(64)), v, _mm512_permutex2var_ps(x[4], e, x[5]));
      _mm512_storeu_ps(r + k * L, v);
    }
  }
}
#endif

// r[k * L + l] = x[M l + k] for k < `rows` (<= M), l < L; reads x[0 .. M (L - 1) + rows - 1] only.
template <int M>
inline void row_to_lanes(const float* x, float* r, int rows) {
#if defined(__AVX512F__)
  // The last vector holds x[M L - 16 ..]; of it only up to x[M (L - 1) + rows - 1] is read.
  const __mmask16 tail = static_cast<__mmask16>((1u << (16 - M + rows)) - 1);
  __m512 v[M];
  for (int q = 0; q < M - 1; ++q) v[q] = _mm512_loadu_ps(x + 16 * q);
  v[M - 1] = _mm512_maskz_loadu_ps(tail, x + 16 * (M - 1));
  vectors_to_lanes<M>(v, r, rows);
  return;
#endif
  for (int k = 0; k < rows; ++k)
    for (int l = 0; l < L; ++l) r[k * L + l] = x[M * l + k];
}

}  // namespace
}  // namespace sn::cpu::winograd_detail
