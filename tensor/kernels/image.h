// Reference kernels for image ops on NCHW tensors: convolution, pooling, resizing, padding and
// instance norm, each with its backward. No autograd: the differentiable wrappers live in
// autograd/ops_nn.cpp and do the argument checking; these kernels assume valid arguments.
//
// Inputs may have any strides and be float32 or float64; outputs are new contiguous tensors of
// the input's dtype. The numerics follow PyTorch's CPU kernels (torch.nn.functional), and these
// plain loops are what the fast kernels are tested against.
#pragma once
#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace sn::kernels {

// ---- convolution ----

struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};    // (h, w)
  std::array<int64_t, 2> padding{0, 0};   // zeros, on both sides of each axis
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  // The weights are frozen (they did not require grad when the op ran): what the kernels derive
  // from them may be kept between calls (tensor/cpu/weight_cache.h). Trainable weights never are:
  // code outside the library may update them in place without Tensor::mark_written().
  bool frozen_weights = false;
};

// Output length of a convolution along one axis: floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1.
// Zero or negative when the dilated kernel does not fit in the padded input.
int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

// x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] or undefined  ->  [N, O, OH, OW].
// relu: max(0, .) applied to the result (a conv layer followed by ReLU in one pass over y).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
              bool relu = false);
// max_pool2d(conv2d(x, weight, bias, p, relu = true)) with a 2 x 2, stride 2 window, as one op
// ([N, O, OH / 2, OW / 2]; the same bits): float32 on the CPU pools inside the convolution
// (cpu::conv2d_relu_pool_forward), everything else runs the two ops. Forward only.
Tensor conv2d_relu_pool2x2(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);
// Gradient with respect to x (of shape x_shape) given grad_out [N, O, OH, OW].
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& x_shape,
                             const Conv2dParams& p);
// Gradient with respect to the weight (of shape weight_shape).
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& p);
// Gradient with respect to the bias: grad_out summed over N, OH, OW  ->  [O].
Tensor conv2d_backward_bias(const Tensor& grad_out);
// The four above dispatch float32 to the fast kernels of tensor/cpu/conv.h unless the ISA is
// forced to Ref (STYLENET_ISA=ref); these are the plain loops they are tested against.
Tensor conv2d_ref(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                  bool relu = false);
// ReLU's backward from its output: grad_out where out > 0, else 0 (PyTorch's threshold_backward;
// out > 0 exactly where the pre-activation was > 0). Same shapes; float32 contiguous runs the
// fast kernel (cpu::relu_backward_f32), which gives the same bits.
Tensor relu_backward(const Tensor& grad_out, const Tensor& out);
Tensor conv2d_backward_input_ref(const Tensor& grad_out, const Tensor& weight, const Shape& x_shape,
                                 const Conv2dParams& p);
Tensor conv2d_backward_weight_ref(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                                  const Conv2dParams& p);
Tensor conv2d_backward_bias_ref(const Tensor& grad_out);

// ---- pooling ----

struct Pool2dParams {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{2, 2};    // already resolved: no "0 = kernel" here
  std::array<int64_t, 2> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;          // avg pool only
};

// Output length of a pooling window along one axis, as PyTorch: with ceil_mode the last window
// may hang over the end, but it must start inside the input or the left padding.
int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode);

// Max over each window; padding never wins. Ties go to the first maximum in row-major window
// order; a NaN in the window wins (the last NaN, as PyTorch).
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
// Routes each output gradient to the input element that won its window (recomputed from x).
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, const Pool2dParams& p);

// Mean over each window. The divisor counts padding when count_include_pad, but never the part
// of a ceil_mode window that lies past the right/bottom padding.
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool2dParams& p);

// ---- resizing and padding ----

// Each output pixel (y, x) copies input pixel (y / scale_h, x / scale_w).
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w);
// Sums each scale_h x scale_w block of grad_out back into one input pixel.
Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale_h, int64_t scale_w);

// Bilinear resize to (out_h, out_w) with align_corners = false: output index d samples input
// coordinate max(0, (d + 0.5) * in / out - 0.5), as PyTorch.
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);
Tensor upsample_bilinear2d_backward(const Tensor& grad_out, const Shape& x_shape);

enum class PadMode { Zero, Reflect };
// Pads W by (left, right) and H by (top, bottom), lrtb = {l, r, t, b}, all >= 0. Reflect mirrors
// about the edge pixel without repeating it (each pad must be < that axis's size).
Tensor pad2d(const Tensor& x, const std::array<int64_t, 4>& lrtb, PadMode mode);
// Zero: crops grad_out back to x_shape. Reflect: also adds each mirrored gradient to its source.
Tensor pad2d_backward(const Tensor& grad_out, const Shape& x_shape, const std::array<int64_t, 4>& lrtb,
                      PadMode mode);

// ---- normalisation ----

struct InstanceNormResult {
  Tensor out;   // [N, C, H, W]
  Tensor mean;  // [N, C] float64 (whatever x's dtype), so backward sees the exact statistics
  Tensor rstd;  // [N, C] float64, 1 / sqrt(biased variance + eps)
};
// y = (x - mean) * rstd * weight[c] + bias[c] per (n, c) over H, W; weight/bias [C] may be
// undefined (then 1 and 0). Statistics are computed in double.
InstanceNormResult instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);

struct InstanceNormGrads {
  Tensor input;   // [N, C, H, W]
  Tensor weight;  // [C]
  Tensor bias;    // [C]
};
// Backward from the saved mean/rstd. With xhat = (x - mean) rstd and dxhat = grad_out * weight:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (means over H, W),
//   dweight = sum(grad_out * xhat), dbias = sum(grad_out)            (sums over N, H, W).
// An undefined weight counts as all ones; dweight and dbias are always returned (they are cheap)
// and the caller keeps the ones it needs.
InstanceNormGrads instance_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& mean,
                                         const Tensor& rstd, const Tensor& weight);

}  // namespace sn::kernels
