// The CUDA backend's index arithmetic, checked on the CPU so that it is tested on every machine,
// with or without a GPU: the strided Indexer against for_each_strided, and the convolution's im2col
// read and col2im gather (tensor/cuda/conv_index.h) against the reference convolution. Also what a
// process without a usable GPU does when one is asked for.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/cuda/conv_index.h"
#include "tensor/cuda/cuda.h"
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
