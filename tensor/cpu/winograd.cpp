// Winograd F(m x m, 3x3) convolution driver, m = 4 or 6 (see tensor/cpu/conv.h for when each is
// chosen and winograd_kernels.h for the layouts).
//
// Per call: transform the weights once (U; kept between calls by tensor/cpu/weight_cache.h when the
// caller names them), then walk the output tiles of the whole batch in blocks of Tb tiles:
// transform the block's input tiles (V, written where the GEMM reads it: packed_b_layout), do the
// a^2 GEMMs M[xi] = U[xi] V[xi] with our SGEMM, and transform M back into output pixels (adding
// bias and ReLU there, so the fused conv + ReLU costs nothing extra). Where the tiles are few and
// the channels many, the GEMMs run transposed, M^T[xi] = V^T[xi] U^T[xi] (the tiles as rows; see
// tiles_as_rows), with U^T cached in that form. Where the channels are few
// enough, each thread runs blocks of its own start to end, sized so V and M stay in its L2
// (thread_block_tiles); otherwise the threads share each block, sized so V and M stay a few MB.
// Either way the scratch does not grow with the image or the batch, and the bits do not depend on
// the thread count (each output is summed in the same order whatever the block).
//
// Accuracy: the transforms multiply by constants up to 8 (F(6x6): 32) and sum up to 36 (64)
// terms, so the rounding error is larger than a direct convolution's (for VGG-like data about
// 1e-6..1e-5 relative to the output's scale, vs ~1e-7; F(6x6) about twice F(4x4)'s);
// tests/test_conv_fast.cpp bounds both and README states the measured error on VGG16.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/winograd_kernels.h"
#include "tensor/cpu/workspace.h"
#include "tensor/error.h"

namespace sn::cpu {

using namespace winograd_detail;

namespace {
// Floats of V + M per tile block (16 MiB) when the threads share each block.
constexpr int64_t kBlockBudget = 4 << 20;
// Floats of V + M per block when each thread runs blocks of its own (2 MiB: about this core's L2),
// and the fewest tiles such a block may have (one GEMM panel of AVX-512 columns).
constexpr int64_t kThreadBlockBudget = 1 << 19;
constexpr int64_t kMinThreadBlock = 32;
// Bytes of transformed weights per slice when they are made for one call only (streamed_rows).
constexpr int64_t kWeightSliceBytes = 8 << 20;
}  // namespace

namespace {

const WinogradKernels& kernels(int m) { return winograd_active(m); }

// Positions of the transform: (m + 2)^2.
int64_t positions(int m) { return (m + 2) * (m + 2); }

// Tiles per block of the given shape: V and M together stay within kBlockBudget.
int64_t block_tiles(const ConvShape& s, int m, int64_t tiles) {
  const int64_t block = kBlockBudget / (positions(m) * (s.C + s.O));
  return std::clamp<int64_t>(block / 16 * 16, 16, tiles);
}

// Tiles per block when the blocks are shared out among the threads, each thread running its own
// from input transform to output (no synchronisation inside a block, V and M stay in the thread's
// cache); 0 where that does not pay and the threads share each block instead (its transforms by
// channel, its GEMMs whole): a block of kMinThreadBlock tiles would not fit
// kThreadBlockBudget (many channels: each thread would stream all of U through its own block's
// few columns), or there are fewer than two blocks per thread. Measured on VGG16 at 224, 2 threads
// (stylenet_vgg_bench --layers 1): conv1_2 16 -> 10 ms, conv2_2 7.2 -> 5.0 ms; 256-channel
// layers were faster shared (conv3_2 6.8 against 8.5-9.9 ms, stylenet_bench_kernels).
int64_t thread_block_tiles(const ConvShape& s, int m, int64_t tiles, int threads) {
  // Whole GEMM panels of tiles: with AVX-512's 32-wide panels, a block of 48 ran its last 16
  // columns in the half-width micro-tile (conv2_2 at 224: 7.41 -> 7.20 ms on 1 thread, 3.97 -> 3.84
  // on 2, blocks of 48 -> 32 tiles, medians of 6 / 4 ABBA rounds).
  const int64_t panel = std::max<int64_t>(16, packed_b_layout(s.C, 1).nr);
  const int64_t fit = kThreadBlockBudget / (positions(m) * (s.C + s.O)) / panel * panel;
  if (fit < kMinThreadBlock || tiles < 2 * threads * fit || gemm_backend() != GemmBackend::Own) return 0;
  return fit;
}

// The tiles of F(m x m) over s's output, and s's planes.
TileGeometry tile_geometry(const ConvShape& s, int m) {
  return {s.C, s.H, s.W, s.O, s.OH, s.OW, s.ph, s.pw, (s.OH + m - 1) / m, (s.OW + m - 1) / m};
}

// Floats of a block's a^2 matrices of V (in the layout the GEMM multiplies) or of M (row-major)
// for tb tiles.
int64_t v_floats(const ConvShape& s, int m, int64_t tb) {
  return positions(m) * position_stride(packed_b_layout(s.C, tb));
}
int64_t m_floats(const ConvShape& s, int m, int64_t tb) { return positions(m) * position_stride(row_major(s.O, tb)); }

// V of the tb tiles from t0 in layout vl, the input planes shared out among the threads.
void input_transform(const TileGeometry& g, int m, const float* x, int64_t t0, int64_t tb, const PackedBLayout& vl,
                     float* V) {
  parallel_for(0, g.C, std::max<int64_t>(1, 256 / tb),
               [&](int64_t c0, int64_t c1) { kernels(m).input(g, x, c0, c1, t0, tb, vl, V, false); });
}

// Channels per item of a transform shared by parallel_for_own_parts (a multiple of 16, the lanes
// output_rows takes at once).
constexpr int64_t kTransformChannels = 16;

// n channels cut into `parts` near-equal parts at multiples of `align` (GEMM panels), each part
// into items of `item` channels, for parallel_for_own_parts.
struct OwnParts {
  int64_t n, parts, align, item;
  int64_t begin(int64_t p) const {
    if (p >= parts) return n;
    const int64_t a = std::max<int64_t>(align, 1);
    return std::min(n, (n * p / parts + a / 2) / a * a);
  }
  int64_t begin(int64_t p, int64_t i) const { return begin(p) + i * item; }
  int64_t end(int64_t p, int64_t i) const { return std::min(begin(p, i) + item, begin(p + 1)); }
  auto items() const {
    return [this](int64_t p) { return (begin(p + 1) - begin(p) + item - 1) / item; };
  }
};

// Whether the threads share a block by output channels (BlockJob::run_by_channels,
// RowsJob::run_by_channels) rather than by positions: our SGEMM's packed layouts, and at least
// four panels of `panel` channels per thread (with many threads and few channels the positions
// share out more evenly).
bool split_by_channels(int64_t channels, int64_t panel, int threads, bool packed) {
  return packed && threads > 1 && channels >= 4 * panel * threads;
}

// The tb tiles from t0 of M back into output pixels (with bias and ReLU), the output planes shared
// out among the threads.
void output_transform(const TileGeometry& g, int m, const float* M, int64_t t0, int64_t tb, const float* bias,
                      bool relu, bool pool, float* y) {
  parallel_for(0, g.O, std::max<int64_t>(1, 256 / tb),
               [&](int64_t o0, int64_t o1) { kernels(m).output(g, M, o0, o1, t0, tb, bias, relu, pool, y); });
}

// f(xi, next) for the a^2 positions, shared out whole among the threads and each run serially: one
// fork and join per block instead of one per GEMM, and each GEMM packs its B once (a GEMM cut
// between threads packs it in each). VGG16 at 224, 2 threads: conv4_2 (49 tiles, 512 channels) 9.2
// -> 6.0 ms. `next` is the position the same thread runs after xi, or -1: its GEMM's B is what
// sgemm_packed's next_b asks into the cache ahead.
template <class F>
void each_position(int m, F&& f) {
  parallel_for(0, positions(m), 1, [&](int64_t xi0, int64_t xi1) {
    SerialRegion serial;
    for (int64_t xi = xi0; xi < xi1; ++xi) f(xi, xi + 1 < xi1 ? xi + 1 : int64_t{-1});
  });
}

// U = G w G^T for w [O, C, 3, 3], each U[xi] written straight in layout ul (no row-major U and no
// packing pass: half the memory traffic and fresh pages of a weight transform, which a one-shot run
// pays for every layer), ul.floats() apart, into a lease for the weight cache.
DerivedWeights transform_weights(const float* w, int64_t O, int64_t C, int m, const PackedALayout& ul) {
  const int64_t xis = positions(m);
  DerivedWeights d;
  d.packed_floats = xis * ul.floats();
  d.packed_memory = std::make_unique<WorkspaceLease>(d.packed_floats);
  float* u = d.packed_memory->data();
  if (ul.mr && O % ul.mr)  // the last panel's rows past O are zero
    for (int64_t xi = 0; xi < xis; ++xi)
      for (int64_t k = 0; k < C; ++k)
        for (int64_t i = O; i < ul.m_padded; ++i) u[xi * ul.floats() + ul.offset(i, k)] = 0.0f;
  parallel_for(0, O, std::max<int64_t>(1, 4096 / C),
               [&](int64_t o0, int64_t o1) { kernels(m).weights(w, O, C, o0, o1, ul, u); });
  return d;
}

// U[xi] in the packed layout of the A of each of the a^2 GEMMs M[xi] = U[xi] V[xi].
DerivedWeights transformed_weights(const float* w, int64_t O, int64_t C, int m) {
  const PackedALayout ul = PackedA::layout(O, C);
  DerivedWeights d = transform_weights(w, O, C, m, ul);
  for (int64_t xi = 0; xi < positions(m); ++xi)
    d.packed.push_back(PackedA::adopt(ul, d.packed_memory->data() + xi * ul.floats()));
  return d;
}

// One block of tb tiles from tile t0: input transform, the a^2 GEMMs, output transform, with V and
// M of the block's size.
struct BlockJob {
  const ConvShape& s;
  int m;
  const float* x;
  const std::vector<PackedA>& packed;
  const float* bias;
  float* y;
  bool relu, pool;

  void run(int64_t t0, int64_t tb, float* V, float* M) const {
    const TileGeometry g = tile_geometry(s, m);
    const PackedBLayout vl = packed_b_layout(s.C, tb);
    const int64_t rows = PackedA::layout(s.O, s.C).mr;
    if (split_by_channels(s.O, rows, threads_here(), vl.nr)) return run_by_channels(g, vl, rows, t0, tb, V, M);
    input_transform(g, m, x, t0, tb, vl, V);
    each_position(m, [&](int64_t xi, int64_t next) {
      sgemm_packed(packed[xi], vl, V + xi * position_stride(vl), 1.0f, 0.0f,
                   M + xi * position_stride(row_major(s.O, tb)), tb,
                   next < 0 ? nullptr : V + next * position_stride(vl));
    });
    output_transform(g, m, M, t0, tb, bias, relu, pool, y);
  }

  // The same, the threads sharing the block by output channels: thread p runs the GEMMs' rows of
  // its part of the channels (panels of `rows`) and then the output transform of those channels,
  // each from the rows of M its own core wrote (parallel_for_own_parts; a thread done early takes
  // positions, then channels, from the other's part); V, which every thread reads, is written past
  // the cache. Shared by positions, the GEMMs wrote M's lines that the other core had read in the
  // call before, and the output transform read half of M from the other core. VGG16 at 224, 2
  // threads, 10 ABBA rounds (stylenet_vgg_bench --layers 1): conv3_3 3.67 -> 3.56 ms, conv4_2 3.49
  // -> 3.33, conv4_3 3.44 -> 3.29, the pass 32.76 -> 32.37; in a noisier hour, with the narrow
  // kernel (gemm_kernel.h) too, conv3_2 4.41 -> 3.91, conv3_3 4.46 -> 3.63, the pass 36.6 -> 34.7.
  // An experiment with fixed halves and no taking from the other's part: 31.09 -> 29.96 in a calm
  // hour, 33.60 -> 35.09 in a noisy one (a slowed core held the other up). 1 thread: the same loops.
  void run_by_channels(const TileGeometry& g, const PackedBLayout& vl, int64_t rows, int64_t t0, int64_t tb,
                       float* V, float* M) const {
    const int64_t parts = threads_here(), xis = positions(m);
    const OwnParts in{s.C, parts, 1, kTransformChannels}, out{s.O, parts, rows, kTransformChannels};
    parallel_for_own_parts(parts, in.items(), [&](int64_t p, int64_t i) {
      kernels(m).input(g, x, in.begin(p, i), in.end(p, i), t0, tb, vl, V, true);
    });
    parallel_for_own_parts(parts, [&](int64_t) { return xis; }, [&](int64_t p, int64_t xi) {
      sgemm_packed_part(packed[xi], vl, V + xi * position_stride(vl), 1.0f, 0.0f,
                        M + xi * position_stride(row_major(s.O, tb)), tb, {out.begin(p), out.begin(p + 1), 0, tb},
                        xi + 1 < xis ? V + (xi + 1) * position_stride(vl) : nullptr);
    });
    parallel_for_own_parts(parts, out.items(), [&](int64_t p, int64_t i) {
      kernels(m).output(g, M, out.begin(p, i), out.end(p, i), t0, tb, bias, relu, pool, y);
    });
  }
};

// The convolution with the weights transformed and packed (a^2 PackedA).
void forward_with(const ConvShape& s, int m, const float* x, const std::vector<PackedA>& packed, const float* bias,
                  float* y, bool relu, bool pool) {
  const BlockJob job{s, m, x, packed, bias, y, relu, pool};
  const TileGeometry g = tile_geometry(s, m);
  const int64_t tiles = s.N * g.tiles_h * g.tiles_w;
  if (const int64_t tb = thread_block_tiles(s, m, tiles, threads_here())) {
    // Each block a task of its own, with V and M of its own: the two cores of this VM do not run
    // at one speed (the second streams memory 15-20 % slower), and chunks of two or three blocks
    // left one idle at the end of a layer. VGG16 at 224, 2 threads, 10 ABBA rounds twice: conv1_2
    // 3.78 / 3.88 -> 3.70 ms, conv2_1 -0.06, conv2_2 -0.03 / -0.09, conv3_1 -0.01 / -0.06.
    parallel_for_each_index(0, (tiles + tb - 1) / tb, [&](int64_t b) {
      SerialRegion serial;
      WorkspaceLease V(v_floats(s, m, tb)), M(m_floats(s, m, tb));
      job.run(b * tb, std::min(tb, tiles - b * tb), V.data(), M.data());
    });
    return;
  }
  const int64_t block = block_tiles(s, m, tiles);
  WorkspaceLease V(v_floats(s, m, block)), M(m_floats(s, m, block));
  for (int64_t t0 = 0; t0 < tiles; t0 += block) job.run(t0, std::min(block, tiles - t0), V.data(), M.data());
}

// Output channels per slice of transformed weights when the first call on frozen weights makes
// them for itself alone (or the weight cache is off), or 0 where it takes them whole. Sliced where
// they exceed kWeightSliceBytes and all tiles are one shared block (V is transformed once, each
// slice's GEMMs run over all of it, so nothing is transformed twice): a 512-channel layer's U is
// 38 MB, fresh memory that the first call of a one-shot run faulted in for each size of layer
// (+45 ms on a cold VGG16 pass on this VM). Slices are whole GEMM panels, so each output is summed
// as in the whole GEMM: the same bits.
int64_t streamed_rows(const ConvShape& s, int m) {
  const TileGeometry g = tile_geometry(s, m);
  const int64_t tiles = s.N * g.tiles_h * g.tiles_w;
  const int64_t row_bytes = positions(m) * s.C * int64_t{sizeof(float)};
  if (row_bytes * s.O <= kWeightSliceBytes || block_tiles(s, m, tiles) < tiles ||
      thread_block_tiles(s, m, tiles, threads_here()))
    return 0;
  const int64_t mr = std::max<int64_t>(1, PackedA::layout(s.O, s.C).mr);
  return std::max(mr, kWeightSliceBytes / row_bytes / mr * mr);
}

// The convolution with its weights transformed a slice of `rows` output channels at a time into
// one reused buffer (streamed_rows).
void forward_streamed(const ConvShape& s, int m, const float* x, const float* w, const float* bias, float* y,
                      bool relu, bool pool, int64_t rows) {
  const TileGeometry g = tile_geometry(s, m);
  const int64_t tiles = s.N * g.tiles_h * g.tiles_w;
  const PackedBLayout vl = packed_b_layout(s.C, tiles);
  WorkspaceLease V(v_floats(s, m, tiles)), M(m_floats(s, m, tiles));
  input_transform(g, m, x, 0, tiles, vl, V.data());
  for (int64_t o0 = 0; o0 < s.O; o0 += rows) {
    const int64_t n = std::min(rows, s.O - o0);
    const DerivedWeights u = transformed_weights(w + o0 * s.C * 9, n, s.C, m);
    each_position(m, [&](int64_t xi, int64_t next) {
      sgemm_packed(u.packed[xi], vl, V.data() + xi * position_stride(vl), 1.0f, 0.0f,
                   M.data() + xi * position_stride(row_major(s.O, tiles)) + o0 * tiles, tiles,
                   next < 0 ? nullptr : V.data() + next * position_stride(vl));
    });
  }
  output_transform(g, m, M.data(), 0, tiles, bias, relu, pool, y);
}

// ---- The tiles as the GEMMs' rows ----
// With few tiles and many channels (VGG16's conv4_x at 224, batch 1: 49 tiles, 512 channels),
// M[xi] = U[xi] V[xi] has few columns: 49 tiles fill 49 of the 64 columns of two 32-wide panels,
// and each panel of U, streamed from memory, serves two micro-tiles. Transposed, M^T[xi] =
// V^T[xi] U^T[xi], the output channels are the vector columns (no padding for 512) and U^T's
// panels serve every row block of tiles. stylenet_bench_gemm BM_WinogradGemm (a layer's 36 GEMMs,
// 1 / 2 threads, AVX-512): 49 tiles x 512 channels 7.48 -> 5.93 / 5.15 -> 3.14 ms.
// Whole layers (stylenet_vgg_bench --layers 1 at several sizes, forced one way then the other,
// 1 thread, AVX-512): faster with the tiles as rows at 25-100 tiles x 512 channels (conv4_2 at 224:
// 8.9 -> 7.4 ms; 25 tiles 5.2 -> 4.3; 100 tiles 15.4 -> 13.6) and 36-49 tiles x 256 (2.3 -> 1.7);
// slower at 16 tiles (as columns they fill one 16-wide vector exactly: 512 channels 3.45 -> 3.95),
// with 128 channels (64 tiles 0.80 -> 0.99) and 64 (conv1_2), mixed at 196 tiles x 256.
std::atomic<int> tiles_override{-1};  // -1: by shape, 0: columns, 1: rows (set_winograd_tiles_override)

bool tiles_as_rows(const ConvShape& s, int m) {
  if (!packed_b_layout(s.C, s.O).nr) return false;  // V^T and U^T are written in our SGEMM's packed layouts
  if (const int forced = tiles_override.load(std::memory_order_relaxed); forced >= 0) return forced == 1;
  const TileGeometry g = tile_geometry(s, m);
  const int64_t tiles = s.N * g.tiles_h * g.tiles_w;
  return tiles > 16 && tiles <= 128 && s.C >= 256 && s.O >= 256;
}

// U^T[xi] (C x O) in the packed layout of the B of M^T[xi] = V^T[xi] U^T[xi]: the same panels as
// U[xi] (O x C) in an A layout of panels nr rows high.
DerivedWeights transformed_weights_rows(const float* w, int64_t O, int64_t C, int m) {
  const PackedBLayout bl = packed_b_layout(C, O);
  return transform_weights(w, O, C, m, PackedALayout{O, C, bl.nr, bl.kc, bl.n_padded});
}

// Floats from one position's V^T (layout vl) to the next: a whole number of cache lines, plus one
// (see position_stride).
int64_t rows_stride(const PackedALayout& vl) { return (static_cast<int64_t>(vl.floats()) + 15) / 16 * 16 + 16; }

// One block of tb tiles from t0 with the tiles as the GEMMs' rows (U^T from
// transformed_weights_rows): V^T, the a^2 GEMMs, y from M^T, with V^T and M^T of the block's size.
struct RowsJob {
  const ConvShape& s;
  int m;
  const float* x;
  const float* UT;
  const float* bias;
  float* y;
  bool relu, pool;
  TileGeometry g = tile_geometry(s, m);
  PackedBLayout ul = packed_b_layout(s.C, s.O);
  const WinogradKernels& k = kernels(m);

  void run(int64_t t0, int64_t tb, float* V, float* MT) const {
    const int64_t ms = tb * s.O + 16;
    const PackedALayout vl = PackedA::layout(tb, s.C);
    const int64_t vs = rows_stride(vl), reached = (tb + 15) / 16 * 16;
    // The padding rows no lane group reaches (tb = 16, mr = 12: rows 16 .. 23) are zero; they lie
    // in the last panel, contiguous for each plane.
    if (reached < vl.m_padded)
      for (int64_t xi = 0; xi < positions(m); ++xi)
        for (int64_t c = 0; c < s.C; ++c)
          std::memset(V + xi * vs + vl.offset(reached, c), 0, (vl.m_padded - reached) * sizeof(float));
    if (split_by_channels(s.O, ul.nr, threads_here(), true)) return run_by_channels(t0, tb, vl, vs, V, MT, ms);
    parallel_for(0, g.C, std::max<int64_t>(1, 256 / tb),
                 [&](int64_t c0, int64_t c1) { k.input_rows(g, x, c0, c1, t0, tb, vl, vs, V, false); });
    each_position(m, [&](int64_t xi, int64_t next) {
      sgemm_packed(PackedA::adopt(vl, V + xi * vs), ul, UT + xi * ul.floats(), 1.0f, 0.0f, MT + xi * ms, s.O,
                   next < 0 ? nullptr : UT + next * ul.floats());
    });
    parallel_for(0, (s.O + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
      k.output_rows(g, MT, ms, 16 * b0, std::min(16 * b1, s.O), t0, tb, bias, relu, pool, y);
    });
  }

  // The same, the threads sharing the block by output channels, as BlockJob::run_by_channels:
  // thread p runs the columns of M^T of its channels (panels of U^T's nr) and then their output
  // transform.
  void run_by_channels(int64_t t0, int64_t tb, const PackedALayout& vl, int64_t vs, float* V, float* MT,
                       int64_t ms) const {
    const int64_t parts = threads_here(), xis = positions(m);
    // Input parts at multiples of 4 planes: where input_rows writes V^T past the cache, by runs of 4.
    const OwnParts in{s.C, parts, 4, kTransformChannels}, out{s.O, parts, ul.nr, kTransformChannels};
    parallel_for_own_parts(parts, in.items(), [&](int64_t p, int64_t i) {
      k.input_rows(g, x, in.begin(p, i), in.end(p, i), t0, tb, vl, vs, V, true);
    });
    parallel_for_own_parts(parts, [&](int64_t) { return xis; }, [&](int64_t p, int64_t xi) {
      sgemm_packed_part(PackedA::adopt(vl, V + xi * vs), ul, UT + xi * ul.floats(), 1.0f, 0.0f, MT + xi * ms, s.O,
                        {0, tb, out.begin(p), out.begin(p + 1)}, xi + 1 < xis ? UT + (xi + 1) * ul.floats() : nullptr);
    });
    parallel_for_own_parts(parts, out.items(), [&](int64_t p, int64_t i) {
      k.output_rows(g, MT, ms, out.begin(p, i), out.end(p, i), t0, tb, bias, relu, pool, y);
    });
  }
};

// The convolution with the tiles as the GEMMs' rows: blocks of tiles as in forward_with's shared
// blocks, each a RowsJob.
void forward_rows(const ConvShape& s, int m, const float* x, const float* UT, const float* bias, float* y,
                  bool relu, bool pool) {
  const RowsJob job{s, m, x, UT, bias, y, relu, pool};
  const int64_t tiles = s.N * job.g.tiles_h * job.g.tiles_w, block = block_tiles(s, m, tiles);
  WorkspaceLease V(positions(m) * rows_stride(PackedA::layout(block, s.C))), MT(positions(m) * (block * s.O + 16));
  for (int64_t t0 = 0; t0 < tiles; t0 += block) job.run(t0, std::min(block, tiles - t0), V.data(), MT.data());
}

// The weights [O, C, 3, 3] a convolution runs on: the caller's own, or (backward data) written
// into `scratch`. Called only when they are to be transformed (not on a weight-cache hit).
using WeightsFn = std::function<const float*(std::optional<WorkspaceLease>& scratch)>;

// With a key, the transformed and packed weights come from (or go to) the weight cache; without
// one (trainable weights) they are made for this call.
void forward(const ConvShape& s, int m, const float* x, const WeightsFn& weights, const float* bias, float* y,
             bool relu, bool pool, const WeightKey& key, const std::string& kind) {
  std::optional<WorkspaceLease> scratch;
  const auto make = [&] { return transformed_weights(weights(scratch), s.O, s.C, m); };
  const auto make_rows = [&] { return transformed_weights_rows(weights(scratch), s.O, s.C, m); };
  const bool rows = tiles_as_rows(s, m);
  // Trainable weights (no key) take them whole: a training step recycles the same memory every
  // step, where slices cost more GEMM calls (VGG16 -> relu4_3 fwd+bwd at 128² b4: +4 %).
  if (!key && rows) return forward_rows(s, m, x, make_rows().packed_memory->data(), bias, y, relu, pool);
  if (!key) return forward_with(s, m, x, make().packed, bias, y, relu, pool);
  const std::string derived = derived_kind(kind.c_str(), s);
  if (rows) {
    if (const auto u = kept_derived_weights(key, derived + " tiles as rows", make_rows))
      return forward_rows(s, m, x, u->packed_memory->data(), bias, y, relu, pool);
    // The first use (a one-shot call keeps nothing): as below, but nothing kept in the other form.
    if (const int64_t r = streamed_rows(s, m))
      return forward_streamed(s, m, x, weights(scratch), bias, y, relu, pool, r);
    return forward_with(s, m, x, make().packed, bias, y, relu, pool);
  }
  if (const int64_t rows = streamed_rows(s, m)) {
    if (const auto u = kept_derived_weights(key, derived, make))
      return forward_with(s, m, x, u->packed, bias, y, relu, pool);
    return forward_streamed(s, m, x, weights(scratch), bias, y, relu, pool, rows);
  }
  forward_with(s, m, x, derived_weights(key, derived, make)->packed, bias, y, relu, pool);
}

// The weight cache's name for the transformed weights of F(m x m).
std::string kind_name(int m, const char* what) { return "winograd" + std::to_string(m) + "x3" + what; }

void check_tile(int m) { SN_CHECK(m == 4 || m == 6, "winograd: tile ", m, " is not 4 or 6"); }

}  // namespace

const WinogradKernels& winograd_detail::winograd_active(int m) {
  return active_isa() == Isa::Avx512 ? winograd_avx512(m) : winograd_avx2(m);
}

void set_winograd_tiles_override(const char* name) {
  const std::string n = name ? name : "auto";
  SN_CHECK(n == "auto" || n == "columns" || n == "rows", "set_winograd_tiles_override: '", n,
           "' is not auto, columns or rows");
  tiles_override.store(n == "auto" ? -1 : n == "rows" ? 1 : 0, std::memory_order_relaxed);
}

// dU[xi] = sum over the tile blocks of dM[xi] V[xi]^T, then dw = G^T dU G. The blocks are sized
// as the forward's shared ones (V and dM within kBlockBudget) and each xi's sum runs over them in
// order on one thread, so the bits do not depend on the thread count.
void conv2d_backward_weight_winograd(const ConvShape& s, const float* dy, const float* x, float* dw) {
  constexpr int m = 4;
  const TileGeometry gx = tile_geometry(s, m);
  const int64_t xis = positions(m), tiles = s.N * gx.tiles_h * gx.tiles_w;
  if (tiles == 0) return std::fill(dw, dw + s.O * s.C * 9, 0.0f);  // nothing summed: zero
  const int64_t block = block_tiles(s, m, tiles);
  const WinogradKernels& k = kernels(m);
  const TileGeometry gy{s.O, s.OH, s.OW, s.O, s.OH, s.OW, 0, 0, gx.tiles_h, gx.tiles_w};
  // V is read transposed here: row-major, as dM.
  WorkspaceLease V(xis * position_stride(row_major(s.C, block))), dM(xis * position_stride(row_major(s.O, block))),
      dU(xis * s.O * s.C);
  for (int64_t t0 = 0; t0 < tiles; t0 += block) {
    const int64_t tb = std::min(block, tiles - t0);
    input_transform(gx, m, x, t0, tb, row_major(s.C, tb), V.data());
    parallel_for(0, s.O, std::max<int64_t>(1, 256 / tb),
                 [&](int64_t o0, int64_t o1) { k.output_grad(gy, dy, o0, o1, t0, tb, dM.data()); });
    each_position(m, [&](int64_t xi, int64_t) {
      sgemm(Trans::No, Trans::Yes, s.O, s.C, tb, 1.0f, dM.data() + xi * position_stride(row_major(s.O, tb)), tb,
            V.data() + xi * position_stride(row_major(s.C, tb)), tb,
            t0 == 0 ? 0.0f : 1.0f, dU.data() + xi * s.O * s.C, s.C);
    });
  }
  parallel_for(0, s.O, std::max<int64_t>(1, 4096 / s.C),
               [&](int64_t o0, int64_t o1) { k.weight_grad(dU.data(), s.O, s.C, o0, o1, dw); });
}

void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                             bool relu, const WeightKey& key, int m, bool pool) {
  check_tile(m);
  forward(s, m, x, [w](std::optional<WorkspaceLease>&) { return w; }, bias, y, relu, pool, key, kind_name(m, ""));
}

void conv2d_backward_input_winograd(const ConvShape& s, const float* dy, const float* w, float* dx,
                                    const WeightKey& key, int m) {
  check_tile(m);
  // The flipped weights, wf[c, o, kh, kw] = w[o, c, KH - 1 - kh, KW - 1 - kw]: O(O C) work against
  // O(N O C H W) for the convolution, and none on a weight-cache hit.
  const auto flipped = [&](std::optional<WorkspaceLease>& scratch) {
    const int64_t taps = s.KH * s.KW;
    float* wf = scratch.emplace(s.C * s.O * taps).data();
    parallel_for(0, s.C, std::max<int64_t>(1, 4096 / (s.O * taps)), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t o = 0; o < s.O; ++o) {
          const float* src = w + (o * s.C + c) * taps;
          float* dst = wf + (c * s.O + o) * taps;
          for (int64_t t = 0; t < taps; ++t) dst[t] = src[taps - 1 - t];
        }
    });
    return static_cast<const float*>(wf);
  };
  forward(backward_input_as_forward(s), m, dy, flipped, nullptr, dx, false, false, key, kind_name(m, " flipped"));
}

}  // namespace sn::cpu
