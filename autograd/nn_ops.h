// Differentiable image and network ops (the torch.nn.functional of StyleNet). Layout is NCHW.
// Each op's reference forward and backward kernels live in tensor/kernels/image.h.
#pragma once
#include <array>

#include "autograd/ops.h"

namespace sn {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};   // zero padding, per side
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};
// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& opt = {});

// relu(conv2d(x, weight, bias, opt)) as one op: the ReLU is applied while the convolution's
// output is still in cache (no second pass, no pre-activation tensor kept), and backward masks the
// gradient by output > 0 before the three conv backward kernels. Same values as the two ops.
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                   const Conv2dOptions& opt = {});

// max_pool2d(conv2d_relu(x, weight, bias, opt), 2 x 2 window, stride 2), VGG's last layer of each
// block. Where nothing needs a gradient (inference) it is one op whose convolution pools its
// output before storing it (the full-size map is never written: tensor/cpu/conv.h); otherwise the
// two ops, recorded for backward. The same values either way.
Tensor conv2d_relu_pool(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Conv2dOptions& opt = {});

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};   // 0 = same as kernel
  std::array<int64_t, 2> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;         // avg pool only, as PyTorch's default
};
// Max pool; ties go to the first maximum in the window (PyTorch's choice); padding is -inf.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);

// Nearest-neighbour upsampling by an integer factor per axis (PyTorch's 'nearest').
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w);
// Bilinear resize to (out_h, out_w), align_corners = false (PyTorch's default).
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);

enum class PadMode { Zero, Reflect };
// Pads H and W by (left, right, top, bottom), as torch.nn.functional.pad(x, (l, r, t, b)).
// Reflect requires each pad < the size of that axis.
Tensor pad2d(const Tensor& x, std::array<int64_t, 4> lrtb, PadMode mode = PadMode::Zero);

// Instance norm over H, W per (n, c) with biased variance; weight/bias [C] optional (affine).
Tensor instance_norm(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                     double eps = 1e-5);

// y = x @ weight^T + bias; x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// Losses reduce to a scalar mean.
Tensor mse_loss(const Tensor& input, const Tensor& target);
Tensor l1_loss(const Tensor& input, const Tensor& target);

}  // namespace sn
