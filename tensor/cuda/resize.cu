// Nearest and bilinear upsampling and zero/reflect padding on NCHW planes, with the per-axis rules
// of the CPU reference (tensor/kernels/resize.cpp, restated in image_index.h). Forwards run one
// thread per output. Backwards are gathers: one thread per input pixel sums, in the reference's
// (oh, ow, tap) order and in double, the output gradients that read it, so there are no atomics and
// the results are deterministic. Every axis rule is computed on the device from the sizes alone:
// no host-built maps, hence no host-to-device copy (and synchronisation) per call.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/exact.h"
#include "tensor/cuda/image_index.h"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

// Input and output plane sizes; the planes (N * C) are the slowest index of both.
struct Planes {
  int64_t H, W, OH, OW;
};

// ---- nearest ----

template <class T>
__global__ void nearest_kernel(const T* x, T* out, Planes d, int64_t sh, int64_t sw, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t ow = i % d.OW, oh = (i / d.OW) % d.OH, pl = i / (d.OW * d.OH);
    out[i] = x[(pl * d.H + oh / sh) * d.W + ow / sw];
  }
}

// dx[h, w] = the sum of its sh x sw block of grad_out, row-major as the reference.
template <class T>
__global__ void nearest_backward_kernel(const T* grad_out, T* dx, Planes d, int64_t sh, int64_t sw, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t w = i % d.W, h = (i / d.W) % d.H, pl = i / (d.W * d.H);
    const T* g = grad_out + (pl * d.OH + h * sh) * d.OW + w * sw;
    double acc = 0.0;
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) acc += static_cast<double>(g[a * d.OW + b]);
    dx[i] = static_cast<T>(acc);
  }
}

// ---- bilinear ----

// out = sum_a w_row[a] * (sum_b w_col[b] * x[row_a, col_b]), in double in the reference's order
// and roundings (exact:: keeps nvcc from fusing the multiply-adds).
template <class T>
__global__ void bilinear_kernel(const T* x, T* out, Planes d, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t ow = i % d.OW, oh = (i / d.OW) % d.OH, pl = i / (d.OW * d.OH);
    const BilinearTap r = bilinear_tap(oh, d.H, d.OH), c = bilinear_tap(ow, d.W, d.OW);
    const int64_t rows[2] = {r.lower, r.upper}, cols[2] = {c.lower, c.upper};
    const double rw[2] = {r.w_lower, r.w_upper}, cw[2] = {c.w_lower, c.w_upper};
    double s = 0.0;
    for (int a = 0; a < 2; ++a) {
      const T* x_row = x + (pl * d.H + rows[a]) * d.W;
      double row_sum = 0.0;
      for (int b = 0; b < 2; ++b)
        row_sum = exact::add(row_sum, exact::mul(cw[b], static_cast<double>(x_row[cols[b]])));
      s = exact::add(s, exact::mul(rw[a], row_sum));
    }
    out[i] = static_cast<T>(s);
  }
}

// dx[h, w] = sum over the outputs (oh, ow) whose taps touch (h, w), and over those taps, of
// (w_row * w_col) * grad_out, in the reference's (oh, ow, a, b) order. At the last input both taps
// of an output are that input, so it is added twice, as the reference does.
template <class T>
__global__ void bilinear_backward_kernel(const T* grad_out, T* dx, Planes d, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t w = i % d.W, h = (i / d.W) % d.H, pl = i / (d.W * d.H);
    const T* g_plane = grad_out + pl * d.OH * d.OW;
    const OutputSpan rows = bilinear_outputs_reading(h, d.H, d.OH);
    const OutputSpan cols = bilinear_outputs_reading(w, d.W, d.OW);
    double acc = 0.0;
    for (int64_t oh = rows.first; oh < rows.end; ++oh) {
      const BilinearTap r = bilinear_tap(oh, d.H, d.OH);
      const int64_t r_src[2] = {r.lower, r.upper};
      const double rw[2] = {r.w_lower, r.w_upper};
      for (int64_t ow = cols.first; ow < cols.end; ++ow) {
        const BilinearTap c = bilinear_tap(ow, d.W, d.OW);
        const int64_t c_src[2] = {c.lower, c.upper};
        const double cw[2] = {c.w_lower, c.w_upper};
        const double g = static_cast<double>(g_plane[oh * d.OW + ow]);
        for (int a = 0; a < 2; ++a) {
          if (r_src[a] != h) continue;
          for (int b = 0; b < 2; ++b)
            if (c_src[b] == w) acc = exact::add(acc, exact::mul(exact::mul(rw[a], cw[b]), g));
        }
      }
    }
    dx[i] = static_cast<T>(acc);
  }
}

// ---- padding ----

template <class T>
__global__ void pad_kernel(const T* x, T* out, Planes d, int64_t left, int64_t top, bool reflect, int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t ow = i % d.OW, oh = (i / d.OW) % d.OH, pl = i / (d.OW * d.OH);
    const int64_t h = pad_source(oh, d.H, top, reflect), w = pad_source(ow, d.W, left, reflect);
    out[i] = (h < 0 || w < 0) ? T(0) : x[(pl * d.H + h) * d.W + w];
  }
}

// dx[h, w] = the sum of grad_out over the (up to 3 x 3) outputs that read (h, w), in (oh, ow) order.
template <class T>
__global__ void pad_backward_kernel(const T* grad_out, T* dx, Planes d, int64_t left, int64_t top, bool reflect,
                                    int64_t n) {
  SN_GRID_STRIDE_LOOP(i, n) {
    const int64_t w = i % d.W, h = (i / d.W) % d.H, pl = i / (d.W * d.H);
    const T* g_plane = grad_out + pl * d.OH * d.OW;
    int64_t rows[3], cols[3];
    const int n_rows = pad_outputs_reading(h, d.H, top, d.OH, reflect, rows);
    const int n_cols = pad_outputs_reading(w, d.W, left, d.OW, reflect, cols);
    double acc = 0.0;
    for (int a = 0; a < n_rows; ++a)
      for (int b = 0; b < n_cols; ++b) acc += static_cast<double>(g_plane[rows[a] * d.OW + cols[b]]);
    dx[i] = static_cast<T>(acc);
  }
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale_h, int64_t scale_w) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const Planes d{x.size(2), x.size(3), x.size(2) * scale_h, x.size(3) * scale_w};
  return launch_map(x, {x.size(0), x.size(1), d.OH, d.OW}, [&]<class T>(const T* src, T* dst, int64_t n) {
    nearest_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, scale_h, scale_w, n);
  });
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out_in, int64_t scale_h, int64_t scale_w) {
  use_device(grad_out_in.device());
  const Tensor g = grad_out_in.contiguous();
  const Planes d{g.size(2) / scale_h, g.size(3) / scale_w, g.size(2), g.size(3)};
  return launch_map(g, {g.size(0), g.size(1), d.H, d.W}, [&]<class T>(const T* src, T* dst, int64_t n) {
    nearest_backward_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, scale_h, scale_w, n);
  });
}

Tensor upsample_bilinear2d(const Tensor& x_in, int64_t out_h, int64_t out_w) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const Planes d{x.size(2), x.size(3), out_h, out_w};
  return launch_map(x, {x.size(0), x.size(1), out_h, out_w}, [&]<class T>(const T* src, T* dst, int64_t n) {
    bilinear_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, n);
  });
}

Tensor upsample_bilinear2d_backward(const Tensor& grad_out_in, const Shape& x_shape) {
  use_device(grad_out_in.device());
  const Tensor g = grad_out_in.contiguous();
  const Planes d{x_shape[2], x_shape[3], g.size(2), g.size(3)};
  return launch_map(g, x_shape, [&]<class T>(const T* src, T* dst, int64_t n) {
    bilinear_backward_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, n);
  });
}

Tensor pad2d(const Tensor& x_in, const std::array<int64_t, 4>& lrtb, kernels::PadMode mode) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const int64_t l = lrtb[0], t = lrtb[2];
  const Planes d{x.size(2), x.size(3), x.size(2) + t + lrtb[3], x.size(3) + l + lrtb[1]};
  const bool reflect = mode == kernels::PadMode::Reflect;
  return launch_map(x, {x.size(0), x.size(1), d.OH, d.OW}, [&]<class T>(const T* src, T* dst, int64_t n) {
    pad_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, l, t, reflect, n);
  });
}

Tensor pad2d_backward(const Tensor& grad_out_in, const Shape& x_shape, const std::array<int64_t, 4>& lrtb,
                      kernels::PadMode mode) {
  use_device(grad_out_in.device());
  const Tensor g = grad_out_in.contiguous();
  const int64_t l = lrtb[0], t = lrtb[2];
  const Planes d{x_shape[2], x_shape[3], g.size(2), g.size(3)};
  const bool reflect = mode == kernels::PadMode::Reflect;
  return launch_map(g, x_shape, [&]<class T>(const T* src, T* dst, int64_t n) {
    pad_backward_kernel<T><<<grid_for(n), kBlock>>>(src, dst, d, l, t, reflect, n);
  });
}

}  // namespace sn::cuda
