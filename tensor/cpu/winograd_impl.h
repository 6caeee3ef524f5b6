// Winograd F(4x4, 3x3) and F(6x6, 3x3) transforms, written as loops over L independent lanes
// (tiles, or (o, c) weight pairs) so the compiler turns every line into one vector operation.
// Included only by winograd_avx2.cpp / winograd_avx512.cpp, each compiled with its ISA's flags;
// everything is in an anonymous namespace (internal linkage, so the linker cannot mix the copies)
// and calls no inline library templates.
//
// y = A^T [ (G g G^T) .* (B^T d B) ] A for an a x a input tile d (a = m + 2) and 3x3 kernel g
// gives an m x m output. F(4x4, 3x3) (Lavin & Gray 2015, points 0, +-1, +-2, inf):
//
//        | 4  0 -5  0  1  0 |          | 1/4    0    0  |          | 1  1  1  1  1  0 |
//        | 0 -4 -4  1  1  0 |          | -1/6 -1/6 -1/6 |   A^T =  | 0  1 -1  2 -2  0 |
//  B^T = | 0  4 -4 -1  1  0 |    G =   | -1/6  1/6 -1/6 |          | 0  1  1  4  4  0 |
//        | 0 -2 -1  2  1  0 |          | 1/24 1/12  1/6 |          | 0  1 -1  8 -8  1 |
//        | 0  2 -1 -2  1  0 |          | 1/24 -1/12 1/6 |
//        | 0  4  0 -5  0  1 |          |  0     0    1  |
//
// F(6x6, 3x3) (points 0, +-1, +-2, +-1/2, inf; the matrices ncnn and NNPACK use):
//
//        | 1  0    -21/4  0     21/4   0    -1  0 |        | 1      0      0     |
//        | 0  1     1    -17/4 -17/4   1     1  0 |        | -2/9  -2/9   -2/9   |
//        | 0 -1     1     17/4 -17/4  -1     1  0 |        | -2/9   2/9   -2/9   |
//  B^T = | 0  1/2   1/4  -5/2  -5/4    2     1  0 |   G =  | 1/90   1/45   2/45  |
//        | 0 -1/2   1/4   5/2  -5/4   -2     1  0 |        | 1/90  -1/45   2/45  |
//        | 0  2     4    -5/2  -5      1/2   1  0 |        | 1/45   1/90   1/180 |
//        | 0 -2     4     5/2  -5     -1/2   1  0 |        | 1/45  -1/90   1/180 |
//        | 0 -1     0     21/4  0    -21/4   0  1 |        | 0      0      1     |
//
//        | 1  1  1  1   1  32  32  0 |
//        | 0  1 -1  2  -2  16 -16  0 |
//  A^T = | 0  1  1  4   4   8   8  0 |
//        | 0  1 -1  8  -8   4  -4  0 |
//        | 0  1  1 16  16   2   2  0 |
//        | 0  1 -1 32 -32   1  -1  1 |
//
// Each matrix was checked against a direct correlation in float64 (error 3e-14); in float32 over
// 256 channels F(6x6) rounds about twice as much as F(4x4) (7e-6 against 4e-6 of the output's scale).
#pragma once
#include <cstdint>
// AVX-512 or AVX2, by the including file's flags. GCC 12's AVX-512 intrinsics pass an undefined
// vector (a self-initialised variable) to their masked builtins, which -Wmaybe-uninitialized reports
// wherever the inlining around them changes (GCC bug 105593, mended in GCC 13): silenced for the
// intrinsics' own lines, where those warnings are located, and nowhere else.
#if defined(__GNUC__) && !defined(__clang__)  // (clang has no such warning, and warns about the name)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "tensor/cpu/winograd_kernels.h"

namespace sn::cpu::winograd_detail {
namespace {

constexpr int L = 16;  // lanes per step: one AVX-512 vector, two AVX2 vectors

// Every caller's output rows (stride os) are at least L floats apart, so the lanes of one row never
// overlap another's; GCC cannot see that for a runtime stride and left the transform that writes
// straight into V scalar (half the input transform's time in a training step) without this.
#define SN_LANES_INDEPENDENT _Pragma("GCC ivdep")

// Epilogues of the output transform's last pass (Tile<M>::at), applied to each value as it is
// written: none, or the bias (one value, or one per lane) and then ReLU if asked. Fused there, the
// bias and ReLU cost no pass of their own over the tile (as two loops over it they took 13 % of
// the F(6x6) output transform's time with M in L2).
// (They differ only in where the bias comes from: a common form with a runtime stride for b made
// the lane loop a gather.)
struct Keep {
  float operator()(float v, int) const { return v; }
};
template <bool Relu>
inline float relu_if(float x) {
  return Relu ? (x > 0.0f ? x : 0.0f) : x;
}
template <bool Relu>
struct AddBias {
  float b;
  float operator()(float v, int) const { return relu_if<Relu>(v + b); }
};
template <bool Relu>
struct AddLaneBias {
  const float* b;
  float operator()(float v, int l) const { return relu_if<Relu>(v + b[l]); }
};

template <int M>
struct Tile;  // the transforms of F(M x M, 3 x 3), each over L lanes

template <>
struct Tile<4> {
  static constexpr int A = 6;  // input tile side
  // out[r][.] = B^T z for six lane-vectors z[0..5] (strided by zs), written with stride os.
  static void bt(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                  z5 = z[5 * zs + l];
      out[l] = 4 * z0 - 5 * z2 + z4;
      out[os + l] = -4 * z1 - 4 * z2 + z3 + z4;
      out[2 * os + l] = 4 * z1 - 4 * z2 - z3 + z4;
      out[3 * os + l] = -2 * z1 - z2 + 2 * z3 + z4;
      out[4 * os + l] = 2 * z1 - z2 - 2 * z3 + z4;
      out[5 * os + l] = 4 * z1 - 5 * z3 + z5;
    }
  }
  // out[0..5] = G z for three lane-vectors z.
  static void g(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l];
      out[l] = z0 * 0.25f;
      out[os + l] = (z0 + z1 + z2) * (-1.0f / 6);
      out[2 * os + l] = (z0 - z1 + z2) * (-1.0f / 6);
      out[3 * os + l] = z0 * (1.0f / 24) + z1 * (1.0f / 12) + z2 * (1.0f / 6);
      out[4 * os + l] = z0 * (1.0f / 24) - z1 * (1.0f / 12) + z2 * (1.0f / 6);
      out[5 * os + l] = z2;
    }
  }
  // Backward weights only (F(4x4)): out[0..5] = A z for four lane-vectors z (A = (A^T)^T), and
  // out[0..2] = G^T z for six.
  static void a(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l];
      const float p02 = z0 + z2, p13 = z1 + z3, q02 = z0 + 4 * z2, q13 = 2 * z1 + 8 * z3;
      out[l] = z0;
      out[os + l] = p02 + p13;
      out[2 * os + l] = p02 - p13;
      out[3 * os + l] = q02 + q13;
      out[4 * os + l] = q02 - q13;
      out[5 * os + l] = z3;
    }
  }
  static void gt(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                  z5 = z[5 * zs + l];
      const float p12 = z1 + z2, m12 = z2 - z1, p34 = z3 + z4, m34 = z3 - z4;
      out[l] = z0 * 0.25f - p12 * (1.0f / 6) + p34 * (1.0f / 24);
      out[os + l] = m12 * (1.0f / 6) + m34 * (1.0f / 12);
      out[2 * os + l] = (p34 - p12) * (1.0f / 6) + z5;
    }
  }
  // out[0..3] = e(A^T z, lane) for six lane-vectors z (e: an epilogue, see Keep).
  template <class E = Keep>
  static void at(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os, E e = {}) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                  z5 = z[5 * zs + l];
      const float p12 = z1 + z2, m12 = z1 - z2, p34 = z3 + z4, m34 = z3 - z4;
      out[l] = e(z0 + p12 + p34, l);
      out[os + l] = e(m12 + 2 * m34, l);
      out[2 * os + l] = e(p12 + 4 * p34, l);
      out[3 * os + l] = e(m12 + 8 * m34 + z5, l);
    }
  }
};

template <>
struct Tile<6> {
  static constexpr int A = 8;
  // B^T z, with the symmetric pairs of rows (1, 2), (3, 4), (5, 6) as a +- b.
  static void bt(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                  z5 = z[5 * zs + l], z6 = z[6 * zs + l], z7 = z[7 * zs + l];
      out[l] = (z0 - z6) + 5.25f * (z4 - z2);
      out[7 * os + l] = (z7 - z1) + 5.25f * (z3 - z5);
      const float a1 = z2 + z6 - 4.25f * z4, b1 = z1 + z5 - 4.25f * z3;
      out[os + l] = a1 + b1;
      out[2 * os + l] = a1 - b1;
      const float a2 = 0.25f * z2 - 1.25f * z4 + z6, b2 = 0.5f * z1 - 2.5f * z3 + 2 * z5;
      out[3 * os + l] = a2 + b2;
      out[4 * os + l] = a2 - b2;
      const float a3 = 4 * z2 - 5 * z4 + z6, b3 = 2 * z1 - 2.5f * z3 + 0.5f * z5;
      out[5 * os + l] = a3 + b3;
      out[6 * os + l] = a3 - b3;
    }
  }
  static void g(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l];
      out[l] = z0;
      out[os + l] = (z0 + z1 + z2) * (-2.0f / 9);
      out[2 * os + l] = (z0 - z1 + z2) * (-2.0f / 9);
      out[3 * os + l] = z0 * (1.0f / 90) + z1 * (1.0f / 45) + z2 * (2.0f / 45);
      out[4 * os + l] = z0 * (1.0f / 90) - z1 * (1.0f / 45) + z2 * (2.0f / 45);
      out[5 * os + l] = z0 * (1.0f / 45) + z1 * (1.0f / 90) + z2 * (1.0f / 180);
      out[6 * os + l] = z0 * (1.0f / 45) - z1 * (1.0f / 90) + z2 * (1.0f / 180);
      out[7 * os + l] = z2;
    }
  }
  template <class E = Keep>
  static void at(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os, E e = {}) {
    SN_LANES_INDEPENDENT
    for (int l = 0; l < L; ++l) {
      const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                  z5 = z[5 * zs + l], z6 = z[6 * zs + l], z7 = z[7 * zs + l];
      const float p12 = z1 + z2, m12 = z1 - z2, p34 = z3 + z4, m34 = z3 - z4, p56 = z5 + z6, m56 = z5 - z6;
      out[l] = e(z0 + p12 + p34 + 32 * p56, l);
      out[os + l] = e(m12 + 2 * m34 + 16 * m56, l);
      out[2 * os + l] = e(p12 + 4 * p34 + 8 * p56, l);
      out[3 * os + l] = e(m12 + 8 * m34 + 4 * m56, l);
      out[4 * os + l] = e(p12 + 16 * p34 + 2 * p56, l);
      out[5 * os + l] = e(m12 + 32 * m34 + m56 + z7, l);
    }
  }
};

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

// U is written a run of rows (o) of one GEMM panel at a time: in the packed layout those rows are
// contiguous for each c, so each (xi, c) is one short contiguous store instead of one scattered
// store per (o, xi, c) (a frozen layer's first use, or any call of a trainable one, transforms
// all of U: on VGG16's 512-channel layers the scattered stores made it 3x the GEMMs' time).
template <int M>
void weights(const float* w, int64_t O, int64_t C, int64_t o0, int64_t o1, const PackedALayout& ul, float* U) {
  constexpr int A = Tile<M>::A;
  constexpr int64_t kMaxRun = 16;  // rows per run: a whole panel of every kernel set (mr <= 16)
  alignas(64) float g[9][L], t[A][3][L];
  alignas(64) float u[kMaxRun][A * A][L];  // per row of the run: u[.][A r + s] = (G g G^T)[r][s]
  const int64_t ux = static_cast<int64_t>(ul.floats());
  int64_t at[L];  // where (run's first row, c0 + l) goes in each U[xi]
  for (int64_t r0 = o0; r0 < o1;) {
    const int64_t panel_end = ul.mr ? (r0 / ul.mr + 1) * ul.mr : r0 + 1;  // row-major: one row a run
    int64_t r1 = panel_end < o1 ? panel_end : o1;
    r1 = r1 < r0 + kMaxRun ? r1 : r0 + kMaxRun;
    for (int64_t c0 = 0; c0 < C; c0 += L) {
      const int n = static_cast<int>(C - c0 < L ? C - c0 : L);
      for (int64_t o = r0; o < r1; ++o) {
        const float* src = w + (o * C + c0) * 9;
        for (int k = 0; k < 9; ++k)
          for (int l = 0; l < L; ++l) g[k][l] = l < n ? src[l * 9 + k] : 0.0f;
        for (int col = 0; col < 3; ++col) Tile<M>::g(&g[col][0], 3 * L, &t[0][col][0], 3 * L);  // G g
        for (int r = 0; r < A; ++r) Tile<M>::g(&t[r][0][0], L, &u[o - r0][A * r][0], L);         // (G g) G^T
      }
      for (int l = 0; l < n; ++l) at[l] = ul.offset(r0, c0 + l);
      const int rows = static_cast<int>(r1 - r0);
#if defined(__AVX512F__)
      // Each (xi, l) as a column of the run's rows x 16 lanes: transposed in registers, one masked
      // store each (the scalar copy was 36 moves per weight, as long as the transform itself).
      static_assert(kMaxRun == L);
      const __mmask16 run = static_cast<__mmask16>((1u << rows) - 1);
      for (int xi = 0; xi < A * A; ++xi) {
        __m512 col[L];
        for (int r = 0; r < L; ++r) col[r] = r < rows ? _mm512_load_ps(&u[r][xi][0]) : _mm512_setzero_ps();
        transpose16(col);
        for (int l = 0; l < n; ++l) _mm512_mask_storeu_ps(U + xi * ux + at[l], run, col[l]);
      }
#else
      for (int xi = 0; xi < A * A; ++xi)
        for (int l = 0; l < n; ++l) {
          float* dst = U + xi * ux + at[l];
          for (int r = 0; r < rows; ++r) dst[r] = u[r][xi][l];
        }
#endif
    }
    r0 = r1;
  }
}

// A lane group's tiles as runs within one tile row of one image ("segments"): a group of L
// consecutive tiles spans several rows when a row has fewer than L tiles left (always, for maps
// under 16 M pixels wide), and each run is contiguous in the image.
struct Segment {
  int64_t n, i, j;  // image, tile row, first tile column
  int lane, count;  // first lane, tiles
};
inline int segments(const TileGeometry& g, int64_t tile0, int n_lanes, Segment* out) {
  const int64_t per_image = g.tiles_h * g.tiles_w;
  int k = 0;
  for (int l = 0; l < n_lanes;) {
    const int64_t tile = tile0 + l, j = tile % g.tiles_w;
    const int count = static_cast<int>(g.tiles_w - j < n_lanes - l ? g.tiles_w - j : n_lanes - l);
    out[k++] = {tile / per_image, (tile % per_image) / g.tiles_w, j, l, count};
    l += count;
  }
  return k;
}

#if !defined(__AVX512F__)
// dst[0 .. count) = row[col .. col + count), zero where col + x is outside [0, width); row null: zeros.
inline void copy_clipped(const float* row, int64_t col, int64_t width, int64_t count, float* dst) {
  const int64_t lo = col < 0 ? -col : 0, hi = col + count > width ? width - col : count;
  if (!row || hi <= lo) {
    for (int64_t x = 0; x < count; ++x) dst[x] = 0.0f;
    return;
  }
  for (int64_t x = 0; x < lo; ++x) dst[x] = 0.0f;
  for (int64_t x = lo; x < hi; ++x) dst[x] = row[col + x];
  for (int64_t x = hi; x < count; ++x) dst[x] = 0.0f;
}

// Lane l's a x a input patch for the tiles [tile0, tile0 + n_lanes) of plane c, zero outside the
// input (and for lanes past n_lanes). Each patch row is laid out as a "row" of the group (see
// row_to_lanes): lane l's columns 0 .. M - 1 at M l .. M l + M - 1 of one buffer, and its columns
// M, M + 1 at M l, M l + 1 of a second (consecutive tiles' patches overlap by two columns, which
// one buffer could not hold where a run ends); within a run both are plain copies of the input
// row, clipped at its edges.
template <int M>
void gather_patches(const TileGeometry& g, const float* x, int64_t c, int64_t tile0, int n_lanes, float* d) {
  constexpr int A = Tile<M>::A;
  Segment seg[L];
  const int runs = segments(g, tile0, n_lanes, seg);
  alignas(64) float first[M * L + 16], last[M * L + 16];
  for (int a = 0; a < A; ++a) {
    for (int k = 0; k < runs; ++k) {
      const Segment& r = seg[k];
      const int64_t ih = M * r.i - g.ph + a, col = M * r.j - g.pw;
      const float* row = ih >= 0 && ih < g.H ? x + ((r.n * g.C + c) * g.H + ih) * g.W : nullptr;
      copy_clipped(row, col, g.W, M * r.count, first + M * r.lane);
      copy_clipped(row, col + M, g.W, M * r.count, last + M * r.lane);
    }
    for (int64_t p = M * n_lanes; p < M * L + 16; ++p) first[p] = last[p] = 0.0f;
    row_to_lanes<M>(first, d + a * A * L, M);
    row_to_lanes<M>(last, d + (a * A + M) * L, 2);
  }
}

// Lane l's patches as gather_patches writes them; read straight from the input where all L tiles
// lie in one tile row of one image and entirely inside the input (row a of lane l's patch is input
// row r0 + a from column M (j0 + l) - pw on).
template <int M>
void gather_or_read_patches(const TileGeometry& g, const float* x, int64_t c, int64_t tile, int n_lanes, float* d) {
  constexpr int A = Tile<M>::A;
  const int64_t per_image = g.tiles_h * g.tiles_w;
  const int64_t n = tile / per_image, i = (tile % per_image) / g.tiles_w, j0 = tile % g.tiles_w;
  const int64_t r0 = M * i - g.ph, s0 = M * j0 - g.pw;
  if (n_lanes < L || j0 + L > g.tiles_w || r0 < 0 || s0 < 0 || r0 + A > g.H || s0 + M * (L - 1) + A > g.W)
    return gather_patches<M>(g, x, c, tile, n_lanes, d);
  const float* base = x + ((n * g.C + c) * g.H + r0) * g.W + s0;
  for (int a = 0; a < A; ++a) {
    row_to_lanes<M>(base + a * g.W, d + a * A * L, M);          // columns M l .. M l + M - 1
    row_to_lanes<M>(base + a * g.W + M, d + (a * A + M) * L, 2);  // columns M l + M, M l + M + 1
  }
}

#else
// The same patches gathered with masked loads straight from the input rows, no buffer between
// (gather_patches' copies then vector loads stalled on store forwarding: with memmove, a quarter of
// a training step's input transform). The masks depend only on the tile group, so they are worked
// out once (PatchPlan) for all channels: row "first" of a run's lanes is the run's input row from
// its first column, masked to the run's lanes and the input's columns; rows above or below the
// input stay zero. A patch's last two columns are the next lane's first two within a run, so they
// are the lane vectors of columns 0 and 1 shifted down by one lane, and only each run's last lane
// reads its two columns from the input (they were M more masked loads and two more lane
// transposes per patch row). VGG16 at 224 (stylenet_vgg_bench --layers 1, 10 ABBA rounds): conv1_2
// 7.43 -> 7.23 ms, conv2_1 3.40 -> 3.30, conv2_2 5.52 -> 5.40 on 1 thread; 4.52 -> 4.29, 2.46 ->
// 2.35, 3.59 -> 3.40 and conv3_1 2.41 -> 2.26 on 2.
template <int M>
struct PatchPlan {
  struct Run {
    int64_t n, row0, shift;  // image, input row of patch row 0, column of position 0 of "first"
    int64_t after;           // the input column after the run's last tile (its lane's column M)
    int last_lane;
    __mmask16 first[M];
  };
  Run runs[L];
  int count;

  // Plans the tiles [tile0, tile0 + n_lanes). (No constructor: an array of plans costs nothing.)
  void make(const TileGeometry& g, int64_t tile0, int n_lanes) {
    Segment seg[L];
    count = segments(g, tile0, n_lanes, seg);
    for (int k = 0; k < count; ++k) {
      const Segment& r = seg[k];
      const int64_t col = M * r.j - g.pw, lo = M * r.lane, hi = M * (r.lane + r.count);
      runs[k].n = r.n;
      runs[k].row0 = M * r.i - g.ph;
      runs[k].shift = col - lo;  // position e of "first" is input column shift + e
      runs[k].after = col + M * r.count;
      runs[k].last_lane = r.lane + r.count - 1;
      // The run's lanes, and of them the positions whose input column is in [0, W).
      masks(lo, hi, -runs[k].shift, g.W - runs[k].shift, runs[k].first);
    }
  }
  // Positions [lo, hi) and [from, to) of the M L of a row, as M masks of 16 (no std::clamp: see
  // the top of this file).
  static void masks(int64_t lo, int64_t hi, int64_t from, int64_t to, __mmask16* out) {
    if (from > lo) lo = from;
    if (to < hi) hi = to;
    for (int q = 0; q < M; ++q) {
      int64_t a = lo - 16 * q, b = hi - 16 * q;
      a = a < 0 ? 0 : a > 16 ? 16 : a;
      b = b < 0 ? 0 : b > 16 ? 16 : b;
      out[q] = static_cast<__mmask16>(b > a ? (1u << b) - (1u << a) : 0u);
    }
  }
  // Row a of plane c's patches as gather_patches writes them (d[a][..][..]).
  void gather_row(const TileGeometry& g, const float* x, int64_t c, int a, float* d) const {
    constexpr int A = Tile<M>::A;
    __m512 first[M];
    for (int q = 0; q < M; ++q) first[q] = _mm512_setzero_ps();
    float end0[L], end1[L];  // each run's two columns after it, zero outside the input
    for (int k = 0; k < count; ++k) {
      const Run& r = runs[k];
      const int64_t ih = r.row0 + a;
      end0[k] = end1[k] = 0.0f;
      if (ih < 0 || ih >= g.H) continue;
      const float* row = x + ((r.n * g.C + c) * g.H + ih) * g.W;
      // Masked-off positions are not read, so the base may lie outside the row.
      for (int q = 0; q < M; ++q) first[q] = _mm512_mask_loadu_ps(first[q], r.first[q], row + r.shift + 16 * q);
      if (r.after >= 0 && r.after < g.W) end0[k] = row[r.after];
      if (r.after + 1 >= 0 && r.after + 1 < g.W) end1[k] = row[r.after + 1];
    }
    float* rows = d + a * A * L;
    vectors_to_lanes<M>(first, rows, M);
    // Columns M and M + 1: columns 0 and 1 one lane down (lane 15 and the lanes past the group's
    // tiles get zeros), each run's last lane from the input.
    const __m512i zero = _mm512_setzero_si512();
    __m512 c0 = _mm512_castsi512_ps(_mm512_alignr_epi32(zero, _mm512_castps_si512(_mm512_loadu_ps(rows)), 1));
    __m512 c1 = _mm512_castsi512_ps(_mm512_alignr_epi32(zero, _mm512_castps_si512(_mm512_loadu_ps(rows + L)), 1));
    for (int k = 0; k < count; ++k) {
      const __mmask16 lane = static_cast<__mmask16>(1u << runs[k].last_lane);
      c0 = _mm512_mask_mov_ps(c0, lane, _mm512_set1_ps(end0[k]));
      c1 = _mm512_mask_mov_ps(c1, lane, _mm512_set1_ps(end1[k]));
    }
    _mm512_storeu_ps(rows + M * L, c0);
    _mm512_storeu_ps(rows + (M + 1) * L, c1);
  }
};
#endif

// One cache line into L1, as an asm statement: GCC (12, -O2 and up) judged a function whose only
// effect is __builtin_prefetch free of side effects and deleted every call to it, so the
// prefetch_rows written with it compiled to nothing (from a37065d until it was found in the
// disassembly; the gain measured for that commit was code placement, not prefetching).
inline void prefetch_l1(const char* p) { asm volatile("prefetcht0 %0" : : "m"(*p)); }
// The same for a line about to be written (prefetchw: fetched ready to be modified).
inline void prefetch_for_write(const char* p) { asm volatile("prefetchw %0" : : "m"(*p)); }
// A block's V, M or M^T of more floats than this (2 MiB) is read or written from beyond L2, in more
// streams (one per position) than the hardware prefetch follows: input(), output() and
// output_rows() ask for its lines a step ahead.
constexpr int64_t kStreamedFloats = 512 << 10;

// Asks for the input rows that the tiles [ta, tb) read of plane c (a row shared by two tile rows
// once), whole rows into L1. The transforms gather a plane's patches a row at a time, and each
// plane is a jump of H W floats from the last, which the hardware prefetch does not foresee: the
// input, just written by the layer before and larger than L2, came from memory a line at a time
// (perf put half of the F(6x6) gather's samples on the first masked load of each row).
// VGG16 at 224, AVX-512 (stylenet_vgg_bench --layers 1, 6 ABBA rounds, 1 thread, twice): conv1_2
// 8.23 -> 7.71 and 8.67 -> 7.82 ms, conv2_1 4.01 -> 3.73, conv2_2 6.42 -> 5.82, the pass 63.5 ->
// 60.8. Asking for each group of four lane groups' rows separately, or into L2 (prefetcht1), or
// for the plane's next rows instead of the next plane's, measured the same or slower. The AVX2
// path (STYLENET_ISA=avx2, 4 rounds): conv1_2 23.6 -> 21.4 ms, the pass 175 -> 172.
template <int M>
void prefetch_rows(const TileGeometry& g, const float* x, int64_t c, int64_t ta, int64_t tb) {
  constexpr int A = Tile<M>::A;
  const int64_t per_image = g.tiles_h * g.tiles_w, row_bytes = g.W * int64_t{sizeof(float)};
  int64_t done_n = -1, done_row = -1;  // the last row asked for
  for (int64_t t = ta; t < tb; t = (t / g.tiles_w + 1) * g.tiles_w) {
    const int64_t n = t / per_image, r0 = M * ((t % per_image) / g.tiles_w) - g.ph;
    for (int64_t r = r0; r < r0 + A; ++r) {
      if (r < 0 || r >= g.H || (n == done_n && r <= done_row)) continue;
      const char* row = reinterpret_cast<const char*>(x + ((n * g.C + c) * g.H + r) * g.W);
      for (int64_t b = 0; b < row_bytes; b += 64) prefetch_l1(row + b);
      done_n = n, done_row = r;
    }
  }
}

// The pooled map's side: max_pool2d's floor(side / 2).
inline int64_t pooled(int64_t side) { return side / 2; }

// Asks for the output rows that the tiles [ta, tb) write of plane o (M rows of OW per tile row, or
// M / 2 of the pooled map's), whole rows, for writing: as with the input, each plane is a jump the
// hardware prefetch does not foresee, and a store that misses waits for its line.
// VGG16 at 224, 1 thread (stylenet_vgg_bench --layers 1, 6 ABBA rounds, twice): conv2_1 3.63 ->
// 3.50 and 3.69 -> 3.50 ms, conv3_1 3.56 -> 3.33 and 3.55 -> 3.35, conv1_2 7.43 -> 7.29 and 7.44
// -> 7.34; the layers whose threads share a block (conv3_2, conv3_3) level; the pass within its
// noise.
template <int M>
void prefetch_out_rows(const TileGeometry& g, float* y, int64_t o, int64_t ta, int64_t tb, bool pool) {
  const int64_t per_image = g.tiles_h * g.tiles_w, rows = pool ? M / 2 : M;
  const int64_t H = pool ? pooled(g.OH) : g.OH, W = pool ? pooled(g.OW) : g.OW;
  const int64_t row_bytes = W * int64_t{sizeof(float)};
  for (int64_t t = ta; t < tb; t = (t / g.tiles_w + 1) * g.tiles_w) {
    const int64_t n = t / per_image, r0 = rows * ((t % per_image) / g.tiles_w);
    for (int64_t r = r0; r < r0 + rows && r < H; ++r) {
      const char* row = reinterpret_cast<const char*>(y + ((n * g.O + o) * H + r) * W);
      for (int64_t b = 0; b < row_bytes; b += 64) prefetch_for_write(row + b);
    }
  }
}

// Calls f(c, t1, n_lanes, d) for each plane c in [c0, c1) and each lane group [t1, t1 + n_lanes)
// of the block's tiles (from t0), d holding the group's a x a patches of plane c (d[r][k][l]: row
// r, column k of lane l's patch, zero outside the planes). The block's tiles go in spans of up to
// kSpanGroups lane groups, each span's planes outer: each plane's rows stay in cache from one
// group to the next (planes inner, one group at a time, measured 5-10 % slower on VGG16's 224
// layers), and on AVX-512 each group's PatchPlan is made once per span, not once per plane (a
// fixed array: no library templates here, see the top).
template <int M, class F>
void for_each_patch_group(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
                          F&& f) {
  constexpr int A = Tile<M>::A;
#if !defined(__AVX512F__)
  alignas(64) float d[A][A][L];
#endif
  constexpr int64_t kSpanGroups = 32;
  for (int64_t span = 0; span < tb; span += kSpanGroups * L) {
    const int64_t span_end = span + kSpanGroups * L < tb ? span + kSpanGroups * L : tb;
#if defined(__AVX512F__)
    PatchPlan<M> plans[kSpanGroups];
    for (int64_t t1 = span; t1 < span_end; t1 += L)
      plans[(t1 - span) / L].make(g, t0 + t1, static_cast<int>(tb - t1 < L ? tb - t1 : L));
#endif
#if defined(__AVX512F__)
    // F(6x6): a few groups' patches gathered a row at a time across the groups, so that each input
    // row is read left to right (VGG16's conv1_2 at 224, whose input comes from L3: 13.6 -> 11.3 ms
    // on 1 thread, 5.8 -> 5.3 on 2, medians of 6 ABBA rounds; F(4x4) layers measured 3-5 % slower
    // that way, so they gather one group at a time).
    constexpr int64_t kRowGroups = M == 6 ? 4 : 1;
    alignas(64) float dd[kRowGroups][A][A][L];
    for (int64_t c = c0; c < c1; ++c) {
      if (c + 1 < c1) prefetch_rows<M>(g, x, c + 1, t0 + span, t0 + span_end);  // the next plane's
      for (int64_t sub = span; sub < span_end; sub += kRowGroups * L) {
        const int64_t sub_end = sub + kRowGroups * L < span_end ? sub + kRowGroups * L : span_end;
        for (int a = 0; a < A; ++a)
          for (int64_t t1 = sub; t1 < sub_end; t1 += L)
            plans[(t1 - span) / L].gather_row(g, x, c, a, &dd[(t1 - sub) / L][0][0][0]);
        for (int64_t t1 = sub; t1 < sub_end; t1 += L)
          f(c, t1, static_cast<int>(tb - t1 < L ? tb - t1 : L), dd[(t1 - sub) / L]);
      }
    }
#else
    for (int64_t c = c0; c < c1; ++c) {
      if (c + 1 < c1) prefetch_rows<M>(g, x, c + 1, t0 + span, t0 + span_end);  // the next plane's
      for (int64_t t1 = span; t1 < span_end; t1 += L) {
        const int n_lanes = static_cast<int>(tb - t1 < L ? tb - t1 : L);
        gather_or_read_patches<M>(g, x, c, t0 + t1, n_lanes, &d[0][0][0]);
        f(c, t1, n_lanes, d);
      }
    }
#endif
  }
}

// The column pass of a transform, col(s, out, os) writing column s's a values os apart, into
// X[xi = a r + s] at (p, t1 ..) (each X[xi] P x tb in layout xl, position_stride apart; a lane
// group's 16 columns are contiguous in every layout): straight for a whole lane group, through a
// buffer for a partial one, of which a row-major X takes the first n_lanes lanes and a packed
// one all 16 (the lanes past n_lanes are zero: the GEMM reads them as its panel's padding).
template <int A, class Col>
void columns_into(float* X, const PackedBLayout& xl, int64_t p, int64_t t1, int n_lanes, Col&& col) {
  const int64_t xs = position_stride(xl), at = xl.offset(p, t1);
  if (n_lanes == L) {
    for (int s = 0; s < A; ++s) col(s, X + s * xs + at, A * xs);
    return;
  }
  alignas(64) float v[A][A][L];
  for (int s = 0; s < A; ++s) col(s, &v[0][s][0], A * L);
  const int lanes = xl.nr ? L : n_lanes;
  for (int xi = 0; xi < A * A; ++xi) {
    float* dst = X + xi * xs + at;
    const float* src = &v[xi / A][xi % A][0];
    for (int l = 0; l < lanes; ++l) dst[l] = src[l];
  }
}

// One lane group (L floats, 64-byte aligned) stored past the cache (non-temporal stores).
inline void store_group_past_cache(float* dst, const float* src) {
#if defined(__AVX512F__)
  _mm512_stream_ps(dst, _mm512_load_ps(src));
#else
  _mm256_stream_ps(dst, _mm256_load_ps(src));
  _mm256_stream_ps(dst + 8, _mm256_load_ps(src + 8));
#endif
}

// columns_into for a packed X written past the cache: the group's a^2 vectors through a buffer,
// each stored with store_group_past_cache (all L lanes: those past the block's tiles are zero).
template <int A, class Col>
void columns_past_cache(float* X, const PackedBLayout& xl, int64_t p, int64_t t1, Col&& col) {
  alignas(64) float v[A][A][L];
  for (int s = 0; s < A; ++s) col(s, &v[0][s][0], A * L);
  const int64_t xs = position_stride(xl), at = xl.offset(p, t1);
  for (int xi = 0; xi < A * A; ++xi) store_group_past_cache(X + xi * xs + at, &v[xi / A][xi % A][0]);
}

// B^T d B for a lane group's a x a patches d (for_each_patch_group's), in two passes: rows(d)
// keeps d B, then column(s, out, os) writes column s of B^T (d B), its a values os apart, where
// the caller's layout of V wants them.
template <int M>
struct InputTransform {
  static constexpr int A = Tile<M>::A;
  alignas(64) float t[A][A][L];
  void rows(const float (&d)[A][A][L]) {
    for (int a = 0; a < A; ++a) Tile<M>::bt(&d[a][0][0], L, &t[a][0][0], L);
  }
  void column(int s, float* out, int64_t os) const { Tile<M>::bt(&t[0][s][0], A * L, out, os); }
};

template <int M>
void input(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
           const PackedBLayout& vl, float* V, bool past_cache) {
  constexpr int A = Tile<M>::A;
  InputTransform<M> bt;
  // A V of more than 2 MiB (the threads' shared blocks of many channels: 8 MB for VGG16's conv3_2
  // at 224; a thread's own block is sized to L2) is written to lines that are not in the cache,
  // whose fetches held the transform up: each group asks for the next plane's lines a plane ahead
  // (conv3_2, conv3_3 at 224: 7.67 -> 7.41 ms and 7.31 -> 7.11 on 1 thread, 6 ABBA rounds; asked
  // for in every block, conv1_2's 1 MiB thread blocks too, it was 3 % slower there). Not where V
  // is written past the cache.
  const int64_t xs = position_stride(vl);
  const bool streamed = !past_cache && A * A * xs > kStreamedFloats;
  for_each_patch_group<M>(g, x, c0, c1, t0, tb, [&](int64_t c, int64_t t1, int n_lanes, const float (&d)[A][A][L]) {
    if (streamed && c + 1 < c1) {  // the lines this group writes for the next plane, all a^2 positions
      const int64_t at = vl.offset(c + 1, t1);
      for (int xi = 0; xi < A * A; ++xi) prefetch_l1(reinterpret_cast<const char*>(V + xi * xs + at));
    }
    bt.rows(d);
    const auto col = [&](int s, float* out, int64_t os) { bt.column(s, out, os); };
    if (past_cache) columns_past_cache<A>(V, vl, c, t1, col);
    else columns_into<A>(V, vl, c, t1, n_lanes, col);
  });
  if (past_cache) _mm_sfence();  // ordered before the loop's join, after which other threads read V
}

// The column pass of a transform into X[xi] laid out with the tiles as rows (xl: element (tile,
// plane k); X[xi] xs apart): through a buffer, the group's 16 tiles cut into the runs of one GEMM
// panel each (contiguous in the layout). Lanes past the block's tiles are zero and are written
// up to the last panel's padding, which the GEMM reads.
template <int A, class Col>
void rows_into(float* X, const PackedALayout& xl, int64_t xs, int64_t k, int64_t t1, Col&& col) {
  alignas(64) float v[A][A][L];
  for (int s = 0; s < A; ++s) col(s, &v[0][s][0], A * L);
  for (int l0 = 0; l0 < L && t1 + l0 < xl.m_padded;) {
    const int64_t i = t1 + l0, panel_left = xl.mr - i % xl.mr, padded_left = xl.m_padded - i;
    int n = L - l0;
    n = panel_left < n ? static_cast<int>(panel_left) : n;
    n = padded_left < n ? static_cast<int>(padded_left) : n;
    const int64_t at = xl.offset(i, k);
#if defined(__AVX512F__)
    const __mmask16 run = static_cast<__mmask16>((1u << n) - 1);
    for (int xi = 0; xi < A * A; ++xi)
      _mm512_mask_storeu_ps(X + xi * xs + at, run, _mm512_maskz_loadu_ps(run, &v[xi / A][xi % A][l0]));
#else
    for (int xi = 0; xi < A * A; ++xi) {
      float* dst = X + xi * xs + at;
      const float* src = &v[xi / A][xi % A][l0];
      for (int j = 0; j < n; ++j) dst[j] = src[j];
    }
#endif
    l0 += n;
  }
}

// Planes per group of input_rows_past_cache: in the packed layout each panel holds a plane's
// mr = 12 rows contiguous, so 4 planes are 48 floats, three whole cache lines.
constexpr int64_t kRowsPlanes = 4;
// The most rows of V^T input_rows_past_cache buffers: 128 tiles (the most a block with the tiles as
// rows has, winograd.cpp) in whole lane groups and whole panels.
constexpr int64_t kRowsMaxTiles = 144;

// Whether input_rows_past_cache can write this V^T: F(4x4), 12-row panels, every run of
// kRowsPlanes planes starting on a cache line, at most kRowsMaxTiles tiles.
inline bool rows_past_cache_fits(const PackedALayout& vl, int64_t vs, int64_t c0, int64_t c1, int m, int64_t tb) {
  return m == 4 && vl.mr == 12 && vl.K % kRowsPlanes == 0 && vl.kc % kRowsPlanes == 0 && c0 % kRowsPlanes == 0 &&
         c1 % kRowsPlanes == 0 && vs % 16 == 0 && (tb + L - 1) / L * L <= kRowsMaxTiles &&
         vl.m_padded <= kRowsMaxTiles;
}

// input_rows written past the cache (non-temporal stores, for a V^T every thread reads: see
// input()): kRowsPlanes planes at a time are transformed into a buffer, then each panel's run of
// them goes out as whole cache lines (a non-temporal store must cover its line; a lane group's
// rows cut across panels). The buffer's rows past the lane groups, up to the last panel's end,
// stay zero. VGG16 at 224, 2 threads, 10 ABBA rounds: conv4_2 3.21 -> 3.08 ms, conv4_3 3.21 ->
// 3.02, the pass 30.03 -> 29.61 (V^T written with the lane groups' masked stores took 0.48 ms of
// conv4_2's 2-thread time against 0.63 for one thread alone; 0.31 this way).
template <int M>
void input_rows_past_cache(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
                           const PackedALayout& vl, int64_t vs, float* V) {
  constexpr int A = Tile<M>::A;
  constexpr int64_t P = kRowsPlanes, mr = 12;
  InputTransform<M> bt;
  alignas(64) float stage[P][A * A][kRowsMaxTiles];
  alignas(64) float line[P * mr];
  for (int64_t c = 0; c < P; ++c)  // the lane groups write every row up to tb rounded up to L
    for (int xi = 0; xi < A * A; ++xi)
      for (int64_t i = (tb + L - 1) / L * L; i < vl.m_padded; ++i) stage[c][xi][i] = 0.0f;
  for (int64_t cg = c0; cg < c1; cg += P) {
    for_each_patch_group<M>(g, x, cg, cg + P, t0, tb, [&](int64_t c, int64_t t1, int, const float (&d)[A][A][L]) {
      bt.rows(d);
      for (int s = 0; s < A; ++s) bt.column(s, &stage[c - cg][s][t1], A * kRowsMaxTiles);
    });
    for (int xi = 0; xi < A * A; ++xi)
      for (int64_t i = 0; i < vl.m_padded; i += mr) {
        for (int64_t c = 0; c < P; ++c)
          for (int64_t r = 0; r < mr; ++r) line[c * mr + r] = stage[c][xi][i + r];
        float* dst = V + xi * vs + vl.offset(i, cg);
        for (int64_t q = 0; q < P * mr; q += L) store_group_past_cache(dst + q, line + q);
      }
  }
  _mm_sfence();  // ordered before the loop's join, after which other threads read V^T
}

template <int M>
void input_rows(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb,
                const PackedALayout& vl, int64_t vs, float* V, bool past_cache) {
  constexpr int A = Tile<M>::A;
  if (past_cache && rows_past_cache_fits(vl, vs, c0, c1, M, tb))
    return input_rows_past_cache<M>(g, x, c0, c1, t0, tb, vl, vs, V);
  InputTransform<M> bt;
  for_each_patch_group<M>(g, x, c0, c1, t0, tb, [&](int64_t c, int64_t t1, int, const float (&d)[A][A][L]) {
    bt.rows(d);
    rows_into<A>(V, vl, vs, c, t1, [&](int s, float* out, int64_t os) { bt.column(s, out, os); });
  });
}

// Backward weights: dM[xi][o][t1 ..] = (A dY A^T)[xi] for the block's output-gradient tiles (the
// m x m patches of dy's planes, zero past the map; `g` describes dy: C = O, H = OH, W = OW, no
// padding). The patch groups are gathered as the input's a x a ones, of which the m x m corner is used.
template <int M>
void output_grad(const TileGeometry& g, const float* dy, int64_t o0, int64_t o1, int64_t t0, int64_t tb, float* dM) {
  constexpr int A = Tile<M>::A;
  alignas(64) float t[M][A][L];
  for_each_patch_group<M>(g, dy, o0, o1, t0, tb, [&](int64_t o, int64_t t1, int n_lanes, const float (&d)[A][A][L]) {
    for (int r = 0; r < M; ++r) Tile<M>::a(&d[r][0][0], L, &t[r][0][0], L);  // rows: dY A^T
    columns_into<A>(dM, row_major(g.C, tb), o, t1, n_lanes,                   // columns: A (dY A^T)
                    [&](int s, float* out, int64_t os) { Tile<M>::a(&t[0][s][0], A * L, out, os); });
  });
}

// Backward weights: dw[o][c] = G^T dU[o][c] G for o in [o0, o1), dU [xi][O][C] row-major.
template <int M>
void weight_grad(const float* dU, int64_t O, int64_t C, int64_t o0, int64_t o1, float* dw) {
  constexpr int A = Tile<M>::A;
  alignas(64) float u[A][A][L], t[A][3][L], w[3][3][L];
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t c0 = 0; c0 < C; c0 += L) {
      const int n = static_cast<int>(C - c0 < L ? C - c0 : L);
      for (int xi = 0; xi < A * A; ++xi) {
        const float* src = dU + (xi * O + o) * C + c0;
        for (int l = 0; l < L; ++l) u[xi / A][xi % A][l] = l < n ? src[l] : 0.0f;
      }
      for (int r = 0; r < A; ++r) Tile<M>::gt(&u[r][0][0], L, &t[r][0][0], L);  // rows: dU G
      for (int j = 0; j < 3; ++j) Tile<M>::gt(&t[0][j][0], 3 * L, &w[0][j][0], 3 * L);  // columns: G^T (dU G)
      for (int l = 0; l < n; ++l) {
        float* dst = dw + (o * C + c0 + l) * 9;
        for (int k = 0; k < 9; ++k) dst[k] = w[k / 3][k % 3][l];
      }
    }
}

// The 2 x 2 max-pool of a tile's M x M outputs in each lane (M even: tiles start at even rows and
// columns, so no pooling window straddles two tiles). Only after the ReLU: the values are then >= +0
// and never NaN, so any order of the maxima gives max_pool2d's bits.
template <int M>
void pool_lanes(const float (&out)[M][M][L], float (&p)[M / 2][M / 2][L]) {
  const auto max = [](float u, float v) { return u > v ? u : v; };
  for (int a = 0; a < M / 2; ++a)
    for (int q = 0; q < M / 2; ++q)
      for (int l = 0; l < L; ++l)
        p[a][q][l] = max(max(out[2 * a][2 * q][l], out[2 * a][2 * q + 1][l]),
                         max(out[2 * a + 1][2 * q][l], out[2 * a + 1][2 * q + 1][l]));
}

// Stores the pooled tiles of a lane group's runs (output() with pool): each run's rows of P = M / 2
// pooled pixels per tile, clipped at the pooled map's right and bottom.
template <int M>
void store_pooled_runs(const TileGeometry& g, const float (&p)[M / 2][M / 2][L], const Segment* seg, int runs,
                       int64_t o, float* y) {
  constexpr int P = M / 2;
  const int64_t PH = pooled(g.OH), PW = pooled(g.OW);
  for (int k = 0; k < runs; ++k) {
    const Segment& r = seg[k];
    for (int a = 0; a < P && P * r.i + a < PH; ++a) {
      float* row = y + ((r.n * g.O + o) * PH + P * r.i + a) * PW;
      for (int l = 0; l < r.count; ++l)
        for (int q = 0; q < P && P * (r.j + l) + q < PW; ++q) row[P * (r.j + l) + q] = p[a][q][r.lane + l];
    }
  }
}

template <int M>
void output(const TileGeometry& g, const float* M_, int64_t o0, int64_t o1, int64_t t0, int64_t tb,
            const float* bias, bool relu, bool pool, float* y) {
  constexpr int A = Tile<M>::A;
  alignas(64) float m[A][A][L], t[M][A][L], out[M][M][L];
  const int64_t xs = position_stride(row_major(g.O, tb));
  // An M larger than L2 (the threads' shared blocks: 7.2 MB for VGG16's conv3_2 at 224) is read
  // from 36 (F(6x6): 64) positions at once, more streams than the hardware prefetch follows: each
  // group asks for the next plane's lines of every position, as input() does for V. VGG16 at 224
  // (stylenet_vgg_bench --layers 1, 8 ABBA rounds): conv3_2 6.83 -> 6.61 ms and conv3_3 6.46 ->
  // 6.28 on 1 thread, 4.00 -> 3.90 and 3.88 -> 3.74 on 2; layers whose M fits L2 level.
  const bool streamed = A * A * xs > kStreamedFloats;
  for (int64_t o = o0; o < o1; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    if (o + 1 < o1) prefetch_out_rows<M>(g, y, o + 1, t0, t0 + tb, pool);
    for (int64_t t1 = 0; t1 < tb; t1 += L) {
      const int n_lanes = static_cast<int>(tb - t1 < L ? tb - t1 : L);
      if (streamed && o + 1 < o1)
        for (int xi = 0; xi < A * A; ++xi) prefetch_l1(reinterpret_cast<const char*>(M_ + xi * xs + (o + 1) * tb + t1));
      if (n_lanes == L) {  // A^T m, read straight from M[xi = A r + s][o][t1 ..]
        for (int s = 0; s < A; ++s) Tile<M>::at(M_ + s * xs + o * tb + t1, A * xs, &t[0][s][0], A * L);
      } else {
        for (int xi = 0; xi < A * A; ++xi) {
          const float* src = M_ + xi * xs + o * tb + t1;
          float* dst = &m[xi / A][xi % A][0];
          for (int l = 0; l < L; ++l) dst[l] = l < n_lanes ? src[l] : 0.0f;
        }
        for (int s = 0; s < A; ++s) Tile<M>::at(&m[0][s][0], A * L, &t[0][s][0], A * L);  // A^T m
      }
      // (A^T m) A + bias, then ReLU. The choice outside the loops: a `relu ? max : v` inside one,
      // GCC 12 made conv1_2 + ReLU take twice as long as conv1_2 alone (34 vs 17 ms, 1 thread).
      for (int a = 0; a < M; ++a)
        if (relu) Tile<M>::at(&t[a][0][0], L, &out[a][0][0], L, AddBias<true>{b});
        else Tile<M>::at(&t[a][0][0], L, &out[a][0][0], L, AddBias<false>{b});
      // Each output row of a run of tiles in one tile row is M count contiguous pixels: the
      // lanes as one row (LaneRow), stored run by run, clipped at the map's right and bottom.
      Segment seg[L];
      const int runs = segments(g, t0 + t1, n_lanes, seg);
      if (pool) {
        alignas(64) float p[M / 2][M / 2][L];
        pool_lanes<M>(out, p);
        store_pooled_runs<M>(g, p, seg, runs, o, y);
        continue;
      }
      for (int a = 0; a < M; ++a) {
        const LaneRow<M> row(&out[a][0][0]);
        for (int k = 0; k < runs; ++k) {
          const Segment& r = seg[k];
          const int64_t oh = M * r.i + a, ow = M * r.j;
          if (oh >= g.OH) continue;
          const int64_t count = M * r.count < g.OW - ow ? M * r.count : g.OW - ow;
          row.store(M * r.lane, M * r.lane + count, y + ((r.n * g.O + o) * g.OH + oh) * g.OW + ow);
        }
      }
    }
  }
}

// Stores tile (i, j)'s M x M pixels of the lanes' n planes of H x W (dst: plane 0 of the tile's
// image), clipped at the planes' edge: on AVX-512 for F(4x4), the 16 pixels of each plane gathered
// into one vector by a 16 x 16 transpose and stored a row at a time by masked stores; otherwise one
// scalar store per pixel and plane.
template <int M>
void store_tile_planes(int64_t H, int64_t W, const float (&out)[M][M][L], int n, int64_t i, int64_t j, float* dst) {
  const int rows = static_cast<int>(H - M * i < M ? H - M * i : M);
  const int cols = static_cast<int>(W - M * j < M ? W - M * j : M);
  const int64_t plane = H * W, at = M * i * W + M * j;
#if defined(__AVX512F__)
  if constexpr (M == 4) {
    __m512 v[L];
    for (int p = 0; p < L; ++p) v[p] = _mm512_load_ps(&out[p / M][p % M][0]);
    transpose16(v);  // v[l]: plane l's pixels, row-major
    for (int l = 0; l < n; ++l)
      for (int a = 0; a < rows; ++a) {
        const __mmask16 row = static_cast<__mmask16>(((1u << cols) - 1) << (M * a));
        _mm512_mask_storeu_ps(dst + l * plane + at + a * W - M * a, row, v[l]);  // lanes M a ..
      }
    return;
  }
#endif
  for (int a = 0; a < rows; ++a)
    for (int q = 0; q < cols; ++q)
      for (int l = 0; l < n; ++l) dst[l * plane + at + a * W + q] = out[a][q][l];
}

// y for output channels [o0, o1) of the block's tiles from M^T[xi] (tb x O row-major, ms apart),
// 16 channels at a time as the lanes: the transforms as in output(), then each lane's pixels
// stored to its own plane.
template <int M>
void output_rows(const TileGeometry& g, const float* MT, int64_t ms, int64_t o0, int64_t o1, int64_t t0,
                 int64_t tb, const float* bias, bool relu, bool pool, float* y) {
  constexpr int A = Tile<M>::A;
  alignas(64) float m[A][A][L], t[M][A][L], out[M][M][L], b[L];
  const int64_t per_image = g.tiles_h * g.tiles_w, plane = g.OH * g.OW;
  // M^T larger than L2 (VGG16's conv4_x at 224: 3.6 MB): the next tile's lines of every position
  // asked for a tile ahead, as in output(). conv4_1/4_2/4_3 at 224 (8 ABBA rounds, 1 thread): 3.69
  // -> 3.58, 7.08 -> 6.97, 7.09 -> 6.97 ms; 2 threads 2.28 -> 2.21, 4.04 -> 3.90, 3.96 -> 3.88.
  const bool streamed = A * A * ms > kStreamedFloats;
  for (int64_t oc = o0; oc < o1; oc += L) {
    const int n = static_cast<int>(o1 - oc < L ? o1 - oc : L);
    for (int l = 0; l < L; ++l) b[l] = bias && l < n ? bias[oc + l] : 0.0f;
    for (int64_t t1 = 0; t1 < tb; ++t1) {
      const float* at = MT + t1 * g.O + oc;  // M^T[xi][t1][oc ..] at at + xi ms
      if (streamed && t1 + 1 < tb)  // the next tile's lines, O floats on in each position
        for (int xi = 0; xi < A * A; ++xi) prefetch_l1(reinterpret_cast<const char*>(at + xi * ms + g.O));
      if (n == L) {  // A^T m, read straight from M^T
        for (int s = 0; s < A; ++s) Tile<M>::at(at + s * ms, A * ms, &t[0][s][0], A * L);
      } else {
        for (int xi = 0; xi < A * A; ++xi)
          for (int l = 0; l < L; ++l) m[xi / A][xi % A][l] = l < n ? at[xi * ms + l] : 0.0f;
        for (int s = 0; s < A; ++s) Tile<M>::at(&m[0][s][0], A * L, &t[0][s][0], A * L);
      }
      for (int a = 0; a < M; ++a)  // (A^T m) A + bias, then ReLU
        if (relu) Tile<M>::at(&t[a][0][0], L, &out[a][0][0], L, AddLaneBias<true>{b});
        else Tile<M>::at(&t[a][0][0], L, &out[a][0][0], L, AddLaneBias<false>{b});
      const int64_t tile = t0 + t1, img = tile / per_image, i = (tile % per_image) / g.tiles_w, j = tile % g.tiles_w;
      if (pool) {
        alignas(64) float p[M / 2][M / 2][L];
        pool_lanes<M>(out, p);
        const int64_t PH = pooled(g.OH), PW = pooled(g.OW);
        store_tile_planes<M / 2>(PH, PW, p, n, i, j, y + (img * g.O + oc) * PH * PW);
        continue;
      }
      store_tile_planes<M>(g.OH, g.OW, out, n, i, j, y + (img * g.O + oc) * plane);
    }
  }
}

constexpr WinogradKernels kKernels4 = {weights<4>, input<4>, output<4>, output_grad<4>, weight_grad<4>,
                                       input_rows<4>, output_rows<4>};
constexpr WinogradKernels kKernels6 = {weights<6>, input<6>, output<6>, nullptr, nullptr,  // no backward weights
                                       input_rows<6>, output_rows<6>};

}  // namespace
}  // namespace sn::cpu::winograd_detail
