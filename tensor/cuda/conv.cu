// 2-D convolution on the GPU: im2col + cuBLAS for the forward and both backward passes, col2im as
// a gather (tensor/cuda/conv_index.h), so no atomics are used and every run gives the same bits.
// Images go through in chunks whose col buffer stays under kColBudget; a 1x1, stride-1, unpadded
// convolution uses the input itself as its col matrix.
//
// cuBLAS is column-major: a row-major [R, J] matrix is a column-major [J, R] one with leading
// dimension J. Per image n and group g (Og outputs, CgKK = rows of col, OHW = cols):
//   forward          y_n (OHW x Og)     = col_n (OHW x CgKK) . W_g (CgKK x Og)
//   backward input   gcol_n (OHW x CgKK) = gy_n (OHW x Og) . W_g^T
//   backward weight  gW_g (CgKK x Og)   += col_n^T (CgKK x OHW) . gy_n (OHW x Og)
#include <algorithm>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/conv_index.h"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

constexpr int64_t kColBudget = int64_t(256) << 20;  // bytes of col buffer per chunk of images

struct Geometry {
  int64_t N, C, H, W, O, OH, OW, groups;
  ConvIndex ix;  // per group: ix.C = C / groups
  int64_t out_per_group() const { return O / groups; }
  bool direct() const {  // col == x
    return ix.KH == 1 && ix.KW == 1 && ix.sh == 1 && ix.sw == 1 && ix.ph == 0 && ix.pw == 0;
  }
  int64_t chunk(size_t elem) const {  // images per chunk
    const int64_t per_image = ix.rows() * ix.cols() * static_cast<int64_t>(elem);
    return std::clamp<int64_t>(kColBudget / std::max<int64_t>(per_image, 1), 1, N);
  }
};

Geometry geometry(const Shape& x, const Shape& w, const kernels::Conv2dParams& p) {
  Geometry g{x[0], x[1], x[2], x[3], w[0], 0, 0, p.groups, {}};
  g.OH = kernels::conv_out_size(g.H, w[2], p.stride[0], p.padding[0], p.dilation[0]);
  g.OW = kernels::conv_out_size(g.W, w[3], p.stride[1], p.padding[1], p.dilation[1]);
  g.ix = ConvIndex{g.C / g.groups, g.H, g.W, w[2], w[3], g.OH, g.OW, p.stride[0], p.stride[1],
                   p.padding[0], p.padding[1], p.dilation[0], p.dilation[1]};
  return g;
}

// Calls f(first, count, group) for every chunk of images [first, first + count) and group, in order.
template <class F>
void for_each_chunk(const Geometry& g, size_t elem, F&& f) {
  const int64_t step = g.chunk(elem);
  for (int64_t first = 0; first < g.N; first += step)
    for (int64_t group = 0; group < g.groups; ++group) f(first, std::min(step, g.N - first), group);
}

// col[img][r][j] for `count` images of group `group` starting at image `first`.
template <class T>
__global__ void im2col_kernel(ConvIndex ix, const T* x, int64_t image_stride, int64_t count, T* col) {
  const int64_t per_image = ix.rows() * ix.cols();
  SN_GRID_STRIDE_LOOP(i, count * per_image) {
    const int64_t img = i / per_image, rj = i % per_image;
    const int64_t src = ix.source(rj / ix.cols(), rj % ix.cols());
    col[i] = src < 0 ? T(0) : x[img * image_stride + src];
  }
}

template <class T>
__global__ void col2im_kernel(ConvIndex ix, const T* grad_col, int64_t count, T* gx, int64_t image_stride) {
  const int64_t per_image = ix.C * ix.H * ix.W;
  SN_GRID_STRIDE_LOOP(i, count * per_image) {
    const int64_t img = i / per_image, chw = i % per_image;
    const int64_t iw = chw % ix.W, ih = (chw / ix.W) % ix.H, c = chw / (ix.W * ix.H);
    gx[img * image_stride + chw] = static_cast<T>(ix.gather(c, ih, iw, grad_col + img * ix.rows() * ix.cols()));
  }
}

template <class T>
__global__ void bias_relu_kernel(T* y, const T* bias, int64_t n, int64_t channels, int64_t plane, bool relu) {
  SN_GRID_STRIDE_LOOP(i, n) {
    T v = y[i] + (bias ? bias[(i / plane) % channels] : T(0));
    y[i] = relu && !(v > T(0)) ? T(0) : v;  // as Unary::Relu: NaN becomes 0
  }
}

// C = op(A) op(B) (+ C when accumulate), column-major, batched with strides, in T.
template <class T>
void gemm(Device d, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* A, int64_t lda, int64_t sA,
          const T* B, int64_t ldb, int64_t sB, bool accumulate, T* C, int64_t ldc, int64_t sC, int64_t batch) {
  const T one = 1, beta = accumulate ? 1 : 0;
  const auto oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  if constexpr (std::is_same_v<T, float>)
    SN_CUBLAS_CHECK(cublas_api().sgemm_strided_batched(cublas(d), oa, ob, m, n, k, &one, A, lda, sA, B, ldb, sB, &beta, C,
                                              ldc, sC, static_cast<int>(batch)));
  else
    SN_CUBLAS_CHECK(cublas_api().dgemm_strided_batched(cublas(d), oa, ob, m, n, k, &one, A, lda, sA, B, ldb, sB, &beta, C,
                                              ldc, sC, static_cast<int>(batch)));
}

// The col matrices of images [first, first + count) of group g: x itself when direct.
template <class T>
const T* col_of(const Geometry& g, const Tensor& x, Tensor& buffer, int64_t first, int64_t count, int64_t group,
                int64_t* stride) {
  const T* xg = ptr<T>(x) + (first * g.C + group * g.ix.C) * g.H * g.W;
  if (g.direct()) {
    *stride = g.C * g.H * g.W;
    return xg;
  }
  if (!buffer.defined()) buffer = empty_like_on(x, {g.chunk(sizeof(T)) * g.ix.rows() * g.ix.cols()});
  const int64_t n = count * g.ix.rows() * g.ix.cols();
  im2col_kernel<T><<<grid_for(n), kBlock>>>(g.ix, xg, g.C * g.H * g.W, count, ptr<T>(buffer));
  SN_CUDA_LAUNCHED();
  *stride = g.ix.rows() * g.ix.cols();
  return ptr<T>(buffer);
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias, const kernels::Conv2dParams& p, bool relu) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Geometry g = geometry(x.shape(), w.shape(), p);
  Tensor y = empty_like_on(x, {g.N, g.O, g.OH, g.OW});
  if (y.numel() == 0) return y;
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  dispatch(x.dtype(), [&]<class T>() {
    const int64_t Og = g.out_per_group(), rows = g.ix.rows(), cols = g.ix.cols();
    Tensor buffer;
    for_each_chunk(g, sizeof(T), [&](int64_t first, int64_t count, int64_t group) {
      int64_t col_stride = 0;
      const T* col = col_of<T>(g, x, buffer, first, count, group, &col_stride);
      gemm<T>(x.device(), false, false, cols, Og, rows, col, cols, col_stride, ptr<T>(w) + group * Og * rows, rows, 0,
              false, ptr<T>(y) + (first * g.O + group * Og) * cols, cols, g.O * cols, count);
    });
    if (b.defined() || relu) {
      bias_relu_kernel<T><<<grid_for(y.numel()), kBlock>>>(ptr<T>(y), b.defined() ? ptr<T>(b) : nullptr, y.numel(),
                                                          g.O, g.OH * g.OW, relu);
      SN_CUDA_LAUNCHED();
    }
  });
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy_in, const Tensor& w_in, const Shape& x_shape,
                             const kernels::Conv2dParams& p) {
  use_device(gy_in.device());
  const Tensor gy = gy_in.contiguous(), w = w_in.contiguous();
  const Geometry g = geometry(x_shape, w.shape(), p);
  Tensor gx = empty_like_on(gy, x_shape);
  if (gx.numel() == 0) return gx;
  if (gy.numel() == 0) {
    fill(gx, 0.0);
    return gx;
  }
  dispatch(gy.dtype(), [&]<class T>() {
    const int64_t Og = g.out_per_group(), rows = g.ix.rows(), cols = g.ix.cols();
    const Tensor gcol = empty_like_on(gy, {g.chunk(sizeof(T)) * rows * cols});
    for_each_chunk(g, sizeof(T), [&](int64_t first, int64_t count, int64_t group) {
      gemm<T>(gy.device(), false, true, cols, rows, Og, ptr<T>(gy) + (first * g.O + group * Og) * cols, cols,
              g.O * cols, ptr<T>(w) + group * Og * rows, rows, 0, false, ptr<T>(gcol), cols, rows * cols, count);
      T* gxg = ptr<T>(gx) + (first * g.C + group * g.ix.C) * g.H * g.W;
      const int64_t n = count * g.ix.C * g.H * g.W;
      col2im_kernel<T><<<grid_for(n), kBlock>>>(g.ix, ptr<T>(gcol), count, gxg, g.C * g.H * g.W);
      SN_CUDA_LAUNCHED();
    });
  });
  return gx;
}

Tensor conv2d_backward_weight(const Tensor& gy_in, const Tensor& x_in, const Shape& w_shape,
                              const kernels::Conv2dParams& p) {
  use_device(gy_in.device());
  const Tensor gy = gy_in.contiguous(), x = x_in.contiguous();
  const Geometry g = geometry(x.shape(), w_shape, p);
  Tensor gw = empty_like_on(gy, w_shape);
  fill(gw, 0.0);
  if (gy.numel() == 0 || x.numel() == 0) return gw;
  dispatch(gy.dtype(), [&]<class T>() {
    const int64_t Og = g.out_per_group(), rows = g.ix.rows(), cols = g.ix.cols();
    Tensor buffer;
    for_each_chunk(g, sizeof(T), [&](int64_t first, int64_t count, int64_t group) {
      int64_t col_stride = 0;
      const T* col = col_of<T>(g, x, buffer, first, count, group, &col_stride);
      for (int64_t i = 0; i < count; ++i)  // one product per image, accumulated in image order
        gemm<T>(gy.device(), true, false, rows, Og, cols, col + i * col_stride, cols, 0,
                ptr<T>(gy) + ((first + i) * g.O + group * Og) * cols, cols, 0, true,
                ptr<T>(gw) + group * Og * rows, rows, 0, 1);
    });
  });
  return gw;
}

}  // namespace sn::cuda
