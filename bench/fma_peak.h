// The machine's FMA peak, measured: each thread runs 12 independent FMA chains (enough to cover the
// FMA latency on the cores we run on) in 30 bursts of a few milliseconds; the fastest burst counts,
// cached per (ISA, threads). On these shared virtual machines the host lends the cores unevenly,
// so the best short burst is the closest to what a core can do. The benchmarks quote their multiply-adds
// against it (bench_kernels.cpp, vgg_bench.cpp).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"

namespace sn::bench {

// Keeps the chains' results alive without a library (Google Benchmark's DoNotOptimize).
template <class T>
inline void sink(T& value) {
  __asm__ volatile("" : : "r"(&value) : "memory");
}

// 12 chains in named variables: an array (a[i] in a loop) was kept on the stack by the compiler,
// and the loop then measured store-to-load latency (76 GFLOP/s on one Zen 5 thread, against
// 130 with the chains in registers).
#define SN_FMA_PEAK_LOOP(VEC, SET1, FMA, LANES)                                                        \
  VEC a0 = SET1(0.1f), a1 = SET1(0.2f), a2 = SET1(0.3f), a3 = SET1(0.4f), a4 = SET1(0.5f), a5 = SET1(0.6f); \
  VEC a6 = SET1(0.7f), a7 = SET1(0.8f), a8 = SET1(0.9f), a9 = SET1(1.0f), a10 = SET1(1.1f), a11 = SET1(1.2f); \
  const VEC b = SET1(0.99999f), c = SET1(1e-7f);                                                       \
  for (int64_t it = 0; it < iters; ++it) {                                                            \
    a0 = FMA(a0, b, c), a1 = FMA(a1, b, c), a2 = FMA(a2, b, c), a3 = FMA(a3, b, c);                   \
    a4 = FMA(a4, b, c), a5 = FMA(a5, b, c), a6 = FMA(a6, b, c), a7 = FMA(a7, b, c);                   \
    a8 = FMA(a8, b, c), a9 = FMA(a9, b, c), a10 = FMA(a10, b, c), a11 = FMA(a11, b, c);               \
  }                                                                                                   \
  VEC all[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};                                     \
  sink(all);                                                                                          \
  return 12.0 * 2 * LANES * iters;

__attribute__((target("avx512f"))) inline double fma_avx512(int64_t iters) {
  SN_FMA_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}
__attribute__((target("avx2,fma"))) inline double fma_avx2(int64_t iters) {
  SN_FMA_PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
#undef SN_FMA_PEAK_LOOP

inline double peak_gflops(cpu::Isa isa, int threads) {
  static std::map<std::pair<cpu::Isa, int>, double> cache;
  auto [it, fresh] = cache.try_emplace({isa, threads}, 0.0);
  if (!fresh) return it->second;
  cpu::ThreadsScope ts(threads);
  for (int rep = 0; rep < 30; ++rep) {
    std::vector<double> flops(threads);
    const auto t0 = std::chrono::steady_clock::now();
    cpu::parallel_for_chunks(0, threads, 1, [&](int64_t c, int64_t, int64_t) {
      flops[c] = isa == cpu::Isa::Avx512 ? fma_avx512(2'000'000) : fma_avx2(2'000'000);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    it->second = std::max(it->second, total / s * 1e-9);
  }
  return it->second;
}

}  // namespace sn::bench
