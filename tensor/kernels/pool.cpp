// Reference max and average pooling over NCHW planes, with PyTorch's window arithmetic
// (aten/src/ATen/native/Pool.h and the CPU pooling kernels), including its ceil_mode rules.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/image.h"

namespace sn::kernels {

int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  // Division rounding toward -inf, then one for the window at 0.
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  // A ceil_mode window that would start in the right padding is dropped.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

// The part of a pooling window that lies inside the input, [h0, h1) x [w0, w1), plus the
// average pool's divisor.
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};

struct PoolGeometry {
  int64_t planes, H, W, OH, OW;
  Pool2dParams p;

  PoolGeometry(const Shape& x, const Pool2dParams& params)
      : planes(x[0] * x[1]), H(x[2]), W(x[3]),
        OH(pool_out_size(H, params.kernel[0], params.stride[0], params.padding[0], params.ceil_mode)),
        OW(pool_out_size(W, params.kernel[1], params.stride[1], params.padding[1], params.ceil_mode)),
        p(params) {}

  Window window(int64_t oh, int64_t ow) const {
    int64_t h0 = oh * p.stride[0] - p.padding[0], w0 = ow * p.stride[1] - p.padding[1];
    // The window is first clipped to the padded input: what hangs past the padding (ceil_mode)
    // is never counted, even with count_include_pad.
    int64_t h1 = std::min(h0 + p.kernel[0], H + p.padding[0]);
    int64_t w1 = std::min(w0 + p.kernel[1], W + p.padding[1]);
    const int64_t padded_area = (h1 - h0) * (w1 - w0);
    h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
    h1 = std::min(h1, H), w1 = std::min(w1, W);
    const int64_t inside_area = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
    return {h0, h1, w0, w1, p.count_include_pad ? padded_area : inside_area};
  }

  cpu::PoolShape cpu_shape() const {
    return {planes, H, W, OH, OW, p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.padding[0], p.padding[1]};
  }
};

// Float32 goes to the fast kernels (tensor/cpu/pointwise.h) unless STYLENET_ISA=ref; the loops
// below are the reference they are tested against.
bool use_fast(const Tensor& t) { return t.dtype() == DType::Float32 && cpu::active_isa() != cpu::Isa::Ref; }

// Offset (within the plane) of the window's maximum. Strictly greater wins, so ties keep the first
// in row-major order; a NaN always wins so that it propagates. Starts at the window's first
// element, so an all -inf window still names a real element.
template <class T>
int64_t window_argmax(const T* plane, int64_t W, const Window& win) {
  int64_t best = win.h0 * W + win.w0;
  double best_value = -std::numeric_limits<double>::infinity();
  for (int64_t h = win.h0; h < win.h1; ++h) {
    for (int64_t w = win.w0; w < win.w1; ++w) {
      const double v = plane[h * W + w];
      if (v > best_value || std::isnan(v)) {
        best_value = v;
        best = h * W + w;
      }
    }
  }
  return best;
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  SN_CUDA_ROUTE(x_in, max_pool2d(x_in, p));
  const Tensor x = x_in.contiguous();
  const PoolGeometry g(x.shape(), p);
  Tensor out = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype());
  if (use_fast(x)) {
    cpu::max_pool2d_f32(g.cpu_shape(), x.data<float>(), out.data<float>());
    return out;
  }
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* x_plane = x.data<T>() + pl * g.H * g.W;
      T* o_plane = out.data<T>() + pl * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Window win = g.window(oh, ow);
          // A window with nothing inside cannot happen with pad <= kernel / 2 (checked by the
          // caller); give it PyTorch's -inf rather than read outside the plane.
          o_plane[oh * g.OW + ow] = (win.h0 < win.h1 && win.w0 < win.w1)
                                        ? x_plane[window_argmax(x_plane, g.W, win)]
                                        : -std::numeric_limits<T>::infinity();
        }
    }
  });
  return out;
}

Tensor max_pool2d_backward(const Tensor& grad_out_in, const Tensor& x_in, const Pool2dParams& p) {
  SN_CUDA_ROUTE(x_in, max_pool2d_backward(grad_out_in, x_in, p));
  const Tensor x = x_in.contiguous(), grad_out = grad_out_in.contiguous();
  const PoolGeometry g(x.shape(), p);
  if (use_fast(x)) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    cpu::max_pool2d_backward_f32(g.cpu_shape(), grad_out.data<float>(), x.data<float>(), dx.data<float>());
    return dx;
  }
  Tensor dx = Tensor::zeros(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* x_plane = x.data<T>() + pl * g.H * g.W;
      const T* g_plane = grad_out.data<T>() + pl * g.OH * g.OW;
      T* dx_plane = dx.data<T>() + pl * g.H * g.W;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Window win = g.window(oh, ow);
          if (win.h0 < win.h1 && win.w0 < win.w1)
            dx_plane[window_argmax(x_plane, g.W, win)] += g_plane[oh * g.OW + ow];
        }
    }
  });
  return dx;
}

Tensor avg_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  SN_CUDA_ROUTE(x_in, avg_pool2d(x_in, p));
  const Tensor x = x_in.contiguous();
  const PoolGeometry g(x.shape(), p);
  Tensor out = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* x_plane = x.data<T>() + pl * g.H * g.W;
      T* o_plane = out.data<T>() + pl * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Window win = g.window(oh, ow);
          double s = 0.0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) s += x_plane[h * g.W + w];
          o_plane[oh * g.OW + ow] = win.divisor > 0 ? static_cast<T>(s / win.divisor) : T(0);
        }
    }
  });
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out_in, const Shape& x_shape, const Pool2dParams& p) {
  SN_CUDA_ROUTE(grad_out_in, avg_pool2d_backward(grad_out_in, x_shape, p));
  const Tensor grad_out = grad_out_in.contiguous();
  const PoolGeometry g(x_shape, p);
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype());
  dispatch(grad_out.dtype(), [&]<class T>() {
    std::vector<double> acc(g.H * g.W);
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* g_plane = grad_out.data<T>() + pl * g.OH * g.OW;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Window win = g.window(oh, ow);
          if (win.divisor == 0) continue;
          const double share = static_cast<double>(g_plane[oh * g.OW + ow]) / win.divisor;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) acc[h * g.W + w] += share;
        }
      T* dx_plane = dx.data<T>() + pl * g.H * g.W;
      for (int64_t i = 0; i < g.H * g.W; ++i) dx_plane[i] = static_cast<T>(acc[i]);
    }
  });
  return dx;
}

}  // namespace sn::kernels
