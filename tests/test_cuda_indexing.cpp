// The CUDA backend's index arithmetic, checked on the CPU so that it is tested on every machine,
// with or without a GPU: the strided Indexer against for_each_strided, and the convolution's im2col
// read and col2im gather (tensor/cuda/conv_index.h) against the reference convolution, and the
// pooling, bilinear and padding index rules with their inverses (tensor/cuda/image_index.h) against
// the reference image kernels. Also what a process without a usable GPU does when one is asked for.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/cuda/conv_index.h"
#include "tensor/cuda/cuda.h"
#include "tensor/cuda/image_index.h"
#include "tensor/cuda/indexer.h"
#include "tensor/kernels/image.h"
#include "tensor/random.h"
#include "tensor/strided_loop.h"

using namespace sn;
using cuda::ConvIndex;

namespace {

// Every element's offsets from the Indexer equal for_each_strided's, in row-major order.
template <int N>
void check_indexer(const Shape& shape, const std::array<Shape, N>& strides) {
  const cuda::Indexer<N> ix = cuda::make_indexer<N>(shape, strides);
  std::array<Shape, N> s;
  for (int k = 0; k < N; ++k) s[k] = strides[k];
  int64_t linear = 0, bad = 0;
  for_each_strided<N>(shape, s, {}, [&](const std::array<int64_t, N>& want) {
    int64_t got[N];
    ix.offsets(linear++, got);
    for (int k = 0; k < N; ++k) bad += got[k] != want[k];
  });
  CHECK(linear == numel(shape));
  CHECK(bad == 0);
}

struct ConvCase {
  int64_t N, C, H, W, O, K, stride, pad, dilation, groups;
};

ConvIndex index_of(const ConvCase& c, int64_t OH, int64_t OW) {
  return ConvIndex{c.C / c.groups, c.H, c.W, c.K, c.K, OH, OW, c.stride, c.stride, c.pad, c.pad, c.dilation, c.dilation};
}

}  // namespace

TEST_CASE("cuda indexer: offsets equal for_each_strided's (broadcast, transposed, size-1, merged dims)") {
  check_indexer<1>({3, 4, 5}, {Shape{20, 5, 1}});
  check_indexer<2>({3, 4, 5}, {Shape{20, 5, 1}, Shape{1, 3, 12}});         // a transposed source
  check_indexer<3>({2, 1, 3, 4}, {Shape{12, 12, 4, 1}, Shape{0, 0, 0, 1}, Shape{3, 3, 1, 0}});  // broadcasts
  check_indexer<2>({7}, {Shape{1}, Shape{3}});
  check_indexer<1>({}, {Shape{}});
  const cuda::Indexer<2> merged = cuda::make_indexer<2>({2, 3, 4}, {Shape{12, 4, 1}, Shape{12, 4, 1}});
  CHECK(merged.nd == 1);  // dense in both: one dim, no divisions per element
  CHECK_THROWS_WITH_AS(cuda::make_indexer<1>(Shape(11, 2), {Shape(11, 1)}),
                       doctest::Contains("non-mergeable dims"), Error);
}

TEST_CASE("cuda conv index: im2col then a product, and col2im's gather, equal the reference convolution") {
  const ConvCase cases[] = {
      {2, 3, 7, 6, 4, 3, 1, 1, 1, 1},  // VGG's 3x3, same padding
      {1, 4, 9, 8, 6, 3, 2, 1, 1, 2},  // stride 2, two groups
      {1, 2, 8, 9, 3, 3, 1, 2, 2, 1},  // dilation 2
      {2, 5, 4, 5, 3, 1, 1, 0, 1, 1},  // 1x1
      {1, 2, 5, 5, 2, 4, 3, 2, 1, 1},  // kernel 4, stride 3 (outputs that skip inputs)
  };
  for (const ConvCase& c : cases) {
    CAPTURE(c.K);
    CAPTURE(c.stride);
    Generator gen(7);
    const Tensor x = Tensor::randn({c.N, c.C, c.H, c.W}, gen, DType::Float64);
    const Tensor w = Tensor::randn({c.O, c.C / c.groups, c.K, c.K}, gen, DType::Float64);
    kernels::Conv2dParams p;
    p.stride = {c.stride, c.stride};
    p.padding = {c.pad, c.pad};
    p.dilation = {c.dilation, c.dilation};
    p.groups = c.groups;
    const Tensor y = kernels::conv2d_ref(x, w, Tensor(), p);
    const int64_t OH = y.size(2), OW = y.size(3), Og = c.O / c.groups;
    const ConvIndex ix = index_of(c, OH, OW);
    const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), yv = y.to_vector<double>();
    const Tensor gy = Tensor::randn(y.shape(), gen, DType::Float64);
    const std::vector<double> gyv = gy.to_vector<double>();
    const std::vector<double> gx_ref = kernels::conv2d_backward_input_ref(gy, w, x.shape(), p).to_vector<double>();
    double err_y = 0, err_gx = 0;
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t g = 0; g < c.groups; ++g) {
        const double* xg = xv.data() + (n * c.C + g * ix.C) * c.H * c.W;
        const double* wg = wv.data() + g * Og * ix.rows();
        // forward: y[o][j] = sum_r w[o][r] col[r][j]; col2im input: gcol[r][j] = sum_o w[o][r] gy[o][j]
        std::vector<double> gcol(ix.rows() * ix.cols(), 0.0);
        for (int64_t o = 0; o < Og; ++o)
          for (int64_t j = 0; j < ix.cols(); ++j) {
            double sum = 0;
            for (int64_t r = 0; r < ix.rows(); ++r) {
              const int64_t src = ix.source(r, j);
              sum += wg[o * ix.rows() + r] * (src < 0 ? 0.0 : xg[src]);
              gcol[r * ix.cols() + j] += wg[o * ix.rows() + r] * gyv[((n * c.O) + g * Og + o) * ix.cols() + j];
            }
            err_y = std::max(err_y, std::abs(sum - yv[((n * c.O) + g * Og + o) * ix.cols() + j]));
          }
        for (int64_t ch = 0; ch < ix.C; ++ch)
          for (int64_t ih = 0; ih < c.H; ++ih)
            for (int64_t iw = 0; iw < c.W; ++iw) {
              const double got = ix.gather(ch, ih, iw, gcol.data());
              const double want = gx_ref[((n * c.C + g * ix.C + ch) * c.H + ih) * c.W + iw];
              err_gx = std::max(err_gx, std::abs(got - want));
            }
      }
    CHECK(err_y < 1e-9);
    CHECK(err_gx < 1e-9);
  }
}

TEST_CASE("cuda: asking for a GPU where there is none is one clear error, not a crash") {
  if (cuda::device_count() > 0) {
    MESSAGE("this machine has a CUDA device: the no-device path is not exercised here");
    return;
  }
  CHECK_FALSE(cuda::device_problem().empty());
  const Device gpu{DeviceType::CUDA, 0};
  CHECK_THROWS_WITH_AS(Tensor::empty({2, 3}, DType::Float32, gpu), doctest::Contains("cuda:0"), Error);
  CHECK_THROWS_WITH_AS(Tensor::ones({2}).to(gpu), doctest::Contains("--device cpu"), Error);
  CHECK_THROWS_AS(cuda::require(gpu), Error);
  CHECK_NOTHROW(cuda::require(Device{}));
}

namespace {

// |got - want| within 1e-12, relative to |want| when that is above 1.
bool close_to(double got, double want) { return std::abs(got - want) <= 1e-12 * std::max(1.0, std::abs(want)); }

// One axis of a pooling window: input length, kernel, stride, padding (<= kernel / 2, as checked by
// the callers of the kernels).
struct PoolAxis {
  int64_t in, k, s, p;
};

// One axis of a resize (input and output lengths) or of a padding (input length, before, after).
struct ResizeAxis {
  int64_t in, out;
};
struct PadAxis {
  int64_t in, before, after;
};

}  // namespace

TEST_CASE("cuda image index: floor_div and ceil_div round toward -inf and +inf for either sign") {
  int64_t bad = 0;
  for (int64_t a = -30; a <= 30; ++a)
    for (int64_t b = 1; b <= 7; ++b) {
      bad += cuda::floor_div(a, b) != static_cast<int64_t>(std::floor(static_cast<double>(a) / b));
      bad += cuda::ceil_div(a, b) != static_cast<int64_t>(std::ceil(static_cast<double>(a) / b));
    }
  CHECK(bad == 0);
}

TEST_CASE("cuda pool index: windows rebuild avg/max pool, windows_containing gathers rebuild their backwards") {
  const PoolAxis axes[] = {
      {5, 2, 2, 0},  // ceil_mode adds a window hanging one past the end (divisor 1, not 2)
      {7, 3, 2, 1},  // VGG-like with padding on both sides
      {6, 3, 3, 1},  // ceil_mode window over the right padding and past it
      {4, 4, 1, 2},  // windows mostly padding
      {1, 1, 1, 0},  // a single pixel
      {8, 3, 2, 0},
      {5, 2, 1, 1},  // overlapping windows
      {9, 4, 3, 2},  // kernel > stride with padding
      {2, 3, 2, 1},  // input shorter than the kernel
      {5, 2, 3, 1},  // ceil_mode's last window would start in the right padding: dropped
  };
  Generator gen(21);
  for (const PoolAxis& a : axes)
    for (const PoolAxis& b : axes)
      for (int mode = 0; mode < 4; ++mode) {
        kernels::Pool2dParams p;
        p.kernel = {a.k, b.k};
        p.stride = {a.s, b.s};
        p.padding = {a.p, b.p};
        p.ceil_mode = (mode & 1) != 0;
        p.count_include_pad = (mode & 2) != 0;
        CAPTURE(a.in);
        CAPTURE(a.k);
        CAPTURE(b.in);
        CAPTURE(b.k);
        CAPTURE(mode);
        // Few distinct values, all negative: most windows have tied maxima, and a padded zero
        // would win every max it took part in.
        const int64_t P = 2, H = a.in, W = b.in;
        std::vector<double> xv(P * H * W);
        for (double& v : xv) v = -1.0 - static_cast<double>(gen.below(3));
        const Tensor x = Tensor::from_vector(xv, {1, P, H, W});
        const std::vector<double> avg = kernels::avg_pool2d(x, p).to_vector<double>();
        const Tensor mx = kernels::max_pool2d(x, p);
        const std::vector<double> mxv = mx.to_vector<double>();
        const int64_t OH = mx.size(2), OW = mx.size(3);
        const Tensor gy = Tensor::randn(mx.shape(), gen, DType::Float64);
        const std::vector<double> gyv = gy.to_vector<double>();
        const std::vector<double> gx_avg = kernels::avg_pool2d_backward(gy, x.shape(), p).to_vector<double>();
        const std::vector<double> gx_max = kernels::max_pool2d_backward(gy, x, p).to_vector<double>();
        const cuda::PoolGeom g{H, W, OH, OW, a.k, b.k, a.s, b.s, a.p, b.p, p.count_include_pad};
        int64_t bad_fwd = 0, bad_bwd = 0, bad_range = 0;
        // forward: each window's sum / divisor, and its first maximum (its flat index kept for the
        // max backward)
        std::vector<int64_t> argmax(P * OH * OW);
        for (int64_t pl = 0; pl < P; ++pl)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const cuda::PoolWindow win = g.window(oh, ow);
              const double* xp = xv.data() + pl * H * W;
              double sum = 0.0;
              int64_t best = -1;
              for (int64_t h = win.h0; h < win.h1; ++h)
                for (int64_t w = win.w0; w < win.w1; ++w) {
                  sum += xp[h * W + w];
                  if (best < 0 || xp[h * W + w] > xp[best]) best = h * W + w;
                }
              const int64_t o = (pl * OH + oh) * OW + ow;
              argmax[o] = best;
              bad_fwd += best < 0 || xp[best] != mxv[o];
              bad_fwd += win.divisor <= 0 || !close_to(sum / static_cast<double>(win.divisor), avg[o]);
            }
        // backward as a gather: each input sums over the windows that contain it
        for (int64_t pl = 0; pl < P; ++pl)
          for (int64_t ih = 0; ih < H; ++ih)
            for (int64_t iw = 0; iw < W; ++iw) {
              const cuda::IndexRange rh = cuda::pool_windows_containing(ih, a.k, a.s, a.p, OH);
              const cuda::IndexRange rw = cuda::pool_windows_containing(iw, b.k, b.s, b.p, OW);
              double sum_avg = 0.0, sum_max = 0.0;
              for (int64_t oh = rh.first; oh <= rh.last; ++oh)
                for (int64_t ow = rw.first; ow <= rw.last; ++ow) {
                  const cuda::PoolWindow win = g.window(oh, ow);
                  bad_range += ih < win.h0 || ih >= win.h1 || iw < win.w0 || iw >= win.w1;
                  const int64_t o = (pl * OH + oh) * OW + ow;
                  sum_avg += gyv.at(o) / static_cast<double>(win.divisor);  // .at: a bad range fails, not crashes
                  if (argmax.at(o) == ih * W + iw) sum_max += gyv.at(o);
                }
              const int64_t i = (pl * H + ih) * W + iw;
              bad_bwd += !close_to(sum_avg, gx_avg[i]) + !close_to(sum_max, gx_max[i]);
            }
        CHECK(bad_fwd == 0);
        CHECK(bad_range == 0);
        CHECK(bad_bwd == 0);
      }
}

TEST_CASE("cuda bilinear index: taps rebuild the resize, outputs_reading spans are exact and gather its backward") {
  // Along one axis, exhaustively: the span [first, end) is exactly the outputs with a tap on i
  // (weight-0 taps included, as the reference keeps them), and first_lower_at_least is the first o
  // whose lower tap reaches the target.
  int64_t bad_span = 0;
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t out = 1; out <= 40; ++out) {
      for (int64_t target = -1; target <= in + 1; ++target) {
        int64_t first = 0;
        while (first < out && cuda::bilinear_tap(first, in, out).lower < target) ++first;
        bad_span += cuda::bilinear_first_lower_at_least(target, in, out) != first;
      }
      for (int64_t i = 0; i < in; ++i) {
        const cuda::OutputSpan span = cuda::bilinear_outputs_reading(i, in, out);
        for (int64_t o = 0; o < out; ++o) {
          const cuda::BilinearTap t = cuda::bilinear_tap(o, in, out);
          bad_span += (t.lower == i || t.upper == i) != (o >= span.first && o < span.end);
        }
      }
    }
  CHECK(bad_span == 0);

  const ResizeAxis axes[] = {{1, 1}, {1, 4}, {4, 1}, {3, 7}, {7, 3}, {5, 5}, {2, 9}, {9, 2}, {6, 4}, {4, 6}, {5, 13}, {13, 5}};
  Generator gen(22);
  for (const ResizeAxis& a : axes)
    for (const ResizeAxis& b : axes) {
      CAPTURE(a.in);
      CAPTURE(a.out);
      CAPTURE(b.in);
      CAPTURE(b.out);
      const int64_t P = 2, H = a.in, W = b.in, OH = a.out, OW = b.out;
      const Tensor x = Tensor::randn({P, 1, H, W}, gen, DType::Float64);
      const Tensor gy = Tensor::randn({P, 1, OH, OW}, gen, DType::Float64);
      const std::vector<double> xv = x.to_vector<double>(), gyv = gy.to_vector<double>();
      const std::vector<double> y = kernels::upsample_bilinear2d(x, OH, OW).to_vector<double>();
      const std::vector<double> gx = kernels::upsample_bilinear2d_backward(gy, x.shape()).to_vector<double>();
      int64_t bad_fwd = 0, bad_bwd = 0;
      for (int64_t pl = 0; pl < P; ++pl)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const cuda::BilinearTap r = cuda::bilinear_tap(oh, H, OH), c = cuda::bilinear_tap(ow, W, OW);
            const double* lo = xv.data() + (pl * H + r.lower) * W;
            const double* up = xv.data() + (pl * H + r.upper) * W;
            const double got = r.w_lower * (c.w_lower * lo[c.lower] + c.w_upper * lo[c.upper]) +
                               r.w_upper * (c.w_lower * up[c.lower] + c.w_upper * up[c.upper]);
            bad_fwd += !close_to(got, y[(pl * OH + oh) * OW + ow]);
          }
      // backward as a gather; an input that is both taps of an output (the last one) gets both weights
      for (int64_t pl = 0; pl < P; ++pl)
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t iw = 0; iw < W; ++iw) {
            const cuda::OutputSpan sh = cuda::bilinear_outputs_reading(ih, H, OH);
            const cuda::OutputSpan sw = cuda::bilinear_outputs_reading(iw, W, OW);
            double sum = 0.0;
            for (int64_t oh = sh.first; oh < sh.end; ++oh)
              for (int64_t ow = sw.first; ow < sw.end; ++ow) {
                const cuda::BilinearTap r = cuda::bilinear_tap(oh, H, OH), c = cuda::bilinear_tap(ow, W, OW);
                const double wr = (r.lower == ih ? r.w_lower : 0.0) + (r.upper == ih ? r.w_upper : 0.0);
                const double wc = (c.lower == iw ? c.w_lower : 0.0) + (c.upper == iw ? c.w_upper : 0.0);
                sum += wr * wc * gyv.at((pl * OH + oh) * OW + ow);
              }
            bad_bwd += !close_to(sum, gx[(pl * H + ih) * W + iw]);
          }
      CHECK(bad_fwd == 0);
      CHECK(bad_bwd == 0);
    }
}

TEST_CASE("cuda pad index: pad_source copies pad2d, pad_outputs_reading gathers pad2d_backward (zero, reflect)") {
  const PadAxis axes[] = {
      {3, 2, 2},  // reflect's widest pads on a short axis: both mirrors of the middle pixel
      {1, 0, 0}, {4, 1, 0}, {5, 0, 4}, {2, 1, 1}, {4, 3, 3}, {6, 2, 5},
      {2, 3, 1}, {1, 2, 0},  // zero only: pads >= the axis
  };
  Generator gen(23);
  for (const bool reflect : {false, true})
    for (const PadAxis& a : axes)
      for (const PadAxis& b : axes) {
        if (reflect && (a.before >= a.in || a.after >= a.in || b.before >= b.in || b.after >= b.in)) continue;
        CAPTURE(reflect);
        CAPTURE(a.in);
        CAPTURE(a.before);
        CAPTURE(a.after);
        CAPTURE(b.in);
        CAPTURE(b.before);
        CAPTURE(b.after);
        const kernels::PadMode mode = reflect ? kernels::PadMode::Reflect : kernels::PadMode::Zero;
        const std::array<int64_t, 4> lrtb{b.before, b.after, a.before, a.after};
        const int64_t P = 2, H = a.in, W = b.in, OH = H + a.before + a.after, OW = W + b.before + b.after;
        const Tensor x = Tensor::randn({1, P, H, W}, gen, DType::Float64);
        const Tensor gy = Tensor::randn({1, P, OH, OW}, gen, DType::Float64);
        const std::vector<double> xv = x.to_vector<double>(), gyv = gy.to_vector<double>();
        const std::vector<double> y = kernels::pad2d(x, lrtb, mode).to_vector<double>();
        const std::vector<double> gx = kernels::pad2d_backward(gy, x.shape(), lrtb, mode).to_vector<double>();
        int64_t bad_fwd = 0, bad_bwd = 0, bad_list = 0;
        for (int64_t pl = 0; pl < P; ++pl)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const int64_t sh = cuda::pad_source(oh, H, a.before, reflect), sw = cuda::pad_source(ow, W, b.before, reflect);
              const double want = y[(pl * OH + oh) * OW + ow];
              bad_fwd += (sh < 0 || sw < 0) ? want != 0.0 : want != xv[(pl * H + sh) * W + sw];
            }
        // the inverse lists, per axis: exactly the outputs whose source is i, in increasing order
        int64_t oh_of[3], ow_of[3];
        for (const PadAxis& ax : {a, b})
          for (int64_t i = 0; i < ax.in; ++i) {
            const int64_t out = ax.in + ax.before + ax.after;
            const int n = cuda::pad_outputs_reading(i, ax.in, ax.before, out, reflect, oh_of);
            int k = 0;
            for (int64_t o = 0; o < out; ++o)
              if (cuda::pad_source(o, ax.in, ax.before, reflect) == i) bad_list += k >= n || oh_of[k++] != o;
            bad_list += k != n;
          }
        for (int64_t pl = 0; pl < P; ++pl)
          for (int64_t ih = 0; ih < H; ++ih)
            for (int64_t iw = 0; iw < W; ++iw) {
              const int nh = cuda::pad_outputs_reading(ih, H, a.before, OH, reflect, oh_of);
              const int nw = cuda::pad_outputs_reading(iw, W, b.before, OW, reflect, ow_of);
              double sum = 0.0;
              for (int j = 0; j < nh; ++j)
                for (int k = 0; k < nw; ++k) sum += gyv.at((pl * OH + oh_of[j]) * OW + ow_of[k]);
              bad_bwd += !close_to(sum, gx[(pl * H + ih) * W + iw]);
            }
        CHECK(bad_fwd == 0);
        CHECK(bad_list == 0);
        CHECK(bad_bwd == 0);
      }
}
