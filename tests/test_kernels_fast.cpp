// Fast float32 elementwise, reduction, pooling, resizing, padding and instance-norm kernels
// (tensor/cpu/pointwise.h, reached through the kernels:: entry points) against the reference
// loops, which IsaScope(Isa::Ref) selects. Every ISA path, 1 and 2 threads, odd sizes, sizes that
// span several parallel chunks, padding, strides, ceil mode, NaN/inf/-0, non-contiguous inputs.
//
// Most of these kernels promise the reference's exact values (same expressions, same order; see
// pointwise.h), so they are compared for equality (NaN matching NaN). Sums accumulated in a
// different order (reductions, instance-norm statistics) get a bound instead.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/kernels/core.h"
#include "tensor/kernels/image.h"
#include "tensor/random.h"

using namespace sn;
using namespace sn::cpu;
using kernels::Binary;
using kernels::Reduce;
using kernels::Unary;

namespace {

// The supported ISAs other than the reference's.
std::vector<Isa> fast_isas() {
  std::vector<Isa> v = supported_isas();
  v.erase(v.begin());
  return v;
}

// Runs fn under every fast ISA and thread count 1 and 2, each time comparing with fn under Ref.
template <class F, class C>
void for_every_path(F&& fn, C&& compare) {
  Tensor ref;
  {
    IsaScope is(Isa::Ref);
    ref = fn();
  }
  for (Isa isa : fast_isas()) {
    IsaScope is(isa);
    for (int threads : {1, 2}) {
      ThreadsScope ts(threads);
      CAPTURE(isa_name(isa));
      CAPTURE(threads);
      compare(fn(), ref);
    }
  }
}

void check_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>();
  int64_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]))) && bad++ < 3)
      FAIL_CHECK(what, ": element ", i, " = ", g[i], ", reference ", w[i]);
  CHECK_MESSAGE(bad == 0, what);
}

auto equal_to(const std::string& what) {
  return [what](const Tensor& got, const Tensor& want) { check_equal(got, want, what); };
}

// |got - want| <= rel * |want| + abs_tol.
auto close_to(const std::string& what, double rel, double abs_tol) {
  return [=](const Tensor& got, const Tensor& want) {
    REQUIRE(got.shape() == want.shape());
    const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
    int64_t bad = 0;
    for (size_t i = 0; i < g.size(); ++i)
      if (!(std::abs(g[i] - w[i]) <= rel * std::abs(w[i]) + abs_tol) && bad++ < 3)
        FAIL_CHECK(what, ": element ", i, " = ", g[i], ", reference ", w[i]);
    CHECK_MESSAGE(bad == 0, what);
  };
}

// Random normal values with some NaN, +-inf, +-0 and exact ties sprinkled in.
Tensor special_randn(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v = Tensor::randn(shape, g).to_vector<float>();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.0f, -0.0f, 1.0f, -1.0f};
  for (size_t i = 0; i < v.size(); i += 37) v[i] = specials[(i / 37) % 7];
  return Tensor::from_vector(v, shape);
}

// The same values seen through transposed H/W strides (non-contiguous).
Tensor transposed_view(const Tensor& x) {
  const Shape& s = x.shape();
  Tensor t = Tensor::empty({s[0], s[1], s[3], s[2]});
  Tensor view = t.as_strided(s, {s[1] * s[2] * s[3], s[2] * s[3], 1, s[2]}, 0);
  view.copy_from(x);
  return view;
}

}  // namespace

TEST_CASE("fast unary and binary kernels give the reference's exact values") {
  for (int64_t n : {1, 7, 33, 100003}) {  // 100003: many parallel chunks and a ragged tail
    const Tensor x = special_randn({n}, 1), y = special_randn({n}, 2);
    const Tensor pos = kernels::unary(Unary::Abs, x);
    for (int op = 0; op <= static_cast<int>(Unary::AddScalar); ++op) {
      const Unary u = static_cast<Unary>(op);
      const Tensor& in = (u == Unary::Log || u == Unary::Sqrt || u == Unary::PowScalar) ? pos : x;
      for_every_path([&] { return kernels::unary(u, in, 0.3, 1.7); }, equal_to(detail::cat("unary ", op, " n ", n)));
    }
    for (int op = 0; op <= static_cast<int>(Binary::Le); ++op) {
      const Binary b = static_cast<Binary>(op);
      const Tensor& lhs = b == Binary::Pow ? pos : x;
      const Tensor s = Tensor::scalar(0.75);
      for_every_path([&] { return kernels::binary(b, lhs, y); }, equal_to(detail::cat(kernels::binary_name(b), " n ", n)));
      for_every_path([&] { return kernels::binary(b, lhs, s); }, equal_to(detail::cat(kernels::binary_name(b), " scalar rhs")));
      for_every_path([&] { return kernels::binary(b, s, y); }, equal_to(detail::cat(kernels::binary_name(b), " scalar lhs")));
    }
    for_every_path(
        [&] {
          Tensor d = x.clone_data();
          kernels::add_(d, y, -0.5);
          return d;
        },
        equal_to("add_"));
  }
  // Other broadcasts and non-contiguous operands take the reference path; still the same values.
  const Tensor a = special_randn({3, 5, 7, 9}, 3), bias = special_randn({1, 5, 1, 1}, 4);
  for_every_path([&] { return kernels::binary(Binary::Add, a, bias); }, equal_to("broadcast add"));
  // One value per row (binary_rows_f32): [N, C, 1, 1], [N, C, H, 1] and [C, 1] against the full
  // shape, on either side; rows of 63 elements (a ragged vector tail) and of 64 x 1000 (chunks).
  const Tensor big = special_randn({2, 3, 64, 1000}, 5);
  for (const auto& [full, rows] : {std::pair{a, special_randn({3, 5, 1, 1}, 6)}, {a, special_randn({3, 5, 7, 1}, 7)},
                                   {special_randn({5, 63}, 8), special_randn({5, 1}, 9)},
                                   {big, special_randn({2, 3, 1, 1}, 10)}})
    for (int op = 0; op <= static_cast<int>(Binary::Le); ++op) {
      const Binary b = static_cast<Binary>(op);
      const Tensor base = b == Binary::Pow ? kernels::unary(Unary::Abs, full) : full;
      const std::string what = detail::cat(kernels::binary_name(b), " rows of ", full.numel() / rows.numel());
      for_every_path([&] { return kernels::binary(b, base, rows); }, equal_to(what + ", rows right"));
      for_every_path([&] { return kernels::binary(b, rows, base); }, equal_to(what + ", rows left"));
      // The rows as a broadcast view of the full shape (stride 0 over the trailing dims).
      const Tensor view = expand(rows, full.shape());
      for_every_path([&] { return kernels::binary(b, base, view); }, equal_to(what + ", view right"));
      for_every_path([&] { return kernels::binary(b, view, base); }, equal_to(what + ", view left"));
    }
  // Unary ops on such views: once per row, then the rows filled.
  const Tensor row_view = expand(special_randn({3, 5, 1, 1}, 11), {3, 5, 7, 9});
  for (int op = 0; op <= static_cast<int>(Unary::AddScalar); ++op)
    for_every_path([&] { return kernels::unary(static_cast<Unary>(op), row_view, 0.3, 1.7); },
                   equal_to(detail::cat("unary ", op, " on a row view")));
  for_every_path([&] { return kernels::unary(Unary::Relu, transposed_view(a)); }, equal_to("relu non-contiguous"));
}

TEST_CASE("fast F16/BF16 widening gives the reference's exact bits for every 16-bit pattern, unaligned") {
  // Every pattern once, then a tail that is no multiple of a vector, starting one byte into the
  // buffer as a weight file's data section may.
  const int64_t n = 65536 + 37;
  std::vector<char> bytes(2 * n + 1);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = static_cast<uint16_t>(i * 40503u);  // odd multiplier: a permutation of 0..65535
    std::memcpy(&bytes[1 + 2 * i], &h, 2);
  }
  for (HalfFormat format : {HalfFormat::F16, HalfFormat::BF16}) {
    CAPTURE(format == HalfFormat::F16 ? "f16" : "bf16");
    for_every_path(
        [&] {
          Tensor y = Tensor::empty({n});
          widen_half_f32(format, bytes.data() + 1, y.data<float>(), n);
          return y;
        },
        [&](const Tensor& got, const Tensor& want) {
          CHECK(std::memcmp(got.data<float>(), want.data<float>(), sizeof(float) * n) == 0);
        });
  }
  // And the reference is tensor/half.h's scalar conversion.
  IsaScope is(Isa::Ref);
  float y[2];
  const uint16_t pair[2] = {0x0001, 0x7E01};  // the smallest subnormal, a NaN with a payload
  widen_half_f32(HalfFormat::F16, pair, y, 2);
  CHECK(y[0] == 0x1p-24f);
  CHECK(std::bit_cast<uint32_t>(y[1]) == std::bit_cast<uint32_t>(half_bits_to_float(0x7E01)));
}

TEST_CASE("fast relu_backward (conv2d_relu's mask) gives the reference's exact values") {
  for (int64_t n : {1, 7, 100003}) {
    const Tensor g = special_randn({n}, 11), y = kernels::unary(Unary::Relu, special_randn({n}, 12));
    for_every_path([&] { return kernels::relu_backward(g, y); }, equal_to(detail::cat("relu_backward n ", n)));
  }
  const Tensor g4 = special_randn({2, 3, 9, 11}, 13), y4 = special_randn({2, 3, 9, 11}, 14);
  for_every_path([&] { return kernels::relu_backward(transposed_view(g4), y4); },
                 equal_to("relu_backward non-contiguous"));
}

TEST_CASE("fast reductions match the reference") {
  const Tensor x = special_randn({2, 3, 50, 70}, 5);
  Generator g(6);
  const Tensor finite = Tensor::randn({2, 3, 50, 700}, g);
  const double eps = std::numeric_limits<float>::epsilon();
  for (Reduce op : {Reduce::Sum, Reduce::Max, Reduce::Min}) {
    const std::vector<std::vector<int64_t>> dim_sets = {{}, {3}, {2, 3}, {1, 2, 3}, {0, 2}, {1}};
    for (const auto& dims : dim_sets) {
      const std::string what = detail::cat("reduce ", int(op), " over ", dims.size(), " dims");
      for_every_path([&] { return kernels::reduce(op, x, dims, true); }, equal_to(what + " (with NaN)"));
      // Sums in a different order: within one float rounding of the double result, plus the
      // double's own error on the sum of |x|.
      for_every_path([&] { return kernels::reduce(op, finite, dims, false); }, close_to(what, 2 * eps, 1e-9));
    }
  }
}

TEST_CASE("fast reductions of windows (strided views, rows contiguous) match the reference") {
  // Large enough for the fast path (32k elements and more), with NaN for exact max/min/NaN sums.
  const Tensor x = special_randn({2, 3, 60, 400}, 15);
  Generator g(16);
  const Tensor finite = Tensor::randn({2, 3, 50, 700}, g);
  const double eps = std::numeric_limits<float>::epsilon();
  const Tensor wx = slice(slice(x, 2, 4, 57), 3, 9, 390), wf = slice(slice(finite, 2, 1, 49), 3, 30, 690);
  REQUIRE_FALSE(wx.is_contiguous());
  for (Reduce op : {Reduce::Sum, Reduce::Max, Reduce::Min}) {
    // Many outputs ({2, 3}, {3}), few ({1, 2, 3}), one ({}), and a kept dim between reduced ones.
    const std::vector<std::vector<int64_t>> dim_sets = {{2, 3}, {3}, {1, 2, 3}, {}, {1, 3}, {0, 1, 3}};
    for (const auto& dims : dim_sets) {
      const std::string what = detail::cat("window reduce ", int(op), " over ", dims.size(), " dims");
      for_every_path([&] { return kernels::reduce(op, wx, dims, true); }, equal_to(what + " (with NaN)"));
      for_every_path([&] { return kernels::reduce(op, wf, dims, false); }, close_to(what, 2 * eps, 1e-9));
    }
  }
}

TEST_CASE("fast add_ of one value per row, and copies of windows, give the reference's exact values") {
  const Tensor base = special_randn({2, 8, 60, 90}, 21);  // 86400 elements: the fast paths' sizes
  const Tensor per_channel = special_randn({2, 8, 1, 1}, 22), per_row = special_randn({8, 60, 1}, 23);
  const Tensor wide = special_randn({2, 8, 60, 3}, 24);
  const Tensor column_view = slice(wide, 3, 1, 2);  // [2, 8, 60, 1], row stride 3: a broadcast view
  for (double alpha : {1.0, -0.75}) {
    for (const Tensor* src : {&per_channel, &per_row, &column_view}) {
      for_every_path([&] {
        Tensor d = base.clone_data();
        kernels::add_(d, *src, alpha);
        return d;
      }, equal_to(detail::cat("add_ of ", shape_str(src->shape()), ", alpha ", alpha)));
    }
  }
  // A window made contiguous, and a tensor pasted into a window of a larger one: element for element.
  const std::vector<float> b = base.to_vector<float>();
  auto at = [&](int64_t n, int64_t c, int64_t h, int64_t w) { return b[((n * 8 + c) * 60 + h) * 90 + w]; };
  // Elements of got [2, 8, H, W] that differ from want(n, c, h, w), NaN matching NaN.
  const auto mismatches = [](const Tensor& got, auto&& want) {
    const std::vector<float> g = got.to_vector<float>();
    const int64_t H = got.size(2), W = got.size(3);
    int64_t bad = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      const float v = g[i], w = want(i / (8 * H * W), i / (H * W) % 8, i / W % H, i % W);
      bad += !(v == w || (std::isnan(v) && std::isnan(w)));
    }
    return bad;
  };
  for_every_path([&] { return slice(slice(base, 2, 3, 57), 3, 5, 85).contiguous(); }, [&](const Tensor& got, const Tensor& ref) {
    check_equal(got, ref, "window made contiguous");
    CHECK(mismatches(got, [&](int64_t n, int64_t c, int64_t h, int64_t w) { return at(n, c, h + 3, w + 5); }) == 0);
  });
  for_every_path([&] {
    Tensor big = Tensor::zeros({2, 8, 70, 100});
    slice(slice(big, 2, 4, 64), 3, 6, 96).copy_from(base);
    return big;
  }, [&](const Tensor& got, const Tensor& ref) {
    check_equal(got, ref, "pasted into a window");
    CHECK(mismatches(got, [&](int64_t n, int64_t c, int64_t h, int64_t w) {
            return h >= 4 && h < 64 && w >= 6 && w < 96 ? at(n, c, h - 4, w - 6) : 0.0f;
          }) == 0);
  });
}

TEST_CASE("fast max pooling matches the reference, forward and backward") {
  struct PoolCase {
    Shape x;
    kernels::Pool2dParams p;
  };
  auto params = [](int64_t k, int64_t s, int64_t pad, bool ceil) {
    kernels::Pool2dParams p;
    p.kernel = {k, k}, p.stride = {s, s}, p.padding = {pad, pad}, p.ceil_mode = ceil;
    return p;
  };
  const std::vector<PoolCase> cases = {
      {{1, 3, 8, 8}, params(2, 2, 0, false)},    {{2, 5, 9, 13}, params(2, 2, 0, false)},
      {{2, 5, 9, 13}, params(2, 2, 0, true)},    {{1, 4, 11, 10}, params(3, 2, 1, false)},
      {{1, 4, 11, 10}, params(3, 2, 1, true)},   {{2, 64, 28, 28}, params(2, 2, 0, false)},
      {{1, 2, 7, 7}, params(3, 1, 1, false)},
  };
  for (const PoolCase& c : cases) {
    const std::string what = detail::cat("max_pool ", shape_str(c.x), " k", c.p.kernel[0], " s", c.p.stride[0], " p",
                                         c.p.padding[0], c.p.ceil_mode ? " ceil" : "");
    const Tensor x = special_randn(c.x, 7);
    const Tensor y = kernels::max_pool2d(x, c.p);
    const Tensor gy = special_randn(y.shape(), 8);
    for_every_path([&] { return kernels::max_pool2d(x, c.p); }, equal_to(what));
    for_every_path([&] { return kernels::max_pool2d(transposed_view(x), c.p); }, equal_to(what + " non-contiguous"));
    for_every_path([&] { return kernels::max_pool2d_backward(gy, x, c.p); }, equal_to(what + " backward"));
    // Ties in most windows (signs: -1, 0, 1): the gradient goes to the first maximum.
    const Tensor ties = kernels::unary(Unary::Sign, x);
    for_every_path([&] { return kernels::max_pool2d_backward(gy, ties, c.p); }, equal_to(what + " backward, ties"));
  }
}

TEST_CASE("fast upsampling and padding match the reference, forward and backward") {
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 16, 33, 31}}) {
    const Tensor x = special_randn(s, 9);
    const std::string what = shape_str(s);
    for (auto [sh, sw] : {std::pair<int64_t, int64_t>{2, 2}, {3, 1}, {1, 3}}) {
      const Tensor g = special_randn({s[0], s[1], s[2] * sh, s[3] * sw}, 10);
      for_every_path([&] { return kernels::upsample_nearest2d(x, sh, sw); }, equal_to("nearest " + what));
      for_every_path([&] { return kernels::upsample_nearest2d(transposed_view(x), sh, sw); },
                     equal_to("nearest non-contiguous " + what));
      for_every_path([&] { return kernels::upsample_nearest2d_backward(g, sh, sw); }, equal_to("nearest backward " + what));
    }
    for (auto [oh, ow] : {std::pair<int64_t, int64_t>{2 * s[2], 2 * s[3]}, {s[2] + 3, s[3] - 2}, {3, 4}}) {
      const Tensor g = special_randn({s[0], s[1], oh, ow}, 11);
      for_every_path([&] { return kernels::upsample_bilinear2d(x, oh, ow); }, equal_to("bilinear " + what));
      for_every_path([&] { return kernels::upsample_bilinear2d_backward(g, s); }, equal_to("bilinear backward " + what));
    }
    for (kernels::PadMode mode : {kernels::PadMode::Zero, kernels::PadMode::Reflect}) {
      for (std::array<int64_t, 4> lrtb : {std::array<int64_t, 4>{1, 1, 1, 1}, {2, 0, 3, 1}, {0, 4, 0, 2}}) {
        const Tensor g = special_randn({s[0], s[1], s[2] + lrtb[2] + lrtb[3], s[3] + lrtb[0] + lrtb[1]}, 12);
        const std::string pw = detail::cat(mode == kernels::PadMode::Reflect ? "reflect " : "zero ", lrtb[0], lrtb[1],
                                           lrtb[2], lrtb[3], " ", what);
        for_every_path([&] { return kernels::pad2d(x, lrtb, mode); }, equal_to("pad " + pw));
        for_every_path([&] { return kernels::pad2d(transposed_view(x), lrtb, mode); }, equal_to("pad nc " + pw));
        for_every_path([&] { return kernels::pad2d_backward(g, s, lrtb, mode); }, equal_to("pad backward " + pw));
      }
    }
  }
}

TEST_CASE("fast instance norm matches the reference, forward and backward") {
  Generator gen(13);
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 8, 33, 31}}) {
    // An offset of 10 checks the two-pass variance; affine and plain.
    const Tensor x = kernels::unary(Unary::AddScalar, Tensor::randn(s, gen), 10.0);
    const Tensor w = Tensor::randn({s[1]}, gen), b = Tensor::randn({s[1]}, gen);
    const Tensor gy = Tensor::randn(s, gen);
    for (bool affine : {false, true}) {
      const Tensor wt = affine ? w : Tensor(), bt = affine ? b : Tensor();
      const std::string what = shape_str(s) + (affine ? " affine" : "");
      // Statistics differ from the reference only by double summation order: a few float ulps
      // at most once normalised values of size ~3 are rounded.
      const double eps = std::numeric_limits<float>::epsilon();
      for_every_path([&] { return kernels::instance_norm(x, wt, bt, 1e-5).out; }, close_to("norm " + what, 4 * eps, 8 * eps));
      for_every_path([&] { return kernels::instance_norm(transposed_view(x), wt, bt, 1e-5).out; },
                     close_to("norm non-contiguous " + what, 4 * eps, 8 * eps));
      const auto stats = kernels::instance_norm(x, wt, bt, 1e-5);
      for_every_path([&] { return kernels::instance_norm_backward(gy, x, stats.mean, stats.rstd, wt).input; },
                     close_to("norm backward input " + what, 4 * eps, 8 * eps));
      for_every_path([&] { return kernels::instance_norm_backward(gy, x, stats.mean, stats.rstd, wt).weight; },
                     close_to("norm backward weight " + what, 4 * eps, 1e-4));
      for_every_path([&] { return kernels::instance_norm_backward(gy, x, stats.mean, stats.rstd, wt).bias; },
                     close_to("norm backward bias " + what, 4 * eps, 1e-4));
    }
  }
}

TEST_CASE("fast kernels: the same bits run after run for a fixed thread count") {
  Generator gen(14);
  const Tensor x = Tensor::randn({2, 16, 67, 65}, gen);
  for (Isa isa : fast_isas()) {
    IsaScope is(isa);
    ThreadsScope ts(2);
    const Tensor s1 = kernels::reduce(Reduce::Sum, x, {}, false), s2 = kernels::reduce(Reduce::Sum, x, {}, false);
    CHECK(s1.item() == s2.item());
    const auto n1 = kernels::instance_norm(x, Tensor(), Tensor(), 1e-5), n2 = kernels::instance_norm(x, Tensor(), Tensor(), 1e-5);
    CHECK(n1.out.to_vector<float>() == n2.out.to_vector<float>());
  }
}
