// Max and average pooling on NCHW planes, with the window arithmetic of the CPU reference
// (tensor/kernels/pool.cpp, via PoolGeom in image_index.h). Forwards run one thread per output;
// backwards are gathers, one thread per input pixel summing, in the reference's (oh, ow) order, the
// output gradients of the windows that contain it: no atomics, so the results are deterministic
// and equal to the reference's bits.
#include <cmath>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/image_index.h"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

PoolGeom make_geom(const Shape& x, const kernels::Pool2dParams& p) {
  const int64_t H = x[2], W = x[3];
  return {H,
          W,
          kernels::pool_out_size(H, p.kernel[0], p.stride[0], p.padding[0], p.ceil_mode),
          kernels::pool_out_size(W, p.kernel[1], p.stride[1], p.padding[1], p.ceil_mode),
          p.kernel[0],
          p.kernel[1],
          p.stride[0],
          p.stride[1],
          p.padding[0],
          p.padding[1],
          p.count_include_pad};
}

// Plane offset of the window's maximum, as pool.cpp's window_argmax: compared in double, strictly
// greater wins (ties keep the first in row-major order), any NaN wins (so the last NaN), and the
// window's first element is the answer when nothing beats -inf.
template <class T>
__device__ int64_t window_argmax(const T* plane, int64_t W, const PoolWindow& win) {
  int64_t best = win.h0 * W + win.w0;
  double best_value = -INFINITY;
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w) {
      const double v = plane[h * W + w];
      if (v > best_value || isnan(v)) {
        best_value = v;
        best = h * W + w;
      }
    }
  return best;
}

template <class T>
__global__ void max_pool_kernel(const T* x, T* out, PoolGeom g, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, pl = i / (g.OW * g.OH);
    const T* plane = x + pl * g.H * g.W;
    const PoolWindow win = g.window(oh, ow);
    // An empty window cannot happen with pad <= kernel / 2; -inf as PyTorch rather than a stray read.
    out[i] = (win.h0 < win.h1 && win.w0 < win.w1) ? plane[window_argmax(plane, g.W, win)] : T(-INFINITY);
  }
}

// dx[p, h, w] = sum of grad_out over the windows whose winner is (h, w), added in T in the
// reference's order (it accumulates into a zeroed dx of type T).
template <class T>
__global__ void max_pool_backward_kernel(const T* grad_out, const T* x, T* dx, PoolGeom g, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, pl = i / (g.W * g.H);
    const T* plane = x + pl * g.H * g.W;
    const T* g_plane = grad_out + pl * g.OH * g.OW;
    const IndexRange rows = pool_windows_containing(h, g.kh, g.sh, g.ph, g.OH);
    const IndexRange cols = pool_windows_containing(w, g.kw, g.sw, g.pw, g.OW);
    T acc = T(0);
    for (int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (int64_t ow = cols.first; ow <= cols.last; ++ow)
        if (window_argmax(plane, g.W, g.window(oh, ow)) == h * g.W + w) acc += g_plane[oh * g.OW + ow];
    dx[i] = acc;
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* x, T* out, PoolGeom g, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, pl = i / (g.OW * g.OH);
    const T* plane = x + pl * g.H * g.W;
    const PoolWindow win = g.window(oh, ow);
    double s = 0.0;
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w) s += plane[h * g.W + w];
    out[i] = win.divisor > 0 ? static_cast<T>(s / static_cast<double>(win.divisor)) : T(0);
  }
}

// dx[p, h, w] = sum over the windows containing (h, w) of grad_out / divisor, in double as the
// reference accumulates.
template <class T>
__global__ void avg_pool_backward_kernel(const T* grad_out, T* dx, PoolGeom g, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, pl = i / (g.W * g.H);
    const T* g_plane = grad_out + pl * g.OH * g.OW;
    const IndexRange rows = pool_windows_containing(h, g.kh, g.sh, g.ph, g.OH);
    const IndexRange cols = pool_windows_containing(w, g.kw, g.sw, g.pw, g.OW);
    double acc = 0.0;
    for (int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (int64_t ow = cols.first; ow <= cols.last; ++ow) {
        const int64_t divisor = g.window(oh, ow).divisor;
        if (divisor == 0) continue;
        acc += static_cast<double>(g_plane[oh * g.OW + ow]) / static_cast<double>(divisor);
      }
    dx[i] = static_cast<T>(acc);
  }
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, const kernels::Pool2dParams& p) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const PoolGeom g = make_geom(x.shape(), p);
  return launch_map(x, {x.size(0), x.size(1), g.OH, g.OW}, [&]<class T>(const T* src, T* dst, int64_t n) {
    max_pool_kernel<T><<<grid_for(n), kBlock>>>(src, dst, g, n);
  });
}

Tensor max_pool2d_backward(const Tensor& grad_out_in, const Tensor& x_in, const kernels::Pool2dParams& p) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous(), grad_out = grad_out_in.contiguous();
  const PoolGeom g = make_geom(x.shape(), p);
  return launch_map(grad_out, x.shape(), [&]<class T>(const T* src, T* dst, int64_t n) {
    max_pool_backward_kernel<T><<<grid_for(n), kBlock>>>(src, ptr<T>(x), dst, g, n);
  });
}

Tensor avg_pool2d(const Tensor& x_in, const kernels::Pool2dParams& p) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const PoolGeom g = make_geom(x.shape(), p);
  return launch_map(x, {x.size(0), x.size(1), g.OH, g.OW}, [&]<class T>(const T* src, T* dst, int64_t n) {
    avg_pool_kernel<T><<<grid_for(n), kBlock>>>(src, dst, g, n);
  });
}

Tensor avg_pool2d_backward(const Tensor& grad_out_in, const Shape& x_shape, const kernels::Pool2dParams& p) {
  use_device(grad_out_in.device());
  const Tensor grad_out = grad_out_in.contiguous();
  const PoolGeom g = make_geom(x_shape, p);
  return launch_map(grad_out, x_shape, [&]<class T>(const T* src, T* dst, int64_t n) {
    avg_pool_backward_kernel<T><<<grid_for(n), kBlock>>>(src, dst, g, n);
  });
}

}  // namespace sn::cuda
