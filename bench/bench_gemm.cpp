// SGEMM benchmarks: our kernels per ISA against OpenBLAS, 1 and 2 threads, on the GEMMs a VGG-19
// im2col convolution does (M = Cout, N = H*W, K = Cin*9) and on squares.
//
// Counters: GFLOP/s (2 flops per multiply-add) and "peak" = fraction of the FMA throughput measured
// by BM_FmaPeak for the same ISA and thread count (OpenBLAS is compared with the widest ISA's peak).
// Run with --benchmark_repetitions=N --benchmark_report_aggregates_only=true and quote medians;
// compare ratios from one run only: the machine is shared and absolute numbers drift.
//
// OpenBLAS 0.3.21 does not recognise some newer Xeons and falls back to its SSE3 "Prescott"
// kernels; that would flatter us. main() therefore re-runs this binary with OPENBLAS_CORETYPE set
// to the best core OpenBLAS has for this CPU, unless OPENBLAS_CORETYPE is already set.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

using namespace sn;
using namespace sn::cpu;

namespace {

// ---------------------------------------------------------------------------------------------
// Peak FMA throughput: 10 independent accumulator chains per thread (more than the FMA latency x
// ports, so the loop is throughput-bound); the empty asm keeps the compiler from merging them.

#define SN_FMA_LOOP(R, SET1, FMA, LANES)                                                              \
  R a0 = SET1(0.1f), a1 = SET1(0.2f), a2 = SET1(0.3f), a3 = SET1(0.4f), a4 = SET1(0.5f),             \
    a5 = SET1(0.6f), a6 = SET1(0.7f), a7 = SET1(0.8f), a8 = SET1(0.9f), a9 = SET1(1.0f);             \
  const R b = SET1(0.99999f), c = SET1(1e-7f);                                                      \
  for (int64_t i = 0; i < iters; ++i) {                                                           \
    a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c); a3 = FMA(a3, b, c);               \
    a4 = FMA(a4, b, c); a5 = FMA(a5, b, c); a6 = FMA(a6, b, c); a7 = FMA(a7, b, c);               \
    a8 = FMA(a8, b, c); a9 = FMA(a9, b, c);                                                       \
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),   \
                     "+v"(a7), "+v"(a8), "+v"(a9));                                              \
  }                                                                                               \
  R s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;                                          \
  benchmark::DoNotOptimize(s);                                                                    \
  return 10.0 * 2 * LANES * iters;  // flops

__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters) {
  SN_FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}
__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters) {
  SN_FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}

// Runs the loop once per thread (one chunk each) and returns the total flops.
double fma_loop(Isa isa, int threads, int64_t iters) {
  std::vector<double> flops(threads);
  parallel_for_chunks(0, threads, 1, [&](int64_t chunk, int64_t, int64_t) {
    flops[chunk] = isa == Isa::Avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
  });
  double total = 0;
  for (double f : flops) total += f;
  return total;
}

// Peak GFLOP/s for (isa, threads), measured once (best of 3 short runs) and cached.
double peak_gflops(Isa isa, int threads) {
  static std::map<std::pair<Isa, int>, double> cache;
  auto [it, fresh] = cache.try_emplace({isa, threads}, 0.0);
  if (fresh) {
    ThreadsScope ts(threads);
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const double flops = fma_loop(isa, threads, 20'000'000);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      it->second = std::max(it->second, flops / s * 1e-9);
    }
  }
  return it->second;
}

void BM_FmaPeak(benchmark::State& state, Isa isa) {
  if (!isa_supported(isa)) return state.SkipWithError("ISA not available");
  const int threads = static_cast<int>(state.range(0));
  ThreadsScope ts(threads);
  double flops = 0;
  for (auto _ : state) flops += fma_loop(isa, threads, 5'000'000);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------------------------------------
// SGEMM

enum class Impl { OwnAvx2, OwnAvx512, OpenBlas };

struct Shape3 {
  const char* name;
  int64_t M, N, K;
};
// VGG-19 convolutions at 224 x 224 as im2col GEMMs (weights [Cout, Cin*9] @ columns [Cin*9, H*W]),
// then squares.
const Shape3 kShapes[] = {
    {"conv1_1", 64, 224 * 224, 3 * 9},     {"conv1_2", 64, 224 * 224, 64 * 9},
    {"conv2_1", 128, 112 * 112, 64 * 9},   {"conv2_2", 128, 112 * 112, 128 * 9},
    {"conv3_1", 256, 56 * 56, 128 * 9},    {"conv3_2", 256, 56 * 56, 256 * 9},
    {"conv4_1", 512, 28 * 28, 256 * 9},    {"conv4_2", 512, 28 * 28, 512 * 9},
    {"conv5_x", 512, 14 * 14, 512 * 9},    {"square512", 512, 512, 512},
    {"square1024", 1024, 1024, 1024},      {"square2048", 2048, 2048, 2048},
};

void BM_Sgemm(benchmark::State& state, Impl impl, Shape3 s, Trans ta, Trans tb) {
  const Isa isa = impl == Impl::OwnAvx2 ? Isa::Avx2 : impl == Impl::OwnAvx512 ? Isa::Avx512 : best_isa();
  if (!isa_supported(isa)) return state.SkipWithError("ISA not available");
  const int threads = static_cast<int>(state.range(0));
  const double peak = peak_gflops(isa == Isa::Ref ? Isa::Avx2 : isa, threads);

  Generator g(7);
  // The operands as stored (transposed ones swap their dims), values in [-1, 1].
  const int64_t a_rows = ta == Trans::Yes ? s.K : s.M, a_cols = ta == Trans::Yes ? s.M : s.K;
  const int64_t b_rows = tb == Trans::Yes ? s.N : s.K, b_cols = tb == Trans::Yes ? s.K : s.N;
  const Tensor A = Tensor::rand({a_rows, a_cols}, g, -1, 1), B = Tensor::rand({b_rows, b_cols}, g, -1, 1);
  Tensor C = Tensor::zeros({s.M, s.N});

  IsaScope is(isa);
  ThreadsScope ts(threads);
  set_gemm_backend(impl == Impl::OpenBlas ? GemmBackend::OpenBlas : GemmBackend::Own);
  auto run = [&] {
    sgemm(ta, tb, s.M, s.N, s.K, 1.0f, A.data<float>(), a_cols, B.data<float>(), b_cols, 0.0f,
          C.data<float>(), s.N);
  };
  run();  // warm-up: page faults, packing buffers, thread pools
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  set_gemm_backend(GemmBackend::Own);
  const double flops = 2.0 * s.M * s.N * s.K;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["peak"] = benchmark::Counter(flops * 1e-9 * state.iterations() / peak, benchmark::Counter::kIsRate);
}

// The GEMMs of one warm Winograd F(4x4) forward at batch 1, as the convolution runs them: 36
// positions, each its own packed A (the cached transformed weights, O x C: 37.7 MB for a 512-channel
// layer, streamed from memory) times B in the packed layout the input transform writes (C x tiles).
// GFLOP/s counts the useful columns only, so lanes padded to the 16-float vector show as a loss
// (49 tiles fill 49 of 64 columns).
void BM_WinogradGemm(benchmark::State& state, int64_t channels, int64_t tiles, bool swapped) {
  if (!isa_supported(Isa::Avx512)) return state.SkipWithError("ISA not available");
  const int threads = static_cast<int>(state.range(0));
  const double peak = peak_gflops(Isa::Avx512, threads);
  constexpr int kPositions = 36;
  IsaScope is(Isa::Avx512);
  ThreadsScope ts(threads);
  Generator g(7);
  // Not swapped: M (O x tiles) = U (O x C) V (C x tiles). Swapped: M^T (tiles x O) = V^T U^T, the
  // weights the wide operand.
  const int64_t rows = swapped ? tiles : channels, cols = swapped ? channels : tiles;
  const Tensor a = Tensor::rand({kPositions, rows, channels}, g, -1, 1);
  std::vector<PackedA> A;
  for (int p = 0; p < kPositions; ++p)
    A.emplace_back(Trans::No, rows, channels, a.data<float>() + p * rows * channels, channels);
  const PackedBLayout layout = packed_b_layout(channels, cols);
  const auto stride = static_cast<int64_t>(layout.floats() + 16);  // 64-byte aligned positions
  const Tensor B = Tensor::rand({kPositions * stride}, g, -1, 1);
  Tensor C = Tensor::zeros({kPositions, rows, cols});
  auto run = [&] {
    for (int p = 0; p < kPositions; ++p)
      sgemm_packed(A[p], layout, B.data<float>() + p * stride, 1.0f, 0.0f, C.data<float>() + p * rows * cols, cols,
                   p + 1 < kPositions ? B.data<float>() + (p + 1) * stride : nullptr);  // as the convolution
  };
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * kPositions * channels * channels * tiles;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["peak"] = benchmark::Counter(flops * 1e-9 * state.iterations() / peak, benchmark::Counter::kIsRate);
}

const char* impl_name(Impl impl) {
  return impl == Impl::OwnAvx2 ? "own_avx2" : impl == Impl::OwnAvx512 ? "own_avx512" : "openblas";
}

void register_all() {
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    benchmark::RegisterBenchmark((std::string("BM_FmaPeak/") + isa_name(isa)).c_str(), BM_FmaPeak, isa)
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
  // Shape-major order, so the implementations being compared run next to each other.
  auto add = [](const Shape3& s, Trans ta, Trans tb, const std::string& suffix) {
    for (Impl impl : {Impl::OwnAvx512, Impl::OpenBlas, Impl::OwnAvx2})
      benchmark::RegisterBenchmark(
          ("BM_Sgemm/" + std::string(s.name) + suffix + "/" + impl_name(impl)).c_str(), BM_Sgemm,
          impl, s, ta, tb)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond)
          ->MinTime(0.1);
  };
  for (const Shape3& s : kShapes) add(s, Trans::No, Trans::No, "");
  // The backward passes of a convolution: dW = dY @ cols^T (NT), dcols = W^T @ dY (TN).
  add({"conv3_2", 256, 56 * 56, 256 * 9}, Trans::No, Trans::Yes, "_NT");
  add({"conv3_2", 256 * 9, 56 * 56, 256}, Trans::Yes, Trans::No, "_TN");
  // VGG16's Winograd layers at 224 (channels, tiles): conv3_x, conv4_x, conv5_x, and conv4 at 256.
  for (auto [channels, tiles] : {std::pair<int64_t, int64_t>{256, 196}, {512, 49}, {512, 16}, {512, 64}})
    for (bool swapped : {false, true})
      benchmark::RegisterBenchmark(("BM_WinogradGemm/c" + std::to_string(channels) + "_t" + std::to_string(tiles) +
                                    (swapped ? "/tiles_x_weights" : "/weights_x_tiles")).c_str(),
                                   BM_WinogradGemm, channels, tiles, swapped)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);
}

// See the top of the file: make OpenBLAS use its best kernels for this CPU.
void fix_openblas_core(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::strcmp(openblas_core_name(), "Prescott") != 0) return;
  const char* core = isa_supported(Isa::Avx512) ? "SkylakeX" : isa_supported(Isa::Avx2) ? "Haswell" : nullptr;
  if (!core) return;
  std::fprintf(stderr, "note: OpenBLAS picked Prescott (SSE3) kernels; re-running with OPENBLAS_CORETYPE=%s\n", core);
  setenv("OPENBLAS_CORETYPE", core, 1);
  execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  fix_openblas_core(argv);
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("openblas_core", openblas_core_name());
  benchmark::AddCustomContext("best_isa", isa_name(best_isa()));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
