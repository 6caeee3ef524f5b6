// Differentiable image and network ops (autograd/nn_ops.h). Each op checks its arguments here,
// with one message naming the op and the shapes, computes its output with the reference kernel
// from tensor/kernels/image.h, and records a backward that calls the matching backward kernel,
// computing only the gradients some input asks for.
#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"

#include "autograd/record.h"
#include "tensor/kernels/image.h"

namespace sn {

namespace {

std::string pair_str(const std::array<int64_t, 2>& p) { return detail::cat(p[0], "x", p[1]); }

void check_image(const Tensor& x, const char* op) {
  SN_CHECK(x.defined(), op, ": input is undefined");
  SN_CHECK(x.dim() == 4, op, ": input must be 4-D [N, C, H, W], got ", shape_str(x.shape()));
}

// An optional per-channel parameter ([C] or undefined) of the same dtype as x.
void check_channel_param(const Tensor& t, int64_t C, const Tensor& x, const char* op, const char* what) {
  if (!t.defined()) return;
  SN_CHECK(t.dim() == 1 && t.size(0) == C, op, ": ", what, " must have shape [", C, "] for input ",
           shape_str(x.shape()), ", got ", shape_str(t.shape()));
  SN_CHECK(t.dtype() == x.dtype(), op, ": ", what, " is ", dtype_name(t.dtype()), " but input is ",
           dtype_name(x.dtype()));
}

// Saved tensors: detached (see autograd/record.h), and dropped entirely when backward won't need them.
Tensor save_if(bool needed, const Tensor& t) { return needed && t.defined() ? t.detach() : Tensor(); }
bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

kernels::Conv2dParams check_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  check_image(x, "conv2d");
  SN_CHECK(w.defined() && w.dim() == 4, "conv2d: weight must be 4-D [out, in / groups, kh, kw], got ",
           w.defined() ? shape_str(w.shape()) : "undefined");
  SN_CHECK(w.dtype() == x.dtype(), "conv2d: weight is ", dtype_name(w.dtype()), " but input is ",
           dtype_name(x.dtype()));
  SN_CHECK(o.groups > 0, "conv2d: groups must be positive, got ", o.groups);
  SN_CHECK(o.stride[0] > 0 && o.stride[1] > 0, "conv2d: stride must be positive, got ", pair_str(o.stride));
  SN_CHECK(o.dilation[0] > 0 && o.dilation[1] > 0, "conv2d: dilation must be positive, got ",
           pair_str(o.dilation));
  SN_CHECK(o.padding[0] >= 0 && o.padding[1] >= 0, "conv2d: padding must be non-negative, got ",
           pair_str(o.padding));
  const int64_t C = x.size(1), O = w.size(0);
  SN_CHECK(C % o.groups == 0, "conv2d: groups=", o.groups, " does not divide the ", C,
           " channels of input ", shape_str(x.shape()));
  SN_CHECK(O % o.groups == 0, "conv2d: groups=", o.groups, " does not divide the ", O,
           " output channels of weight ", shape_str(w.shape()));
  SN_CHECK(w.size(1) * o.groups == C, "conv2d: input ", shape_str(x.shape()), " has ", C,
           " channels but weight ", shape_str(w.shape()), " expects ", w.size(1) * o.groups,
           " (groups=", o.groups, ")");
  check_channel_param(b, O, x, "conv2d", "bias");
  const int64_t OH = kernels::conv_out_size(x.size(2), w.size(2), o.stride[0], o.padding[0], o.dilation[0]);
  const int64_t OW = kernels::conv_out_size(x.size(3), w.size(3), o.stride[1], o.padding[1], o.dilation[1]);
  SN_CHECK(OH > 0 && OW > 0, "conv2d: kernel ", w.size(2), "x", w.size(3), " (dilation ", pair_str(o.dilation),
           ") is larger than the padded input ", x.size(2) + 2 * o.padding[0], "x", x.size(3) + 2 * o.padding[1],
           " (input ", shape_str(x.shape()), ", padding ", pair_str(o.padding), ")");
  // A frozen weight (an encoder's) lets the kernels keep what they derive from it between calls.
  return {o.stride, o.padding, o.dilation, o.groups, /*frozen_weights=*/!w.requires_grad()};
}

kernels::Pool2dParams check_pool2d(const Tensor& x, const Pool2dOptions& o, const char* op) {
  check_image(x, op);
  kernels::Pool2dParams p{o.kernel, o.stride, o.padding, o.ceil_mode, o.count_include_pad};
  for (int i = 0; i < 2; ++i) {
    SN_CHECK(o.kernel[i] > 0, op, ": kernel must be positive, got ", pair_str(o.kernel));
    SN_CHECK(o.stride[i] >= 0, op, ": stride must be positive (or 0 for the kernel size), got ",
             pair_str(o.stride));
    if (o.stride[i] == 0) p.stride[i] = o.kernel[i];
    // PyTorch's rule; it guarantees every window overlaps the input.
    SN_CHECK(o.padding[i] >= 0 && o.padding[i] <= o.kernel[i] / 2, op, ": padding ", pair_str(o.padding),
             " must be between 0 and half the kernel ", pair_str(o.kernel));
    const int64_t in = x.size(2 + i);
    SN_CHECK(kernels::pool_out_size(in, p.kernel[i], p.stride[i], p.padding[i], p.ceil_mode) > 0, op,
             ": kernel ", pair_str(o.kernel), " is larger than the padded input ", x.size(2) + 2 * o.padding[0],
             "x", x.size(3) + 2 * o.padding[1], " (input ", shape_str(x.shape()), ")");
  }
  return p;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  const kernels::Conv2dParams p = check_conv2d(x, weight, bias, opt);
  Tensor out = kernels::conv2d(x, weight, bias, p);
  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  // dx needs the weight; dweight needs the input.
  const Tensor sx = save_if(gw, x), sw = save_if(gx, weight);
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  return autograd::record("conv2d", {x, weight, bias}, out, [=](const Tensor& g) {
    autograd::Grads r(3);
    if (gx) r[0] = kernels::conv2d_backward_input(g, sw, x_shape, p);
    if (gw) r[1] = kernels::conv2d_backward_weight(g, sx, w_shape, p);
    if (gb) r[2] = kernels::conv2d_backward_bias(g);
    return r;
  });
}

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  const kernels::Conv2dParams p = check_conv2d(x, weight, bias, opt);
  Tensor out = kernels::conv2d(x, weight, bias, p, /*relu=*/true);
  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  // The mask comes from the output, which the next layer keeps alive anyway (it is its input), so
  // saving it costs no memory, unlike relu(conv2d(...)) which also keeps the pre-activation.
  const Tensor sx = save_if(gw, x), sw = save_if(gx, weight), so = save_if(gx || gw || gb, out);
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  return autograd::record("conv2d_relu", {x, weight, bias}, out, [=](const Tensor& g_out) {
    const Tensor g = kernels::relu_backward(g_out, so);
    autograd::Grads r(3);
    if (gx) r[0] = kernels::conv2d_backward_input(g, sw, x_shape, p);
    if (gw) r[1] = kernels::conv2d_backward_weight(g, sx, w_shape, p);
    if (gb) r[2] = kernels::conv2d_backward_bias(g);
    return r;
  });
}

Tensor conv2d_relu_pool(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  const kernels::Conv2dParams p = check_conv2d(x, weight, bias, opt);
  const auto out_size = [&](int i) {
    return kernels::conv_out_size(x.size(2 + i), weight.size(2 + i), p.stride[i], p.padding[i], p.dilation[i]);
  };
  // Two ops where a gradient is wanted, and where the map is too small to pool (max_pool2d's error).
  if ((grad_enabled() && (wants_grad(x) || wants_grad(weight) || wants_grad(bias))) || out_size(0) < 2 ||
      out_size(1) < 2)
    return max_pool2d(conv2d_relu(x, weight, bias, opt), {});
  return kernels::conv2d_relu_pool2x2(x, weight, bias, p);
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dParams p = check_pool2d(x, opt, "max_pool2d");
  Tensor out = kernels::max_pool2d(x, p);
  // The winners are recomputed from the saved input in backward rather than stored: it costs one
  // more pass but no index tensor (tensors hold only floating point).
  const Tensor sx = save_if(wants_grad(x), x);
  return autograd::record("max_pool2d", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::max_pool2d_backward(g, sx, p)};
  });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dParams p = check_pool2d(x, opt, "avg_pool2d");
  Tensor out = kernels::avg_pool2d(x, p);
  const Shape x_shape = x.shape();
  return autograd::record("avg_pool2d", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::avg_pool2d_backward(g, x_shape, p)};
  });
}

Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w) {
  check_image(x, "upsample_nearest2d");
  SN_CHECK(scale_h > 0 && scale_w > 0, "upsample_nearest2d: scale factors must be positive, got ", scale_h,
           "x", scale_w, " for input ", shape_str(x.shape()));
  Tensor out = kernels::upsample_nearest2d(x, scale_h, scale_w);
  return autograd::record("upsample_nearest2d", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::upsample_nearest2d_backward(g, scale_h, scale_w)};
  });
}

Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_image(x, "upsample_bilinear2d");
  SN_CHECK(out_h > 0 && out_w > 0, "upsample_bilinear2d: output size must be positive, got ", out_h, "x",
           out_w, " for input ", shape_str(x.shape()));
  SN_CHECK(x.size(2) > 0 && x.size(3) > 0, "upsample_bilinear2d: cannot resize the empty image ",
           shape_str(x.shape()));
  Tensor out = kernels::upsample_bilinear2d(x, out_h, out_w);
  const Shape x_shape = x.shape();
  return autograd::record("upsample_bilinear2d", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::upsample_bilinear2d_backward(g, x_shape)};
  });
}

Tensor pad2d(const Tensor& x, std::array<int64_t, 4> lrtb, PadMode mode) {
  check_image(x, "pad2d");
  const auto [l, r, t, b] = lrtb;
  SN_CHECK(l >= 0 && r >= 0 && t >= 0 && b >= 0, "pad2d: pads (left, right, top, bottom) must be non-negative, got (",
           l, ", ", r, ", ", t, ", ", b, ")");
  const kernels::PadMode kmode = mode == PadMode::Reflect ? kernels::PadMode::Reflect : kernels::PadMode::Zero;
  if (mode == PadMode::Reflect) {
    const int64_t H = x.size(2), W = x.size(3);
    SN_CHECK(l < W && r < W && t < H && b < H, "pad2d: reflect pads (left, right, top, bottom) = (", l, ", ", r,
             ", ", t, ", ", b, ") must each be smaller than the padded axis of input ", shape_str(x.shape()));
  }
  Tensor out = kernels::pad2d(x, lrtb, kmode);
  const Shape x_shape = x.shape();
  return autograd::record("pad2d", {x}, out, [=](const Tensor& g) {
    return autograd::Grads{kernels::pad2d_backward(g, x_shape, lrtb, kmode)};
  });
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_image(x, "instance_norm");
  check_channel_param(weight, x.size(1), x, "instance_norm", "weight");
  check_channel_param(bias, x.size(1), x, "instance_norm", "bias");
  SN_CHECK(x.size(2) * x.size(3) > 1, "instance_norm: needs more than one spatial element per channel, got input ",
           shape_str(x.shape()));
  SN_CHECK(eps >= 0, "instance_norm: eps must be non-negative, got ", eps);
  kernels::InstanceNormResult res = kernels::instance_norm(x, weight, bias, eps);
  const Tensor sx = x.detach(), sw = save_if(true, weight), mean = res.mean, rstd = res.rstd;
  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  return autograd::record("instance_norm", {x, weight, bias}, res.out, [=](const Tensor& g) {
    kernels::InstanceNormGrads d = kernels::instance_norm_backward(g, sx, mean, rstd, sw);
    return autograd::Grads{gx ? d.input : Tensor(), gw ? d.weight : Tensor(), gb ? d.bias : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SN_CHECK(x.defined() && weight.defined(), "linear: input and weight must be defined");
  SN_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out, in], got ", shape_str(weight.shape()));
  SN_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()),
           " has ", x.dim() >= 1 ? x.size(-1) : 0, " features but weight ", shape_str(weight.shape()),
           " expects ", weight.size(1));
  SN_CHECK(x.dtype() == weight.dtype(), "linear: weight is ", dtype_name(weight.dtype()), " but input is ",
           dtype_name(x.dtype()));
  check_channel_param(bias, weight.size(0), x, "linear", "bias");
  const Tensor y = matmul(x, transpose(weight, 0, 1));
  return bias.defined() ? add(y, bias) : y;
}

namespace {
void check_loss_args(const Tensor& input, const Tensor& target, const char* op) {
  SN_CHECK(input.defined() && target.defined(), op, ": input and target must be defined");
  SN_CHECK(input.shape() == target.shape(), op, ": input ", shape_str(input.shape()), " and target ",
           shape_str(target.shape()), " differ in shape");
  SN_CHECK(input.numel() > 0, op, ": input ", shape_str(input.shape()), " is empty");
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  check_loss_args(input, target, "mse_loss");
  return mean(square(sub(input, target)));
}

Tensor l1_loss(const Tensor& input, const Tensor& target) {
  check_loss_args(input, target, "l1_loss");
  return mean(abs(sub(input, target)));
}

}  // namespace sn
