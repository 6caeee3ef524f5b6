// Google Benchmark suite for the reference kernels: the baseline every fast kernel is measured
// against. Counters report GFLOP/s (2 flops per multiply-add).
#include <benchmark/benchmark.h>

#include "autograd/nn_ops.h"
#include "tensor/kernels/core.h"
#include "tensor/random.h"

using namespace sn;

namespace {

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void BM_MatmulRef(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator g(1);
  const Tensor a = Tensor::randn({n, n}, g), b = Tensor::randn({n, n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(kernels::matmul(a, b));
  set_flops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_MatmulRef)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);

// VGG-like 3x3 convolution, stride 1, padding 1: args = channels in/out, spatial size.
void BM_Conv3x3Ref(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1);
  Generator g(1);
  const Tensor x = Tensor::randn({1, c, hw, hw}, g), w = Tensor::randn({c, c, 3, 3}, g);
  const Tensor b = Tensor::zeros({c});
  Conv2dOptions opt;
  opt.padding = {1, 1};
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, b, opt));
  set_flops(state, 2.0 * c * c * 9 * hw * hw);
}
BENCHMARK(BM_Conv3x3Ref)->Args({16, 64})->Args({64, 56})->Unit(benchmark::kMillisecond);

void BM_Conv3x3BackwardRef(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1);
  Generator g(1);
  const Tensor x = Tensor::randn({1, c, hw, hw}, g), w = Tensor::randn({c, c, 3, 3}, g);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  Conv2dOptions opt;
  opt.padding = {1, 1};
  for (auto _ : state) {
    Tensor y = conv2d(x, w, Tensor(), opt);
    backward(sum(y));
  }
  set_flops(state, 3 * 2.0 * c * c * 9 * hw * hw);  // forward + data grad + weight grad
}
BENCHMARK(BM_Conv3x3BackwardRef)->Args({16, 64})->Unit(benchmark::kMillisecond);

void BM_AddBroadcastRef(benchmark::State& state) {
  Generator g(1);
  const Tensor a = Tensor::randn({8, 64, 64, 64}, g), b = Tensor::randn({64, 1, 1}, g);
  for (auto _ : state) benchmark::DoNotOptimize(kernels::binary(kernels::Binary::Add, a, b));
  state.SetBytesProcessed(state.iterations() * a.numel() * 8);
}
BENCHMARK(BM_AddBroadcastRef)->Unit(benchmark::kMillisecond);

void BM_SumRef(benchmark::State& state) {
  Generator g(1);
  const Tensor a = Tensor::randn({8, 64, 64, 64}, g);
  for (auto _ : state) benchmark::DoNotOptimize(kernels::reduce(kernels::Reduce::Sum, a, {2, 3}, false));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4);
}
BENCHMARK(BM_SumRef)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
