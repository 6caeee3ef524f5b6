// The per-ISA Winograd kernels that winograd.cpp drives (winograd_kernels.h): the weight, input and
// output transforms over a block of tiles, in both orientations of the GEMMs, and the backward
// weights' transforms. One idea per header, each including the one before:
//   winograd_tile.h     the transforms of one tile (B^T d B, G g G^T, A^T m A) over L lanes
//   winograd_lanes.h    a block's tiles as rows of pixels and as lanes, and the conversions
//   winograd_patches.h  input patches gathered a lane group at a time; prefetches
//   winograd_impl.h     the kernels (this file)
// Included only by winograd_avx2.cpp / winograd_avx512.cpp, each compiled with its ISA's flags;
// everything is in an anonymous namespace (internal linkage, so the linker cannot mix the copies)
// and calls no inline library templates.
#pragma once
#include "tensor/cpu/winograd_patches.h"

namespace sn::cpu::winograd_detail {
namespace {

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
