// Winograd F(4x4, 3x3) convolution driver (see tensor/cpu/conv.h for when it is chosen and
// winograd_kernels.h for the layouts).
//
// Per call: transform the weights once (U; kept between calls by tensor/cpu/weight_cache.h when the
// caller names them), then walk the output tiles of the whole batch in
// blocks of Tb tiles: transform the block's input tiles (V), do the 36 GEMMs M[xi] = U[xi] V[xi]
// with our threaded SGEMM, and transform M back into output pixels (adding bias and ReLU there, so
// the fused conv + ReLU costs nothing extra). Tb is chosen so V and M together stay a few MB:
// they are written and read back while still in cache, and the scratch does not grow with the
// image or the batch.
//
// Accuracy: the transforms multiply by constants up to 8 and sum up to 36 terms, so the rounding
// error is larger than a direct convolution's (for VGG-like data about 1e-6..1e-5 relative to the
// output's scale, vs ~1e-7); tests/test_conv_fast.cpp bounds it and README states the measured
// error on VGG16.
#include <algorithm>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/winograd_kernels.h"
#include "tensor/cpu/workspace.h"

namespace sn::cpu {

using namespace winograd_detail;

namespace {
// Floats of V + M per tile block (16 MiB).
constexpr int64_t kBlockBudget = 4 << 20;
}  // namespace

namespace {

const WinogradKernels& kernels() { return active_isa() == Isa::Avx512 ? winograd_avx512() : winograd_avx2(); }

// U = G w G^T for w [O, C, 3, 3], packed as the A of each of the 36 GEMMs (U kept only where a
// PackedA still reads it).
DerivedWeights transformed_weights(const float* w, int64_t O, int64_t C) {
  DerivedWeights d;
  d.source_floats = static_cast<size_t>(36 * O * C);
  d.source = std::make_unique<WorkspaceLease>(d.source_floats);
  float* u = d.source->data();
  parallel_for(0, O, std::max<int64_t>(1, 4096 / C),
               [&](int64_t o0, int64_t o1) { kernels().weights(w, O, C, o0, o1, u); });
  bool reads_source = false;
  for (int64_t xi = 0; xi < 36; ++xi) {
    d.packed.emplace_back(Trans::No, O, C, u + xi * O * C, C);
    reads_source |= d.packed.back().packed_bytes() == 0;
  }
  if (!reads_source) d.source.reset();
  return d;
}

// The convolution with weights already transformed (U as `u`).
void forward_with(const ConvShape& s, const float* x, const DerivedWeights& u, const float* bias, float* y,
                  bool relu) {
  const WinogradKernels& k = kernels();
  const TileGeometry g{s.C, s.H, s.W, s.O, s.OH, s.OW, s.ph, s.pw, (s.OH + 3) / 4, (s.OW + 3) / 4};
  const int64_t tiles = s.N * g.tiles_h * g.tiles_w;
  int64_t block = kBlockBudget / (36 * (s.C + s.O));
  block = std::clamp<int64_t>(block / 16 * 16, 16, tiles);
  WorkspaceLease V(36 * s.C * block), M(36 * s.O * block);
  for (int64_t t0 = 0; t0 < tiles; t0 += block) {
    const int64_t tb = std::min(block, tiles - t0);
    parallel_for(0, s.C, std::max<int64_t>(1, 256 / tb),
                 [&](int64_t c0, int64_t c1) { k.input(g, x, c0, c1, t0, tb, V.data()); });
    for (int64_t xi = 0; xi < 36; ++xi)
      sgemm_packed(u.packed[xi], Trans::No, tb, 1.0f, V.data() + xi * s.C * tb, tb, 0.0f, M.data() + xi * s.O * tb, tb);
    parallel_for(0, s.O, std::max<int64_t>(1, 256 / tb),
                 [&](int64_t o0, int64_t o1) { k.output(g, M.data(), o0, o1, t0, tb, bias, relu, y); });
  }
}

}  // namespace

void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                             bool relu, const WeightKey& key) {
  const auto u = derived_weights(key, derived_kind("winograd4x3", s), [&] { return transformed_weights(w, s.O, s.C); });
  forward_with(s, x, *u, bias, y, relu);
}

void conv2d_backward_input_winograd(const ConvShape& s, const float* dy, const float* w, float* dx,
                                    const WeightKey& key) {
  const auto u = derived_weights(key, derived_kind("winograd4x3 flipped", s), [&] {
    // wf[c, o, kh, kw] = w[o, c, KH - 1 - kh, KW - 1 - kw]: O(O C) work against O(N O C H W) for
    // the convolution.
    const int64_t taps = s.KH * s.KW;
    WorkspaceLease wf(static_cast<size_t>(s.C * s.O * taps));
    parallel_for(0, s.C, std::max<int64_t>(1, 4096 / (s.O * taps)), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t o = 0; o < s.O; ++o) {
          const float* src = w + (o * s.C + c) * taps;
          float* dst = wf.data() + (c * s.O + o) * taps;
          for (int64_t t = 0; t < taps; ++t) dst[t] = src[taps - 1 - t];
        }
    });
    return transformed_weights(wf.data(), s.C, s.O);
  });
  forward_with(backward_input_as_forward(s), dy, *u, nullptr, dx, false);
}

}  // namespace sn::cpu
