// Fast float32 convolution (tensor/cpu/conv.h, reached through kernels::conv2d*) against the
// reference loops (kernels::conv2d*_ref), on every ISA path (forced with IsaScope), 1 and 2
// threads, odd sizes, padding, strides, dilation, groups, 1x1, and non-contiguous inputs.
//
// Error bound. The reference accumulates in double, so it is the exact result up to one float
// rounding. Any float32 summation order of a length-D dot product is within D * eps of exact
// relative to the sum of |products| (Higham 3.1), and that sum is itself a convolution of the
// absolute values, which the reference computes for us:
//     |fast - ref| <= (D + 2) * eps * conv_ref(|x|, |w|) + tiny,    D = the products per output.
// A wrong index or a missed tap is off by O(1) relative to that sum, orders of magnitude above.
//
// Winograd F(4x4, 3x3) adds the rounding of its transforms (constants up to 8, sums of up to 36
// terms). We hold it to 4 (C + 64) eps conv_ref(|x|, |w|) (backward data through Winograd, a
// forward convolution of dy with O input channels: 4 (O + 64) eps); the worst measured over these
// shapes is 39 eps conv_ref(|x|, |w|), and its relative RMS error on VGG16 is in README.
// F(6x6, 3x3) (constants up to 32, sums of up to 64 terms) is held to 8 (C + 64) eps; the worst
// measured over these shapes is 190 eps (16 channels with padding 2, where conv_ref(|x|, |w|) is
// small), typically 25-60. The weight gradient through Winograd F(4x4) (where the forward would
// run Winograd) is held to the plain bound with D = N OH OW, the products each weight's gradient
// sums: its sums run over tiles (16x fewer terms), its transforms' constants are at most 8.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "tensor/cpu/conv.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/kernels/core.h"
#include "tensor/kernels/image.h"
#include "tensor/random.h"

using namespace sn;
using namespace sn::cpu;
using kernels::Conv2dParams;

namespace {

struct ConvCase {
  Shape x;  // [N, C, H, W]
  int64_t O, KH, KW;
  Conv2dParams p;
  bool bias = true;
};

std::string describe(const ConvCase& c) {
  return detail::cat("x ", shape_str(c.x), " O ", c.O, " k ", c.KH, "x", c.KW, " stride ", c.p.stride[0], ",",
                     c.p.stride[1], " pad ", c.p.padding[0], ",", c.p.padding[1], " dil ", c.p.dilation[0], ",",
                     c.p.dilation[1], " groups ", c.p.groups);
}

Conv2dParams params(int64_t stride, int64_t pad, int64_t dil = 1, int64_t groups = 1) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {pad, pad};
  p.dilation = {dil, dil};
  p.groups = groups;
  return p;
}

std::vector<ConvCase> cases() {
  std::vector<ConvCase> v = {
      {{1, 3, 7, 9}, 5, 3, 3, params(1, 1)},            // VGG's first layer shape, odd sizes
      {{2, 16, 13, 11}, 24, 3, 3, params(1, 1)},        // 3x3 same padding, batch 2
      {{1, 17, 10, 10}, 19, 3, 3, params(1, 0)},        // no padding
      {{2, 6, 15, 14}, 7, 3, 3, params(2, 1)},          // strided
      {{1, 8, 12, 12}, 8, 1, 1, params(1, 0), false},   // pointwise (no im2col)
      {{2, 9, 11, 13}, 12, 1, 1, params(2, 0)},         // strided 1x1
      {{1, 4, 16, 16}, 6, 5, 5, params(1, 2, 2)},       // dilated
      {{2, 8, 9, 9}, 12, 3, 3, params(1, 1, 1, 4)},     // grouped
      {{1, 3, 20, 21}, 4, 7, 7, params(2, 3)},          // 7x7 stride-2 stem
      {{1, 5, 6, 6}, 3, 4, 2, params(1, 3)},            // non-square kernel, padding > kernel / 2
      {{1, 32, 40, 36}, 40, 3, 3, params(1, 1)},        // larger: several GEMM blocks, threads split
  };
  // Non-square stride and padding.
  ConvCase c{{1, 6, 13, 17}, 5, 3, 2, params(1, 1)};
  c.p.stride = {2, 1};
  c.p.padding = {0, 2};
  v.push_back(c);
  return v;
}

// x with the same values laid out W-major ([N, C, W, H] storage seen through transposed
// strides), so the fast path gets a non-contiguous input.
Tensor noncontiguous(const Tensor& x) {
  const Shape& s = x.shape();
  Tensor t = Tensor::empty({s[0], s[1], s[3], s[2]});
  Tensor view = t.as_strided(s, {s[1] * s[2] * s[3], s[2] * s[3], 1, s[2]}, 0);
  view.copy_from(x);
  REQUIRE(!view.is_contiguous());
  return view;
}

// abs: sn::abs (autograd/ops.h), which records nothing for these tensors (no grad required).

// Element-wise |got - want| <= (depth + 2) * eps * mag + tiny.
void check_close(const Tensor& got, const Tensor& want, const Tensor& mag, int64_t depth, const std::string& what) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>(), m = mag.to_vector<float>();
  const double eps = std::numeric_limits<float>::epsilon();
  int64_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double bound = (depth + 2) * eps * m[i] + 1e-30;
    if (!(std::abs(double(g[i]) - w[i]) <= bound) && bad++ < 3)
      FAIL_CHECK(what, ": element ", i, " = ", g[i], ", reference ", w[i], ", bound ", bound);
  }
  CHECK_MESSAGE(bad == 0, what);
}

// The "depth" check_close allows Winograd with C input channels (see the top of the file).
int64_t winograd_depth(cpu::ConvAlgo algo, int64_t C) {
  return algo == cpu::ConvAlgo::Winograd6x3 ? 8 * (C + 64) : 4 * (C + 64);
}

struct Results {
  Tensor y, dx, dw, db;
};

// Runs the dispatching kernels on one case and checks them against the reference.
Results check_conv(const ConvCase& c, bool noncontig, uint64_t seed = 7) {
  Generator gen(seed);
  const Shape wshape{c.O, c.x[1] / c.p.groups, c.KH, c.KW};
  Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn(wshape, gen);
  Tensor b = c.bias ? Tensor::randn({c.O}, gen) : Tensor();
  Tensor ref = kernels::conv2d_ref(x, w, b, c.p);
  Tensor gy = Tensor::randn(ref.shape(), gen);
  if (noncontig) x = noncontiguous(x), gy = noncontiguous(gy);
  const std::string what = describe(c) + (noncontig ? " (non-contiguous)" : "");
  const int64_t taps = wshape[1] * c.KH * c.KW, pixels = ref.size(0) * ref.size(2) * ref.size(3);

  Results r;
  r.y = kernels::conv2d(x, w, b, c.p);
  Tensor mag = kernels::conv2d_ref(abs(x), abs(w), c.bias ? abs(b) : Tensor(), c.p);
  const cpu::ConvShape cs{c.x[0], c.x[1], c.x[2], c.x[3], c.O, c.KH, c.KW, ref.size(2), ref.size(3), c.p.stride[0],
                          c.p.stride[1], c.p.padding[0], c.p.padding[1], c.p.dilation[0], c.p.dilation[1], c.p.groups};
  const cpu::ConvAlgo algo = cpu::active_isa() != Isa::Ref ? cpu::conv2d_algo(cs) : cpu::ConvAlgo::Im2colGemm;
  check_close(r.y, ref, mag, cpu::winograd_tile(algo) ? winograd_depth(algo, c.x[1]) : taps,
              what + " forward " + cpu::conv_algo_name(algo));

  // Backward data through Winograd is a forward Winograd convolution with O input channels.
  const cpu::ConvAlgo bwd = cpu::active_isa() != Isa::Ref ? cpu::conv2d_backward_input_algo(cs) : cpu::ConvAlgo::Im2colGemm;
  r.dx = kernels::conv2d_backward_input(gy, w, c.x, c.p);
  check_close(r.dx, kernels::conv2d_backward_input_ref(gy, w, c.x, c.p),
              kernels::conv2d_backward_input_ref(abs(gy), abs(w), c.x, c.p),
              cpu::winograd_tile(bwd) ? winograd_depth(bwd, c.O) : c.O / c.p.groups * c.KH * c.KW,
              what + " backward input " + cpu::conv_algo_name(bwd));

  r.dw = kernels::conv2d_backward_weight(gy, x, wshape, c.p);
  check_close(r.dw, kernels::conv2d_backward_weight_ref(gy, x, wshape, c.p),
              kernels::conv2d_backward_weight_ref(abs(gy), abs(x), wshape, c.p), pixels, what + " backward weight");

  r.db = kernels::conv2d_backward_bias(gy);
  check_close(r.db, kernels::conv2d_backward_bias_ref(gy), kernels::conv2d_backward_bias_ref(abs(gy)), pixels,
              what + " backward bias");
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) { return a.to_vector<float>() == b.to_vector<float>(); }

}  // namespace

TEST_CASE("conv2d fast path: every ISA, 1 and 2 threads, forward and all backward kernels match the reference") {
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(isa_name(isa));
      CAPTURE(threads);
      for (const ConvCase& c : cases())
        for (bool noncontig : {false, true}) check_conv(c, noncontig);
    }
  }
}

// Forces an algorithm for the scope (STYLENET_CONV's programmatic twin).
struct AlgoScope {
  explicit AlgoScope(const char* name) { cpu::set_conv_algo_override(name); }
  ~AlgoScope() { cpu::set_conv_algo_override("auto"); }
};

// Forces the Winograd GEMMs' orientation for the scope ("columns" or "rows", see conv.h).
struct TilesScope {
  explicit TilesScope(const char* name) { cpu::set_winograd_tiles_override(name); }
  ~TilesScope() { cpu::set_winograd_tiles_override("auto"); }
};

// Runs f() with each of `algos` forced, each orientation of Winograd's GEMMs and each fast ISA (the
// configuration captured for failure messages); f picks its thread counts.
template <class F>
void for_each_forced(std::initializer_list<const char*> algos, F&& f) {
  for (const char* algo : algos)
    for (const char* tiles : {"columns", "rows"}) {
      if (!std::strcmp(algo, "gemm") && !std::strcmp(tiles, "rows")) continue;  // no Winograd GEMMs to orient
      for (Isa isa : supported_isas()) {
        if (isa == Isa::Ref) continue;
        IsaScope is(isa);
        AlgoScope as(algo);
        TilesScope tsc(tiles);
        const std::string config = detail::cat(algo, ", tiles as ", tiles, ", ", isa_name(isa));
        CAPTURE(config);
        f();
      }
    }
}

// More tiles than one Winograd block holds: 5120 of F(4x4) and 2210 of F(6x6) here, against
// winograd.cpp's 448 and 256 per thread block at 16 + 16 channels (and 3640 and 2048 per shared
// block), so each thread runs several blocks and the last one is narrower.
const ConvCase kSeveralTileBlocks{{2, 16, 78, 510}, 16, 3, 3, params(1, 1)};

TEST_CASE("conv2d Winograd F(4x4,3x3) and im2col forced on every 3x3 stride-1 shape: every ISA, 1 and 2 threads") {
  std::vector<ConvCase> wcases = {
      {{1, 16, 8, 8}, 16, 3, 3, params(1, 1)},     // one tile row, whole tiles
      {{2, 17, 13, 11}, 19, 3, 3, params(1, 1)},   // ragged tiles at the bottom and right, batch 2
      {{1, 20, 9, 7}, 24, 3, 3, params(1, 0)},     // no padding
      {{1, 16, 10, 10}, 16, 3, 3, params(1, 2)},   // padding 2 (output larger than input)
      {{1, 3, 12, 12}, 5, 3, 3, params(1, 1)},     // few channels (auto would not pick Winograd)
      {{2, 32, 70, 9}, 40, 3, 3, params(1, 1)},    // many tiles: several blocks and lane groups
      // Wide rows: 16 tiles side by side inside the input / output take the vectorised row <->
      // lane transposes (winograd_lanes.h); the rest of each row the per-tile path.
      {{1, 16, 14, 150}, 16, 3, 3, params(1, 1)},
      {{2, 16, 11, 133}, 20, 3, 3, params(1, 0)},
  };
  ConvCase asym{{1, 16, 11, 23}, 18, 3, 3, params(1, 1)};
  asym.p.padding = {0, 1};
  wcases.push_back(asym);
  for_each_forced({"winograd", "winograd6", "gemm"}, [&] {
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(threads);
      for (const ConvCase& c : wcases)
        for (bool noncontig : {false, true}) check_conv(c, noncontig);
    }
  });
}

namespace {
// check_conv(c) on 1 thread and on each of `more` threads: every result with 1 thread's bits.
void check_same_bits_as_one_thread(const ConvCase& c, std::initializer_list<int> more) {
  Results one_thread;
  {
    ThreadsScope ts(1);
    one_thread = check_conv(c, false);
  }
  for (int threads : more) {
    ThreadsScope ts(threads);
    CAPTURE(threads);
    const Results r = check_conv(c, false);
    CHECK((same_bits(r.y, one_thread.y) && same_bits(r.dx, one_thread.dx) && same_bits(r.dw, one_thread.dw)));
  }
}
}  // namespace

TEST_CASE("conv2d Winograd over several tile blocks: every ISA, 1 and 2 threads, tiles as columns and rows") {
  for_each_forced({"winograd", "winograd6"}, [&] { check_same_bits_as_one_thread(kSeveralTileBlocks, {2}); });
}

// Blocks the threads share by output channels (winograd.cpp, split_by_channels: at least four
// GEMM panels of channels per thread): with the tiles as columns, each thread's rows of the GEMMs
// and its channels' output transform; with the tiles as rows, its columns. The channel counts
// leave a ragged last part on both ISAs and 2 or 3 threads; the bits must not depend on the
// thread count.
TEST_CASE("conv2d Winograd with the threads sharing each block by output channels: bits of 1 thread") {
  // With the tiles as rows, 24 input channels go past the cache by runs of 4 planes (winograd_impl.h,
  // input_rows_past_cache), 22 do not.
  const std::vector<ConvCase> cases = {{{1, 24, 19, 22}, 150, 3, 3, params(1, 1)},
                                       {{2, 24, 9, 10}, 410, 3, 3, params(1, 1)},
                                       {{1, 22, 13, 13}, 400, 3, 3, params(1, 1)}};
  for_each_forced({"winograd", "winograd6"}, [&] {
    for (const ConvCase& c : cases) check_same_bits_as_one_thread(c, {2, 3});
  });
}

// With OpenBLAS doing the GEMMs the input transform writes V row-major (PackedBLayout's nr == 0)
// instead of as our SGEMM's packed panels.
TEST_CASE("conv2d Winograd with the OpenBLAS backend against the reference") {
  set_gemm_backend(GemmBackend::OpenBlas);
  for (const char* algo : {"winograd", "winograd6"}) {
    AlgoScope as(algo);
    CAPTURE(algo);
    for (const ConvCase& c : {ConvCase{{2, 17, 13, 11}, 19, 3, 3, params(1, 1)}, kSeveralTileBlocks})
      check_conv(c, false);
  }
  set_gemm_backend(GemmBackend::Own);
}

namespace {
// Stride-1 cases that "auto" runs on a direct kernel, checked against the reference on every ISA
// with 1 and 2 threads.
void check_direct(const std::vector<ConvCase>& dcases) {
  for (Isa isa : supported_isas()) {
    if (isa == Isa::Ref) continue;
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(isa_name(isa));
      CAPTURE(threads);
      for (const ConvCase& c : dcases) {
        const int64_t ph = c.p.padding[0], pw = c.p.padding[1];
        const cpu::ConvShape cs{c.x[0], c.x[1], c.x[2], c.x[3], c.O, c.KH, c.KW, c.x[2] + 2 * ph - c.KH + 1,
                                c.x[3] + 2 * pw - c.KW + 1, 1, 1, ph, pw, 1, 1, 1};
        CHECK(cpu::conv2d_algo(cs) == cpu::ConvAlgo::Direct);
        for (bool noncontig : {false, true}) check_conv(c, noncontig);
      }
    }
  }
}
}  // namespace

TEST_CASE("conv2d direct (at most 4 outputs, no padding) against the reference: every ISA, 1 and 2 threads") {
  // Whole 32-pixel strips and a ragged end of the row, two output rows, a row narrower than a
  // strip, 1 to 4 outputs, a 1x1 and a 5x3 kernel. "auto" picks the direct kernel for all of them.
  const std::vector<ConvCase> dcases = {
      {{1, 64, 20, 70}, 3, 3, 3, params(1, 0)}, {{2, 5, 9, 40}, 1, 3, 3, params(1, 0)},
      {{1, 7, 4, 35}, 4, 3, 3, params(1, 0)},   {{1, 3, 5, 5}, 2, 3, 3, params(1, 0)},
      {{1, 8, 6, 40}, 3, 1, 1, params(1, 0)},   {{1, 6, 9, 37}, 3, 5, 3, params(1, 0), false},
  };
  check_direct(dcases);
}

TEST_CASE("conv2d direct (at most 4 inputs, any padding) against the reference: every ISA, 1 and 2 threads") {
  // VGG16's conv1_1 shape with several bands of rows and a ragged last strip; output channels that
  // are not a whole block (5, 9, 12) or fewer than one; a row narrower than one vector; 5x5 and 3x1
  // kernels; padding larger than the kernel (whole zero rows and columns); batch 2 with bands that
  // cross no image edge. "auto" picks the direct kernel for all of them.
  ConvCase nonsquare{{1, 3, 6, 100}, 8, 3, 1, params(1, 1)};
  nonsquare.p.padding = {1, 0};
  const std::vector<ConvCase> dcases = {
      {{1, 3, 20, 70}, 64, 3, 3, params(1, 1)}, {{2, 1, 19, 40}, 5, 3, 3, params(1, 0)},
      {{1, 4, 11, 35}, 12, 5, 5, params(1, 2)}, {{1, 2, 5, 5}, 9, 3, 3, params(1, 1)},
      {{1, 3, 3, 3}, 16, 3, 3, params(1, 3), false}, nonsquare,
  };
  check_direct(dcases);
}

TEST_CASE("conv2d fused bias + ReLU (cpu::conv2d_forward relu=true) on im2col and both Winograd tiles") {
  Generator gen(11);
  const Shape xs{2, 16, 15, 13};
  const Tensor x = Tensor::randn(xs, gen), w = Tensor::randn({24, 16, 3, 3}, gen), b = Tensor::randn({24}, gen);
  const Conv2dParams p = params(1, 1);
  const Tensor ref = kernels::conv2d_ref(x, w, b, p);
  const Tensor mag = kernels::conv2d_ref(abs(x), abs(w), abs(b), p);
  const cpu::ConvShape cs{2, 16, 15, 13, 24, 3, 3, 15, 13, 1, 1, 1, 1, 1, 1, 1};
  const std::vector<float> rv = ref.to_vector<float>(), mv = mag.to_vector<float>();
  for (Isa isa : supported_isas()) {
    if (isa == Isa::Ref) continue;
    IsaScope is(isa);
    for (int tile : {0, 4, 6}) {  // im2col, F(4x4), F(6x6)
      std::vector<float> y(rv.size());
      if (tile) cpu::conv2d_forward_winograd(cs, x.data<float>(), w.data<float>(), b.data<float>(), y.data(), true, {}, tile);
      else cpu::conv2d_forward_gemm(cs, x.data<float>(), w.data<float>(), b.data<float>(), y.data(), true);
      const double eps = std::numeric_limits<float>::epsilon();
      int64_t bad = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        const double want = std::max(rv[i], 0.0f), bound = 8 * (16 + 64) * eps * mv[i] + 1e-30;
        if (!(y[i] >= 0 && std::abs(y[i] - want) <= bound)) ++bad;
      }
      CHECK_MESSAGE(bad == 0, isa_name(isa), " tile ", tile);
    }
  }
}

// The fused op computes the conv's value and clamps it, and masks the gradient by output > 0 before
// the same conv backward kernels, so on every path it must give exactly relu(conv2d(...))'s bits,
// forward and gradients; the unfused ops are held to the reference above.
TEST_CASE("conv2d_relu: the same bits as relu(conv2d) on every ISA and algorithm, 1 and 2 threads") {
  const std::vector<ConvCase> fcases = {
      {{2, 16, 13, 11}, 24, 3, 3, params(1, 1)},          // Winograd on the fast ISAs under auto
      {{1, 3, 9, 10}, 8, 3, 3, params(1, 1)},             // im2col (few channels)
      {{2, 6, 15, 14}, 7, 3, 3, params(2, 1)},            // strided
      {{1, 8, 12, 12}, 8, 1, 1, params(1, 0), false},     // pointwise, no bias
      {{1, 16, 9, 40}, 3, 3, 3, params(1, 0)},            // direct (few outputs, no padding)
  };
  struct Out {
    std::vector<float> y, dx, dw, db;
  };
  const auto run = [](const ConvCase& c, bool fused) {
    Generator gen(5);
    const Shape wshape{c.O, c.x[1] / c.p.groups, c.KH, c.KW};
    Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn(wshape, gen);
    Tensor b = c.bias ? Tensor::randn({c.O}, gen) : Tensor();
    for (Tensor* t : {&x, &w, &b})
      if (t->defined()) t->set_requires_grad(true);
    Conv2dOptions o;
    o.stride = c.p.stride, o.padding = c.p.padding, o.dilation = c.p.dilation, o.groups = c.p.groups;
    const Tensor y = fused ? conv2d_relu(x, w, b, o) : relu(conv2d(x, w, b, o));
    Generator gg(9);
    backward(sum(mul(y, Tensor::randn(y.shape(), gg))));
    return Out{y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
               c.bias ? b.grad().to_vector<float>() : std::vector<float>()};
  };
  for (Isa isa : supported_isas()) {
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      for (const ConvCase& c : fcases) {
        CAPTURE(isa_name(isa));
        CAPTURE(threads);
        CAPTURE(describe(c));
        const Out f = run(c, true), u = run(c, false);
        int64_t positive = 0;
        for (float v : f.y) positive += v > 0;
        CHECK(positive > 0);
        CHECK(positive < static_cast<int64_t>(f.y.size()));  // both sides of the kink are exercised
        CHECK(f.y == u.y);
        CHECK(f.dx == u.dx);
        CHECK(f.dw == u.dw);
        CHECK(f.db == u.db);
      }
    }
  }
}

// Inference's conv + ReLU + 2x2 max-pool as one op (conv2d_relu_pool with nothing needing a
// gradient: Winograd pools its output tiles before storing them): the same bits as the ops one
// after the other on every ISA, algorithm, orientation of Winograd's GEMMs and thread count, with
// odd sides (the pool drops the last row or column), ragged tiles and several tile blocks.
TEST_CASE("conv2d_relu_pool: the same bits as max_pool2d(conv2d_relu) on every ISA, algorithm and thread count") {
  const std::vector<ConvCase> pcases = {
      {{2, 16, 13, 11}, 24, 3, 3, params(1, 1)},   // odd sides, batch 2
      {{1, 16, 14, 150}, 16, 3, 3, params(1, 1)},  // wide rows: whole lane groups
      {{1, 20, 9, 7}, 24, 3, 3, params(1, 0)},     // no padding: a 7 x 5 map
      {{1, 3, 12, 12}, 5, 3, 3, params(1, 1)},     // few channels
      kSeveralTileBlocks,
  };
  const auto bits = [](const Tensor& t) {
    const std::vector<float> v = t.to_vector<float>();
    std::vector<uint32_t> b(v.size());
    std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
    return b;
  };
  NoGradGuard no_grad;
  for_each_forced({"auto", "winograd", "winograd6", "gemm"}, [&] {
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      for (const ConvCase& c : pcases) {
        CAPTURE(threads);
        CAPTURE(describe(c));
        Generator gen(11);
        const Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn({c.O, c.x[1], 3, 3}, gen);
        const Tensor b = Tensor::randn({c.O}, gen);
        Conv2dOptions o;
        o.padding = c.p.padding;
        const Tensor fused = conv2d_relu_pool(x, w, b, o), apart = max_pool2d(conv2d_relu(x, w, b, o), {});
        REQUIRE(fused.shape() == apart.shape());
        CHECK(bits(fused) == bits(apart));
        int64_t positive = 0;
        for (float v : fused.to_vector<float>()) positive += v > 0;
        CHECK(positive > 0);
        CHECK(positive < fused.numel());  // some windows are all clamped to zero
      }
    }
  });
}

// With a gradient wanted it is the two ops, recorded: the same values and gradients.
TEST_CASE("conv2d_relu_pool: with gradients, the values and gradients of max_pool2d(conv2d_relu)") {
  Generator gen(12);
  const Tensor x0 = Tensor::randn({1, 16, 13, 11}, gen), w0 = Tensor::randn({24, 16, 3, 3}, gen);
  const Tensor b = Tensor::randn({24}, gen);
  Conv2dOptions o;
  o.padding = {1, 1};
  std::vector<float> y[2], dx[2], dw[2];
  for (int fused = 0; fused < 2; ++fused) {
    const Tensor x = x0.detach().set_requires_grad(true), w = w0.detach().set_requires_grad(true);
    const Tensor out = fused ? conv2d_relu_pool(x, w, b, o) : max_pool2d(conv2d_relu(x, w, b, o), {});
    backward(sum(mul(out, out)));
    y[fused] = out.to_vector<float>(), dx[fused] = x.grad().to_vector<float>(), dw[fused] = w.grad().to_vector<float>();
  }
  CHECK(y[0] == y[1]);
  CHECK(dx[0] == dx[1]);
  CHECK(dw[0] == dw[1]);
  // A map too small to pool gets max_pool2d's error, gradient or not.
  NoGradGuard no_grad;
  CHECK_THROWS_WITH(conv2d_relu_pool(Tensor::randn({1, 16, 1, 5}, gen), w0, b, o),
                    doctest::Contains("larger than the padded input"));
}

TEST_CASE("conv2d fast path: the same bits run after run and for 1 and 2 threads") {
  const ConvCase c{{2, 32, 40, 36}, 40, 3, 3, params(1, 1)};
  for (Isa isa : supported_isas()) {
    if (isa == Isa::Ref) continue;
    IsaScope is(isa);
    CAPTURE(isa_name(isa));
    Results one, two, again;
    {
      ThreadsScope ts(1);
      one = check_conv(c, false);
    }
    {
      ThreadsScope ts(2);
      two = check_conv(c, false);
      again = check_conv(c, false);
    }
    CHECK(same_bits(two.y, again.y));
    CHECK(same_bits(two.dx, again.dx));
    CHECK(same_bits(two.dw, again.dw));
    CHECK(same_bits(one.y, two.y));
    CHECK(same_bits(one.dx, two.dx));
    CHECK(same_bits(one.dw, two.dw));
    CHECK(same_bits(one.db, two.db));
  }
}

TEST_CASE("conv2d: STYLENET_ISA=ref runs the reference loops, float64 always does") {
  Generator gen(3);
  const ConvCase c{{1, 4, 9, 8}, 3, 3, 3, params(2, 1)};
  Tensor x = Tensor::randn(c.x, gen), w = Tensor::randn({3, 4, 3, 3}, gen), b = Tensor::randn({3}, gen);
  {
    IsaScope is(Isa::Ref);
    CHECK(same_bits(kernels::conv2d(x, w, b, c.p), kernels::conv2d_ref(x, w, b, c.p)));
  }
  const Tensor xd = x.to(DType::Float64), wd = w.to(DType::Float64), bd = b.to(DType::Float64);
  CHECK(kernels::conv2d(xd, wd, bd, c.p).to_vector<double>() == kernels::conv2d_ref(xd, wd, bd, c.p).to_vector<double>());
}
