// Winograd F(4x4, 3x3) and F(6x6, 3x3): the transforms of one tile, written as loops over L
// independent lanes (tiles, or (o, c) weight pairs) so the compiler turns every line into one
// vector operation. Part of winograd_impl.h (see there for how these headers are compiled).
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

#include "tensor/cpu/intrinsics.h"  // AVX-512 or AVX2, by the including file's flags
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

}  // namespace
}  // namespace sn::cpu::winograd_detail
