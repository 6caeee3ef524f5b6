// The input patches of a lane group's tiles, gathered a row at a time from the input planes, and
// the prefetches that keep the transforms fed. Part of winograd_impl.h (see there for how these
// headers are compiled).
#pragma once
#include "tensor/cpu/winograd_lanes.h"

namespace sn::cpu::winograd_detail {
namespace {

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

// (The prefetches by hand, prefetch_l1 and prefetch_for_write, are in intrinsics.h.)
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

}  // namespace
}  // namespace sn::cpu::winograd_detail
