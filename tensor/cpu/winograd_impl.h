// Winograd F(4x4, 3x3) transforms (Lavin & Gray 2015, interpolation points 0, +-1, +-2, inf),
// written as loops over L independent lanes (tiles, or (o, c) weight pairs) so the compiler turns
// every line into one vector operation. Included only by winograd_avx2.cpp / winograd_avx512.cpp,
// each compiled with its ISA's flags; everything is in an anonymous namespace (internal linkage,
// so the linker cannot mix the copies) and calls no inline library templates.
//
//        | 4  0 -5  0  1  0 |          | 1/4    0    0  |          | 1  1  1  1  1  0 |
//        | 0 -4 -4  1  1  0 |          | -1/6 -1/6 -1/6 |   A^T =  | 0  1 -1  2 -2  0 |
//  B^T = | 0  4 -4 -1  1  0 |    G =   | -1/6  1/6 -1/6 |          | 0  1  1  4  4  0 |
//        | 0 -2 -1  2  1  0 |          | 1/24 1/12  1/6 |          | 0  1 -1  8 -8  1 |
//        | 0  2 -1 -2  1  0 |          | 1/24 -1/12 1/6 |
//        | 0  4  0 -5  0  1 |          |  0     0    1  |
//
// y = A^T [ (G g G^T) .* (B^T d B) ] A for a 6x6 input tile d and 3x3 kernel g gives a 4x4 output.
#pragma once
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "tensor/cpu/winograd_kernels.h"

namespace sn::cpu::winograd_detail {
namespace {

constexpr int L = 16;  // lanes per step: one AVX-512 vector, two AVX2 vectors

// out[r][.] = B^T z for six lane-vectors z[0..5] (strided by zs), written with stride os.
inline void bt6(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
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
inline void g3(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
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

// out[0..3] = A^T z for six lane-vectors z.
inline void at6(const float* __restrict z, int64_t zs, float* __restrict out, int64_t os) {
  for (int l = 0; l < L; ++l) {
    const float z0 = z[l], z1 = z[zs + l], z2 = z[2 * zs + l], z3 = z[3 * zs + l], z4 = z[4 * zs + l],
                z5 = z[5 * zs + l];
    const float p12 = z1 + z2, m12 = z1 - z2, p34 = z3 + z4, m34 = z3 - z4;
    out[l] = z0 + p12 + p34;
    out[os + l] = m12 + 2 * m34;
    out[2 * os + l] = p12 + 4 * p34;
    out[3 * os + l] = m12 + 8 * m34 + z5;
  }
}

// The tiles of a block sit side by side in a row (tile l covers columns 4l..4l+3), while the
// transforms want one lane per tile: converting between "row" x[4l + k] (64 contiguous floats) and
// "lanes" r[k][l] (k < 4, l < L, rows L apart) is a 16x4 transpose. With AVX-512 it is two 4x4
// transposes, of the floats within each 128-bit block and of the 128-bit blocks across registers
// (both are involutions, so the inverse applies them in the other order); otherwise plain loops.
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
#endif

// x[4l + k] = r[k * L + l] for k < 4, l < L.
inline void lanes_to_row(const float* r, float* x) {
#if defined(__AVX512F__)
  static_assert(L == 16);
  __m512 a = _mm512_loadu_ps(r), b = _mm512_loadu_ps(r + L), c = _mm512_loadu_ps(r + 2 * L),
         d = _mm512_loadu_ps(r + 3 * L);
  transpose_in_blocks(a, b, c, d);
  transpose_blocks(a, b, c, d);
  _mm512_storeu_ps(x, a), _mm512_storeu_ps(x + 16, b), _mm512_storeu_ps(x + 32, c), _mm512_storeu_ps(x + 48, d);
#else
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < 4; ++k) x[4 * l + k] = r[k * L + l];
#endif
}

// r[k * L + l] = x[4l + k] for k < `rows` (<= 4), l < L; reads x[0 .. 4 (L - 1) + rows - 1] only.
inline void row_to_lanes(const float* x, float* r, int rows) {
#if defined(__AVX512F__)
  static_assert(L == 16);
  const __mmask16 tail = static_cast<__mmask16>((1u << (12 + rows)) - 1);  // x[48 .. 60 + rows - 1]
  __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16), c = _mm512_loadu_ps(x + 32),
         d = _mm512_maskz_loadu_ps(tail, x + 48);
  transpose_blocks(a, b, c, d);
  transpose_in_blocks(a, b, c, d);
  _mm512_storeu_ps(r, a);
  if (rows > 1) _mm512_storeu_ps(r + L, b);
  if (rows > 2) _mm512_storeu_ps(r + 2 * L, c);
  if (rows > 3) _mm512_storeu_ps(r + 3 * L, d);
#else
  for (int k = 0; k < rows; ++k)
    for (int l = 0; l < L; ++l) r[k * L + l] = x[4 * l + k];
#endif
}

void weights(const float* w, int64_t O, int64_t C, int64_t o0, int64_t o1, float* U) {
  alignas(64) float g[9][L], t[6][3][L], u[6][6][L];
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t c0 = 0; c0 < C; c0 += L) {
      const int n = static_cast<int>(C - c0 < L ? C - c0 : L);
      const float* src = w + (o * C + c0) * 9;
      for (int k = 0; k < 9; ++k)
        for (int l = 0; l < L; ++l) g[k][l] = l < n ? src[l * 9 + k] : 0.0f;
      for (int col = 0; col < 3; ++col) g3(&g[col][0], 3 * L, &t[0][col][0], 3 * L);  // G g
      for (int r = 0; r < 6; ++r) g3(&t[r][0][0], L, &u[r][0][0], L);                 // (G g) G^T
      for (int xi = 0; xi < 36; ++xi) {
        float* dst = U + (xi * O + o) * C + c0;
        const float* s = &u[xi / 6][xi % 6][0];
        for (int l = 0; l < n; ++l) dst[l] = s[l];
      }
    }
}

void input(const TileGeometry& g, const float* x, int64_t c0, int64_t c1, int64_t t0, int64_t tb, float* V) {
  alignas(64) float d[6][6][L], t[6][6][L], v[6][6][L];
  const int64_t per_image = g.tiles_h * g.tiles_w;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t t1 = 0; t1 < tb; t1 += L) {
      const int n_lanes = static_cast<int>(tb - t1 < L ? tb - t1 : L);
      // Fast path: all L tiles in one tile row of one image and entirely inside the input, so
      // row a of lane l's patch is input row r0 + a from column 4 (j0 + l) - pw on.
      {
        const int64_t tile = t0 + t1, n = tile / per_image, i = (tile % per_image) / g.tiles_w,
                      j0 = tile % g.tiles_w;
        const int64_t r0 = 4 * i - g.ph, s0 = 4 * j0 - g.pw;
        if (n_lanes == L && j0 + L <= g.tiles_w && r0 >= 0 && s0 >= 0 && r0 + 6 <= g.H &&
            s0 + 4 * (L - 1) + 6 <= g.W) {
          const float* base = x + ((n * g.C + c) * g.H + r0) * g.W + s0;
          for (int a = 0; a < 6; ++a) {
            row_to_lanes(base + a * g.W, &d[a][0][0], 4);      // columns 4l .. 4l + 3
            row_to_lanes(base + a * g.W + 4, &d[a][4][0], 2);  // columns 4l + 4, 4l + 5
          }
          goto transform;
        }
      }
      for (int l = 0; l < L; ++l) {
        if (l >= n_lanes) {
          for (int a = 0; a < 6; ++a)
            for (int b = 0; b < 6; ++b) d[a][b][l] = 0.0f;
          continue;
        }
        const int64_t tile = t0 + t1 + l, n = tile / per_image, i = (tile % per_image) / g.tiles_w,
                      j = tile % g.tiles_w;
        const int64_t r0 = 4 * i - g.ph, s0 = 4 * j - g.pw;
        const float* plane = x + (n * g.C + c) * g.H * g.W;
        const bool inside = r0 >= 0 && s0 >= 0 && r0 + 6 <= g.H && s0 + 6 <= g.W;
        for (int a = 0; a < 6; ++a) {
          const int64_t ih = r0 + a;
          const float* row = plane + ih * g.W + s0;
          if (inside) {
            for (int b = 0; b < 6; ++b) d[a][b][l] = row[b];
          } else {
            const bool row_ok = ih >= 0 && ih < g.H;
            for (int b = 0; b < 6; ++b) {
              const int64_t iw = s0 + b;
              d[a][b][l] = (row_ok && iw >= 0 && iw < g.W) ? row[b] : 0.0f;
            }
          }
        }
      }
    transform:
      for (int a = 0; a < 6; ++a) bt6(&d[a][0][0], L, &t[a][0][0], L);  // rows: d B
      if (n_lanes == L) {  // columns: B^T (d B), straight into V[xi = 6 r + s][c][t1 ..]
        for (int s = 0; s < 6; ++s) bt6(&t[0][s][0], 6 * L, V + (s * g.C + c) * tb + t1, 6 * g.C * tb);
        continue;
      }
      for (int s = 0; s < 6; ++s) bt6(&t[0][s][0], 6 * L, &v[0][s][0], 6 * L);  // columns: B^T (d B)
      for (int xi = 0; xi < 36; ++xi) {
        float* dst = V + (xi * g.C + c) * tb + t1;
        const float* src = &v[xi / 6][xi % 6][0];
        for (int l = 0; l < n_lanes; ++l) dst[l] = src[l];
      }
    }
}

void output(const TileGeometry& g, const float* M, int64_t o0, int64_t o1, int64_t t0, int64_t tb,
            const float* bias, bool relu, float* y) {
  alignas(64) float m[6][6][L], t[4][6][L], out[4][4][L];
  const int64_t per_image = g.tiles_h * g.tiles_w;
  for (int64_t o = o0; o < o1; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    for (int64_t t1 = 0; t1 < tb; t1 += L) {
      const int n_lanes = static_cast<int>(tb - t1 < L ? tb - t1 : L);
      if (n_lanes == L) {  // A^T m, read straight from M[xi = 6 r + s][o][t1 ..]
        for (int s = 0; s < 6; ++s) at6(M + (s * g.O + o) * tb + t1, 6 * g.O * tb, &t[0][s][0], 6 * L);
      } else {
        for (int xi = 0; xi < 36; ++xi) {
          const float* src = M + (xi * g.O + o) * tb + t1;
          float* dst = &m[xi / 6][xi % 6][0];
          for (int l = 0; l < L; ++l) dst[l] = l < n_lanes ? src[l] : 0.0f;
        }
        for (int s = 0; s < 6; ++s) at6(&m[0][s][0], 6 * L, &t[0][s][0], 6 * L);  // A^T m
      }
      for (int a = 0; a < 4; ++a) at6(&t[a][0][0], L, &out[a][0][0], L);        // (A^T m) A
      for (int a = 0; a < 4; ++a)
        for (int k = 0; k < 4; ++k)
          for (int l = 0; l < L; ++l) {
            const float v = out[a][k][l] + b;
            out[a][k][l] = relu ? (v > 0 ? v : 0.0f) : v;
          }
      {
        // Fast path: L whole tiles side by side in one tile row: each output row is 4 L contiguous
        // pixels.
        const int64_t tile = t0 + t1, n = tile / per_image, i = (tile % per_image) / g.tiles_w,
                      j0 = tile % g.tiles_w;
        if (n_lanes == L && j0 + L <= g.tiles_w && 4 * i + 4 <= g.OH && 4 * (j0 + L) <= g.OW) {
          float* dst = y + ((n * g.O + o) * g.OH + 4 * i) * g.OW + 4 * j0;
          for (int a = 0; a < 4; ++a) lanes_to_row(&out[a][0][0], dst + a * g.OW);
          continue;
        }
      }
      for (int l = 0; l < n_lanes; ++l) {
        const int64_t tile = t0 + t1 + l, n = tile / per_image, i = (tile % per_image) / g.tiles_w,
                      j = tile % g.tiles_w;
        const int64_t rows = g.OH - 4 * i < 4 ? g.OH - 4 * i : 4, cols = g.OW - 4 * j < 4 ? g.OW - 4 * j : 4;
        float* dst = y + ((n * g.O + o) * g.OH + 4 * i) * g.OW + 4 * j;
        for (int64_t a = 0; a < rows; ++a)
          for (int64_t k = 0; k < cols; ++k) dst[a * g.OW + k] = out[a][k][l];
      }
    }
  }
}

constexpr WinogradKernels kKernels = {weights, input, output};

}  // namespace
}  // namespace sn::cpu::winograd_detail
