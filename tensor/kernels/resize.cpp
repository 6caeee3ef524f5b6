// Reference nearest/bilinear upsampling and zero/reflect padding.
//
// All four are separable linear maps: along each axis, every output index reads a weighted sum of
// at most two input indices. So each op only describes its per-axis taps (an AxisMap), and one
// forward loop and one backward loop (the transposed map, a scatter-add) serve them all.
#include <algorithm>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/image.h"

namespace sn::kernels {

namespace {

// What one output index along an axis reads: sum over i < count of weight[i] * input[src[i]].
// count 0 is an output that reads nothing (zero padding).
struct AxisTaps {
  int count = 0;
  int64_t src[2] = {0, 0};
  double weight[2] = {0.0, 0.0};
};

struct AxisMap {
  int64_t in = 0;               // input length along the axis
  std::vector<AxisTaps> taps;   // one per output index
};

AxisMap nearest_map(int64_t in, int64_t scale) {
  AxisMap m{in, std::vector<AxisTaps>(in * scale)};
  for (int64_t o = 0; o < in * scale; ++o) m.taps[o] = {1, {o / scale, 0}, {1.0, 0.0}};
  return m;
}

// align_corners = false, as PyTorch's area_pixel_compute_source_index: the centre of output pixel
// o maps to input coordinate (o + 0.5) * in / out - 0.5, clamped at 0 (not at in - 1: the upper
// neighbour is clamped instead). Both taps are kept even when the second has weight 0 or repeats
// the first at the edge, so that NaN/inf propagate exactly as in PyTorch.
AxisMap bilinear_map(int64_t in, int64_t out) {
  AxisMap m{in, std::vector<AxisTaps>(out)};
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double src = std::max((o + 0.5) * scale - 0.5, 0.0);
    const int64_t lower = static_cast<int64_t>(src);
    const int64_t upper = lower < in - 1 ? lower + 1 : lower;
    const double upper_weight = src - static_cast<double>(lower);
    m.taps[o] = {2, {lower, upper}, {1.0 - upper_weight, upper_weight}};
  }
  return m;
}

// Output o is input o - before; reflect mirrors about the first/last element without repeating it
// (-1 -> 1, in -> in - 2), as torch.nn.ReflectionPad2d.
AxisMap pad_map(int64_t in, int64_t before, int64_t after, PadMode mode) {
  AxisMap m{in, std::vector<AxisTaps>(in + before + after)};
  for (int64_t o = 0; o < in + before + after; ++o) {
    int64_t i = o - before;
    if (mode == PadMode::Reflect) {
      if (i < 0) i = -i;
      if (i >= in) i = 2 * (in - 1) - i;
    } else if (i < 0 || i >= in) {
      continue;  // zero padding: no taps
    }
    m.taps[o] = {1, {i, 0}, {1.0, 0.0}};
  }
  return m;
}

// out[p, oh, ow] = sum_a rows[oh].weight[a] * sum_b cols[ow].weight[b] * x[p, src_a, src_b].
// The inner sum runs along the row first, matching PyTorch's order for bilinear.
Tensor apply_separable(const Tensor& x_in, const AxisMap& rows, const AxisMap& cols) {
  const Tensor x = x_in.contiguous();
  const int64_t planes = x.size(0) * x.size(1), H = rows.in, W = cols.in;
  const int64_t OH = static_cast<int64_t>(rows.taps.size()), OW = static_cast<int64_t>(cols.taps.size());
  Tensor out = Tensor::empty({x.size(0), x.size(1), OH, OW}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t p = 0; p < planes; ++p) {
      const T* x_plane = x.data<T>() + p * H * W;
      T* o_plane = out.data<T>() + p * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const AxisTaps& r = rows.taps[oh];
        for (int64_t ow = 0; ow < OW; ++ow) {
          const AxisTaps& c = cols.taps[ow];
          double s = 0.0;
          for (int a = 0; a < r.count; ++a) {
            const T* x_row = x_plane + r.src[a] * W;
            double row_sum = 0.0;
            for (int b = 0; b < c.count; ++b) row_sum += c.weight[b] * x_row[c.src[b]];
            s += r.weight[a] * row_sum;
          }
          o_plane[oh * OW + ow] = static_cast<T>(s);
        }
      }
    }
  });
  return out;
}

// The transpose of apply_separable: each output gradient is scattered back, with the same weights,
// onto the input elements it was computed from. Inputs read by no output get 0.
Tensor apply_separable_backward(const Tensor& grad_out_in, const Shape& x_shape, const AxisMap& rows,
                                const AxisMap& cols) {
  const Tensor grad_out = grad_out_in.contiguous();
  const int64_t planes = x_shape[0] * x_shape[1], H = rows.in, W = cols.in;
  const int64_t OH = static_cast<int64_t>(rows.taps.size()), OW = static_cast<int64_t>(cols.taps.size());
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype());
  dispatch(grad_out.dtype(), [&]<class T>() {
    std::vector<double> acc(H * W);
    for (int64_t p = 0; p < planes; ++p) {
      const T* g_plane = grad_out.data<T>() + p * OH * OW;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const AxisTaps& r = rows.taps[oh];
        for (int64_t ow = 0; ow < OW; ++ow) {
          const AxisTaps& c = cols.taps[ow];
          const double g = g_plane[oh * OW + ow];
          for (int a = 0; a < r.count; ++a)
            for (int b = 0; b < c.count; ++b) acc[r.src[a] * W + c.src[b]] += r.weight[a] * c.weight[b] * g;
        }
      }
      T* dx_plane = dx.data<T>() + p * H * W;
      for (int64_t i = 0; i < H * W; ++i) dx_plane[i] = static_cast<T>(acc[i]);
    }
  });
  return dx;
}


// Float32 goes to the fast kernels (tensor/cpu/pointwise.h) unless STYLENET_ISA=ref; the loops
// below are the reference they are tested against.
bool use_fast(const Tensor& t) { return t.dtype() == DType::Float32 && cpu::active_isa() != cpu::Isa::Ref; }
}  // namespace

Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale_h, int64_t scale_w) {
  SN_CUDA_ROUTE(x_in, upsample_nearest2d(x_in, scale_h, scale_w));
  if (use_fast(x_in)) {
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty({x.size(0), x.size(1), x.size(2) * scale_h, x.size(3) * scale_w}, x.dtype());
    cpu::upsample_nearest2d_f32(x.size(0) * x.size(1), x.size(2), x.size(3), scale_h, scale_w, x.data<float>(),
                                out.data<float>());
    return out;
  }
  const Tensor& x = x_in;
  return apply_separable(x, nearest_map(x.size(2), scale_h), nearest_map(x.size(3), scale_w));
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale_h, int64_t scale_w) {
  SN_CUDA_ROUTE(grad_out, upsample_nearest2d_backward(grad_out, scale_h, scale_w));
  const Shape x_shape{grad_out.size(0), grad_out.size(1), grad_out.size(2) / scale_h, grad_out.size(3) / scale_w};
  if (use_fast(grad_out)) {
    const Tensor g = grad_out.contiguous();
    Tensor dx = Tensor::empty(x_shape, g.dtype());
    cpu::upsample_nearest2d_backward_f32(x_shape[0] * x_shape[1], x_shape[2], x_shape[3], scale_h, scale_w,
                                         g.data<float>(), dx.data<float>());
    return dx;
  }
  return apply_separable_backward(grad_out, x_shape, nearest_map(x_shape[2], scale_h),
                                  nearest_map(x_shape[3], scale_w));
}

Tensor upsample_bilinear2d(const Tensor& x_in, int64_t out_h, int64_t out_w) {
  SN_CUDA_ROUTE(x_in, upsample_bilinear2d(x_in, out_h, out_w));
  if (use_fast(x_in)) {
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype());
    cpu::upsample_bilinear2d_f32(x.size(0) * x.size(1), x.size(2), x.size(3), out_h, out_w, x.data<float>(),
                                 out.data<float>());
    return out;
  }
  const Tensor& x = x_in;
  return apply_separable(x, bilinear_map(x.size(2), out_h), bilinear_map(x.size(3), out_w));
}

Tensor upsample_bilinear2d_backward(const Tensor& grad_out, const Shape& x_shape) {
  SN_CUDA_ROUTE(grad_out, upsample_bilinear2d_backward(grad_out, x_shape));
  if (use_fast(grad_out)) {
    const Tensor g = grad_out.contiguous();
    Tensor dx = Tensor::empty(x_shape, g.dtype());
    cpu::upsample_bilinear2d_backward_f32(x_shape[0] * x_shape[1], x_shape[2], x_shape[3], g.size(2), g.size(3),
                                          g.data<float>(), dx.data<float>());
    return dx;
  }
  return apply_separable_backward(grad_out, x_shape, bilinear_map(x_shape[2], grad_out.size(2)),
                                  bilinear_map(x_shape[3], grad_out.size(3)));
}

Tensor pad2d(const Tensor& x, const std::array<int64_t, 4>& lrtb, PadMode mode) {
  SN_CUDA_ROUTE(x, pad2d(x, lrtb, mode));
  const auto [l, r, t, b] = lrtb;
  if (use_fast(x)) {
    const Tensor xc = x.contiguous();
    Tensor out = Tensor::empty({x.size(0), x.size(1), x.size(2) + t + b, x.size(3) + l + r}, x.dtype());
    cpu::pad2d_f32(x.size(0) * x.size(1), x.size(2), x.size(3), l, r, t, b, mode == PadMode::Reflect,
                   xc.data<float>(), out.data<float>());
    return out;
  }
  return apply_separable(x, pad_map(x.size(2), t, b, mode), pad_map(x.size(3), l, r, mode));
}

Tensor pad2d_backward(const Tensor& grad_out, const Shape& x_shape, const std::array<int64_t, 4>& lrtb,
                      PadMode mode) {
  SN_CUDA_ROUTE(grad_out, pad2d_backward(grad_out, x_shape, lrtb, mode));
  const auto [l, r, t, b] = lrtb;
  if (use_fast(grad_out)) {
    const Tensor g = grad_out.contiguous();
    Tensor dx = Tensor::empty(x_shape, g.dtype());
    cpu::pad2d_backward_f32(x_shape[0] * x_shape[1], x_shape[2], x_shape[3], l, r, t, b, mode == PadMode::Reflect,
                            g.data<float>(), dx.data<float>());
    return dx;
  }
  return apply_separable_backward(grad_out, x_shape, pad_map(x_shape[2], t, b, mode),
                                  pad_map(x_shape[3], l, r, mode));
}

}  // namespace sn::kernels
