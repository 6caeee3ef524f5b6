// The register-blocked SGEMM micro-kernel, written once over a vector type V.
//
// Included only by the per-ISA files (gemm_avx2.cpp, gemm_avx512.cpp), which are compiled with
// their ISA's flags and take V from simd_vec.h, in an anonymous namespace: every instantiation
// therefore has internal linkage, and an AVX-512 copy can never be picked by the linker for the
// AVX2 path. (Packed panels are loaded aligned, V::load; the right edge of C partially.)
//
// C is row-major, so vectors run along N: one tile is M rows x NV vectors, M * NV accumulators
// that stay in registers for the whole k loop. Each k step loads NV vectors of the B panel once
// and broadcasts M values of the A panel, so it costs NV loads + M broadcasts for M * NV FMAs.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tensor/cpu/gemm_internal.h"

namespace sn::cpu::gemm_detail {

// A tile of one vector's columns uses each A value for only that many columns, so where A is a
// long packed operand it streams from memory at 48 B per 12 FMAs: faster than this VM's hardware
// prefetch kept up with (14 GB/s against 33 GB/s a plain read loop reaches). Such tiles ask for
// A kPrefetchSteps k steps ahead (6 KiB for AVX-512's 12 rows). VGG16's conv5_x at 224 (16 tiles,
// 37.7 MB of cached transformed weights per layer): 2.9 -> 2.05 ms a layer on 1 thread
// (stylenet_vgg_bench --layers 1, 4 ABBA rounds); BM_WinogradGemm c512_t16 weights_x_tiles
// 2.7 -> 1.73 ms (32 steps ahead: 2.05, 256: 1.77). Prefetching A in every tile was level overall
// (early layers 2-4 % faster, the tiles-as-rows conv4_x 5 % slower), and B in wider tiles slower:
// wider tiles ask for A only where the driver says it streams (MicroKernel's a_streams).
constexpr int kPrefetchSteps = 128;

// One tile of M rows and NV vectors (NV * width <= NRP columns), reading A and B panels packed
// with strides MRP and NRP. `n` is the number of valid columns, in ((NV-1)*width, NV*width].
// M > MRP folds the next A micro-panel's first M - MRP rows into this tile (a matrix's last panel
// of one or two rows, see KernelSet::m_fold): they are read from a + MRP * kc, where that panel
// starts. A one-vector tile prefetches A (kPrefetchSteps), a wider one where A streams
// (a_streams), and the line at pf, if any.
template <class V, int MRP, int NRP, int M, int NV, bool AStreams>
void micro_tile(int64_t kc, const float* __restrict a, const float* __restrict b,
                float* __restrict c, int64_t ldc, float alpha, float beta, int n, const float* pf) {
  using R = typename V::reg;
  constexpr int W = V::width;
  const float* __restrict a_next = a + MRP * kc;  // read only when M > MRP
  // In a folded tile alpha and beta wait in memory for the write-back: live in registers across
  // the k loop, they made GCC 12 keep a B vector on the stack in the 13- and 14-row tiles (a store
  // and 13 reloads a step), the 26-28 accumulators leaving no room.
  using Held = std::conditional_t<(M > MRP), volatile float, float>;
  Held alpha_mem = alpha, beta_mem = beta;
  R acc[M][NV];
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();

  // Touch the C tile early: its lines arrive while the k loop runs.
  for (int r = 0; r < M; ++r) V::prefetch(c + r * ldc);

  for (int64_t k = 0; k < kc; ++k) {
    R bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
    // (A choice made at compile time: a run-time flag here made GCC 12 keep a B vector on the stack.)
    if constexpr (NV == 1 || AStreams) V::prefetch(a + MRP * kPrefetchSteps);
    if (NV > 1 && pf) {  // a line of the next B block a step (see MicroKernel)
      V::prefetch_l2(pf);
      pf += kLineFloats;
    }
    for (int r = 0; r < M; ++r) {
      const R av = V::broadcast(r < MRP ? a + r : a_next + (r - MRP));
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(av, bv[v], acc[r][v]);
    }
    a += MRP;
    if constexpr (M > MRP) a_next += MRP;
    b += NRP;
  }

  // C = alpha * acc + beta * C, with the last vector of each row possibly partial.
  alpha = alpha_mem, beta = beta_mem;
  const R va = V::set1(alpha), vb = V::set1(beta);
  const int last = n - (NV - 1) * W;  // valid lanes in the last vector, 1..W
  for (int r = 0; r < M; ++r) {
    float* cr = c + r * ldc;
    for (int v = 0; v < NV; ++v) {
      float* p = cr + v * W;
      R x = V::mul(acc[r][v], va);
      if (v < NV - 1 || last == W) {
        if (beta != 0.0f) x = V::fmadd(vb, V::loadu(p), x);
        V::storeu(p, x);
      } else {
        if (beta != 0.0f) x = V::fmadd(vb, V::load_first(p, last), x);
        V::store_first(p, x, last);
      }
    }
  }
}

// Picks the instantiation for an m x n tile: the full MRP x NRP tile in the interior, a narrower
// one (fewer rows, fewer vectors) at the bottom and right edges, so edge tiles do not pay for the
// zero padding of the packed panels; up to MRP + Fold rows where a last panel is folded in. Each
// in two forms: asking for A ahead where it streams (MicroKernel's a_streams), or not.
template <class V, int MRP, int NRP, int Fold = 0>
struct MicroKernels {
  static constexpr int NVP = NRP / V::width;
  using Tile = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float, int, const float*);

  template <bool AStreams, int... Ms, int... Vs>
  static constexpr auto row(std::integer_sequence<int, Ms...>, std::integer_sequence<int, Vs...> vs) {
    return std::array<std::array<Tile, NVP>, MRP + Fold>{row_of<AStreams, Ms + 1>(vs)...};
  }
  template <bool AStreams, int M, int... Vs>
  static constexpr std::array<Tile, NVP> row_of(std::integer_sequence<int, Vs...>) {
    // A one-vector tile always asks for A: both tables share its one instantiation.
    return {&micro_tile<V, MRP, NRP, M, Vs + 1, (AStreams && Vs > 0)>...};
  }
  template <bool AStreams>
  static constexpr auto table_of() {
    return row<AStreams>(std::make_integer_sequence<int, MRP + Fold>{}, std::make_integer_sequence<int, NVP>{});
  }
  static constexpr auto table = table_of<false>(), streaming_table = table_of<true>();

  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                  float beta, int m, int n, const float* pf, bool a_streams) {
    (a_streams ? streaming_table : table)[m - 1][(n + V::width - 1) / V::width - 1](kc, a, b, c, ldc, alpha, beta,
                                                                                   n, pf);
  }
};

// The narrow kernel (NarrowKernel) for P A micro-panels and N columns: P * N accumulators, each
// holding one column of C for a panel's MRP rows (MRP <= the vector width), a k step loading each
// panel's MRP values and broadcasting the N values of the B panel. Each product is
// fma(A[r][k], B[k][j], acc), k in order, then alpha and beta as micro_tile applies them: its bits.
template <class V, int MRP, int NRP, int P, int N>
void narrow_tile(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                 int64_t ldc, float alpha, float beta, int m) {
  static_assert(MRP <= V::width, "a panel's rows must fit one vector");
  using R = typename V::reg;
  constexpr int W = V::width;
  // One flat array: as acc[P][N], GCC 12 kept the accumulators in memory and stored all of them
  // every k step (4 columns then took as long as 16 in the one-vector micro-tile).
  R acc[P * N];
  for (int q = 0; q < P * N; ++q) acc[q] = V::zero();
  const float* a1 = a + MRP * kc;
  for (int64_t k = 0; k < kc; ++k) {
    R av[P];
    av[0] = V::load_first(a, MRP);
    if constexpr (P > 1) av[1] = V::load_first(a1, MRP);
    for (int j = 0; j < N; ++j) {
      const R bv = V::broadcast(b + j);
      for (int p = 0; p < P; ++p) acc[p * N + j] = V::fmadd(av[p], bv, acc[p * N + j]);
    }
    a += MRP;
    a1 += MRP;
    b += NRP;
  }
  float col[P][N][W];
  const R va = V::set1(alpha);
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < N; ++j) V::storeu(&col[p][j][0], V::mul(acc[p * N + j], va));
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < N; ++j) {
      float& out = c[r * ldc + j];
      const float x = col[r / MRP][j][r % MRP];
      out = beta != 0.0f ? std::fma(beta, out, x) : x;
    }
}

// The narrow kernels for one or two panels and 1 .. NMax columns.
template <class V, int MRP, int NRP, int NMax>
struct NarrowKernels {
  template <int P, int... Ns>
  static constexpr auto row(std::integer_sequence<int, Ns...>) {
    using Tile = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float, int);
    return std::array<Tile, NMax>{&narrow_tile<V, MRP, NRP, P, Ns + 1>...};
  }
  static constexpr auto one = row<1>(std::make_integer_sequence<int, NMax>{});
  static constexpr auto two = row<2>(std::make_integer_sequence<int, NMax>{});

  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                  int n) {
    (m > MRP ? two : one)[n - 1](kc, a, b, c, ldc, alpha, beta, m);
  }
};

}  // namespace sn::cpu::gemm_detail
