// Google Benchmark suite for the Winograd transforms alone (tensor/cpu/winograd_kernels.h), one
// thread: the input transform (patches -> V) and the output transform (M -> pixels, with bias and
// ReLU, and the 2x2 max-pool where the layer has one), on VGG16's layers at 224 in the block sizes
// winograd.cpp runs them in. In a whole forward pass the transforms are about a quarter of the time
// and the GEMMs the rest (perf, 1 thread, 2026-12-06), so these are the kernels to watch.
//
// Two placements of the data:
//   hot:   the first block, again and again: its input and V (or M and output) stay in L2, so this
//          is the kernel's own cost (instructions, shuffles, L1);
//   layer: every block of the layer in turn, as the convolution walks them: the input (or output)
//          planes come from (go to) L3 or memory, as in a pass.
// Counter ns_per_tile_channel: the time per tile and input (output) plane.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/benchmark_main.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/winograd_kernels.h"
#include "tensor/cpu/workspace.h"

using namespace sn::cpu;
using namespace sn::cpu::winograd_detail;

namespace {

struct TransformLayer {
  const char* name;
  int m;               // output tile side
  int64_t C, O, H;     // input and output planes, square map, 3x3 padding 1
  int64_t block;       // tiles per block, as winograd.cpp sizes it on this layer
  bool pool;           // output: the layer ends in a 2x2 max-pool
};
const TransformLayer kLayers[] = {
    {"conv1_2_224", 6, 64, 64, 224, 64, true},
    {"conv2_1_224", 6, 64, 128, 112, 32, false},
    {"conv2_2_224", 6, 128, 128, 112, 32, true},
    {"conv3_2_224", 4, 256, 256, 56, 196, false},
};

TileGeometry geometry(const TransformLayer& l) {
  return {l.C, l.H, l.H, l.O, l.H, l.H, 1, 1, (l.H + l.m - 1) / l.m, (l.H + l.m - 1) / l.m};
}

int64_t tiles_of(const TileGeometry& g) { return g.tiles_h * g.tiles_w; }

// Runs f(t0, tb) over the blocks the placement asks for, timed per iteration.
template <class F>
void run_blocks(benchmark::State& state, const TileGeometry& g, int64_t block, bool hot, int64_t planes, F&& f) {
  const int64_t tiles = tiles_of(g);
  for (auto _ : state) {
    if (hot) {
      f(0, block);
    } else {
      for (int64_t t0 = 0; t0 < tiles; t0 += block) f(t0, std::min(block, tiles - t0));
    }
    benchmark::ClobberMemory();
  }
  const double per_iteration = double(hot ? block : tiles) * planes;
  state.counters["ns_per_tile_channel"] =
      benchmark::Counter(per_iteration * state.iterations() * 1e-9, benchmark::Counter::kIsRate |
                                                                         benchmark::Counter::kInvert);
}

void BM_Input(benchmark::State& state, TransformLayer l, bool hot) {
  if (active_isa() == Isa::Ref) return state.SkipWithError("no AVX2: the transforms are per-ISA kernels");
  const TileGeometry g = geometry(l);
  std::vector<float> x(l.C * l.H * l.H);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 97) * 0.01f - 0.4f;
  const PackedBLayout vl = packed_b_layout(l.C, l.block);
  const int64_t a = l.m + 2;
  WorkspaceLease V(a * a * position_stride(vl));
  run_blocks(state, g, l.block, hot, l.C, [&](int64_t t0, int64_t tb) {
    winograd_active(l.m).input(g, x.data(), 0, l.C, t0, tb, packed_b_layout(l.C, tb), V.data(), false);
  });
}

void BM_Output(benchmark::State& state, TransformLayer l, bool hot) {
  if (active_isa() == Isa::Ref) return state.SkipWithError("no AVX2: the transforms are per-ISA kernels");
  const int64_t O = l.O;
  const TileGeometry g = geometry(l);
  const int64_t a = l.m + 2, xs = position_stride(row_major(O, l.block));
  WorkspaceLease M(a * a * xs);
  for (int64_t i = 0; i < a * a * xs; ++i) M.data()[i] = float(i % 89) * 0.01f - 0.4f;
  std::vector<float> y(O * l.H * l.H), bias(O, 0.05f);
  run_blocks(state, g, l.block, hot, O, [&](int64_t t0, int64_t tb) {
    winograd_active(l.m).output(g, M.data(), 0, O, t0, tb, bias.data(), true, l.pool, y.data());
  });
}

void register_all() {
  for (const TransformLayer& l : kLayers)
    for (const bool hot : {true, false}) {
      const std::string where = hot ? "/hot" : "/layer";
      benchmark::RegisterBenchmark((std::string("BM_WinogradInput/") + l.name + where).c_str(), BM_Input, l, hot)
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((std::string("BM_WinogradOutput/") + l.name + where).c_str(), BM_Output, l, hot)
          ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace

int main(int argc, char** argv) { return sn::bench::run_registered_benchmarks(argc, argv, register_all); }
