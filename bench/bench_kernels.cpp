// Google Benchmark suite for the fast kernels: convolution per algorithm (Winograd F(4x4,3x3) and
// F(6x6,3x3), im2col + SGEMM, and the reference loops on a small shape for scale), its backward passes, and
// the pooling / resizing / padding / normalisation / elementwise kernels VGG and the decoder use, and
// the finishing of a stylized picture (guided filter, colour match).
//
// Counters: conv benchmarks report GFLOP/s counted as direct convolution (2 C O 9 OH OW per
// image, so Winograd's figure is "effective") and `peak` = that over the FMA peak measured for the
// same ISA and thread count (an FMA-only loop, as bench_gemm.cpp); the memory-bound kernels report
// GB/s of tensor data read + written. Run with --benchmark_repetitions=N
// --benchmark_report_aggregates_only=true and quote medians; the machine may be shared.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/kernels/core.h"
#include "tensor/kernels/image.h"
#include "stylenet/finish.h"
#include "tensor/random.h"
#include "vision/guided_filter.h"
#include "bench/benchmark_main.h"
#include "bench/fma_peak.h"

using namespace sn;
using namespace sn::cpu;
using sn::bench::peak_gflops;

namespace {

// ---- convolution ----

struct ConvLayer {
  const char* name;
  int64_t N, C, O, H;  // 3x3, stride 1, padding 1
};
// VGG16 at 224 (batch 1) and the training shapes at 256 (batch 4, deeper layers).
const ConvLayer kLayers[] = {
    {"conv1_2_224", 1, 64, 64, 224},   {"conv2_2_224", 1, 128, 128, 112}, {"conv3_2_224", 1, 256, 256, 56},
    {"conv4_2_224", 1, 512, 512, 28},  {"conv5_2_224", 1, 512, 512, 14},  {"conv1_1_224", 1, 3, 64, 224},
    {"conv4_2_256b4", 4, 512, 512, 32},
};

enum class Pass { Forward, BackwardInput, BackwardWeight };

void BM_Conv(benchmark::State& state, ConvLayer l, Pass pass, const char* algo) {
  const int threads = static_cast<int>(state.range(0));
  const Isa isa = best_isa();
  Generator g(3);
  const Tensor x = Tensor::randn({l.N, l.C, l.H, l.H}, g), w = Tensor::randn({l.O, l.C, 3, 3}, g),
               b = Tensor::randn({l.O}, g), dy = Tensor::randn({l.N, l.O, l.H, l.H}, g);
  kernels::Conv2dParams p;
  p.padding = {1, 1};
  ThreadsScope ts(threads);
  set_conv_algo_override(algo);
  auto run = [&] {
    switch (pass) {
      case Pass::Forward: return kernels::conv2d(x, w, b, p);
      case Pass::BackwardInput: return kernels::conv2d_backward_input(dy, w, x.shape(), p);
      case Pass::BackwardWeight: return kernels::conv2d_backward_weight(dy, x, w.shape(), p);
    }
    return Tensor();
  };
  run();
  for (auto _ : state) benchmark::DoNotOptimize(run());
  set_conv_algo_override("auto");
  const double flops = 2.0 * l.N * l.C * l.O * 9 * l.H * l.H * state.iterations();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["peak"] = benchmark::Counter(flops * 1e-9 / peak_gflops(isa, threads), benchmark::Counter::kIsRate);
}

// The reference loops, on one small layer, for scale.
void BM_ConvReference(benchmark::State& state) {
  Generator g(3);
  const Tensor x = Tensor::randn({1, 64, 56, 56}, g), w = Tensor::randn({64, 64, 3, 3}, g), b = Tensor::randn({64}, g);
  kernels::Conv2dParams p;
  p.padding = {1, 1};
  for (auto _ : state) benchmark::DoNotOptimize(kernels::conv2d_ref(x, w, b, p));
  const double flops = 2.0 * 64 * 64 * 9 * 56 * 56 * state.iterations();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
}

// ---- memory-bound kernels: GB/s of tensor data touched ----

template <class F>
void memory_bound(benchmark::State& state, double bytes, F&& f) {
  ThreadsScope ts(static_cast<int>(state.range(0)));
  f();
  for (auto _ : state) benchmark::DoNotOptimize(f());
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}

const Shape kAct{1, 64, 224, 224};  // VGG's largest activation

void BM_Relu(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn(kAct, g);
  memory_bound(state, 8.0 * x.numel(), [&] { return kernels::unary(kernels::Unary::Relu, x); });
}
void BM_Add(benchmark::State& state) {
  Generator g(1);
  const Tensor a = Tensor::randn(kAct, g), b = Tensor::randn(kAct, g);
  memory_bound(state, 12.0 * a.numel(), [&] { return kernels::binary(kernels::Binary::Add, a, b); });
}
void BM_Mul(benchmark::State& state) {
  Generator g(1);
  const Tensor a = Tensor::randn(kAct, g), b = Tensor::randn(kAct, g);
  memory_bound(state, 12.0 * a.numel(), [&] { return kernels::binary(kernels::Binary::Mul, a, b); });
}
void BM_SumAll(benchmark::State& state) {
  Generator g(1);
  const Tensor a = Tensor::randn(kAct, g);
  memory_bound(state, 4.0 * a.numel(), [&] { return kernels::reduce(kernels::Reduce::Sum, a, {}, false); });
}
void BM_MaxPool2x2(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn(kAct, g);
  kernels::Pool2dParams p;
  memory_bound(state, 5.0 * x.numel(), [&] { return kernels::max_pool2d(x, p); });
}
void BM_MaxPool2x2Backward(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn(kAct, g), gy = Tensor::randn({1, 64, 112, 112}, g);
  kernels::Pool2dParams p;
  memory_bound(state, 9.0 * x.numel(), [&] { return kernels::max_pool2d_backward(gy, x, p); });
}
void BM_UpsampleNearest2x(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn({1, 64, 112, 112}, g);
  memory_bound(state, 20.0 * x.numel(), [&] { return kernels::upsample_nearest2d(x, 2, 2); });
}
void BM_UpsampleBilinear2x(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn({1, 64, 112, 112}, g);
  memory_bound(state, 20.0 * x.numel(), [&] { return kernels::upsample_bilinear2d(x, 224, 224); });
}
void BM_ReflectPad1(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn(kAct, g);
  memory_bound(state, 8.0 * x.numel(), [&] { return kernels::pad2d(x, {1, 1, 1, 1}, kernels::PadMode::Reflect); });
}
void BM_InstanceNorm(benchmark::State& state) {
  Generator g(1);
  const Tensor x = Tensor::randn(kAct, g);
  memory_bound(state, 12.0 * x.numel(), [&] { return kernels::instance_norm(x, Tensor(), Tensor(), 1e-5).out; });
}
// The finishing of a 1024 x 1024 picture (stylenet/finish.h): the guided filter at the default
// radius for that size (8 px), and the colour match. GB/s counts the two images read and one written.
void BM_GuidedFilter1024(benchmark::State& state) {
  Generator g(1);
  const Tensor guide = Tensor::rand({1, 3, 1024, 1024}, g), source = Tensor::rand({1, 3, 1024, 1024}, g);
  memory_bound(state, 12.0 * guide.numel(), [&] { return guided_filter(guide, source, 8, 1e-3); });
}
void BM_MatchColors1024(benchmark::State& state) {
  Generator g(1);
  const Tensor image = Tensor::rand({1, 3, 1024, 1024}, g), style = Tensor::rand({1, 3, 512, 512}, g);
  memory_bound(state, 8.0 * image.numel(), [&] { return match_colors(image, {{style, 1.0}}); });
}

void register_all() {
  for (const ConvLayer& l : kLayers) {
    const bool wino = l.C >= 16;
    for (const char* algo : {"winograd", "winograd6", "gemm"}) {
      if (!wino && std::string(algo) != "gemm") continue;
      benchmark::RegisterBenchmark((std::string("BM_ConvForward/") + l.name + "/" + algo).c_str(), BM_Conv, l,
                                   Pass::Forward, algo)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((std::string("BM_ConvBackwardInput/") + l.name).c_str(), BM_Conv, l,
                                 Pass::BackwardInput, "auto")
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("BM_ConvBackwardWeight/") + l.name).c_str(), BM_Conv, l,
                                 Pass::BackwardWeight, "auto")
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_ConvReference/conv_64x64_56", BM_ConvReference)->Unit(benchmark::kMillisecond);
  for (auto [name, fn] : std::initializer_list<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"BM_Relu", BM_Relu}, {"BM_Add", BM_Add}, {"BM_Mul", BM_Mul}, {"BM_SumAll", BM_SumAll},
           {"BM_MaxPool2x2", BM_MaxPool2x2}, {"BM_MaxPool2x2Backward", BM_MaxPool2x2Backward},
           {"BM_UpsampleNearest2x", BM_UpsampleNearest2x}, {"BM_UpsampleBilinear2x", BM_UpsampleBilinear2x},
           {"BM_ReflectPad1", BM_ReflectPad1}, {"BM_InstanceNorm", BM_InstanceNorm},
           {"BM_GuidedFilter1024", BM_GuidedFilter1024}, {"BM_MatchColors1024", BM_MatchColors1024}})
    benchmark::RegisterBenchmark(name, fn)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(
        benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) { return sn::bench::run_registered_benchmarks(argc, argv, register_all); }
