#include "layers/spectral_norm.h"

#include <sstream>

#include "layers/init.h"
#include "tensor/random.h"

namespace sn {

Tensor l2_normalize(const Tensor& x, double eps) {
  // max(norm, eps) rather than norm + eps: the same formula as F.normalize, so a vector that is
  // not tiny comes out with exactly unit length.
  const Tensor norm = sqrt(sum(square(x)));
  return div(x, maximum(norm, Tensor::scalar(eps, x.dtype(), x.device())));
}

Tensor spectral_normalized(const Tensor& weight_orig, const Tensor& u, const Tensor& v) {
  SN_CHECK(weight_orig.defined() && weight_orig.dim() >= 1 && u.defined() && v.defined() && u.dim() == 1 &&
               v.dim() == 1 && u.size(0) == weight_orig.size(0) &&
               u.size(0) * v.size(0) == weight_orig.numel(),
           "spectral_normalized: expected weight [out, ...], u [out], v [numel / out], got weight ",
           weight_orig.defined() ? shape_str(weight_orig.shape()) : "undefined", ", u ",
           u.defined() ? shape_str(u.shape()) : "undefined", ", v ", v.defined() ? shape_str(v.shape()) : "undefined");
  const Tensor w = reshape(weight_orig, {weight_orig.size(0), -1});
  const Tensor sigma = matmul(u, matmul(w, v));  // u . (W v), a scalar
  return div(weight_orig, sigma);
}

SpectralNormConv2d::SpectralNormConv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size,
                                       const Conv2dConfig& config, Generator* gen, int64_t n_power_iterations,
                                       double eps)
    : Module("SpectralNormConv2d"),
      in_(in_channels),
      out_(out_channels),
      kernel_(kernel_size),
      config_(config),
      n_power_iterations_(n_power_iterations),
      eps_(eps) {
  SN_CHECK(in_channels > 0 && out_channels > 0 && kernel_size.h > 0 && kernel_size.w > 0,
           "SpectralNormConv2d: channels and kernel size must be positive, got in=", in_channels,
           " out=", out_channels, " kernel=", kernel_size.str());
  SN_CHECK(config.groups > 0 && in_channels % config.groups == 0 && out_channels % config.groups == 0,
           "SpectralNormConv2d: groups=", config.groups, " must divide in_channels=", in_channels,
           " and out_channels=", out_channels);
  SN_CHECK(n_power_iterations >= 1, "SpectralNormConv2d: n_power_iterations must be positive, got ",
           n_power_iterations, " (use eval() to stop the power iteration)");
  SN_CHECK(eps > 0, "SpectralNormConv2d: eps must be positive, got ", eps);
  Generator& g = gen ? *gen : default_generator();
  const int64_t per_out = in_channels / config.groups * kernel_size.h * kernel_size.w;
  // Same draws in the same order as PyTorch: the conv's weight and bias, then u, then v.
  Tensor w = Tensor::empty({out_channels, in_channels / config.groups, kernel_size.h, kernel_size.w});
  Tensor b = config.bias ? Tensor::empty({out_channels}) : Tensor();
  init::default_layer_init_(w, b, g);
  Tensor u = Tensor::empty({out_channels}), v = Tensor::empty({per_out});
  init::normal_(u, g);
  init::normal_(v, g);
  {
    NoGradGuard no_grad;
    u.copy_from(l2_normalize(u, eps));
    v.copy_from(l2_normalize(v, eps));
  }
  // Registration order gives PyTorch's state_dict order (see the header).
  if (config.bias) bias = register_parameter("bias", b);
  weight_orig = register_parameter("weight_orig", w);
  weight_u = register_buffer("weight_u", u);
  weight_v = register_buffer("weight_v", v);
}

void SpectralNormConv2d::power_iterate(int64_t n) {
  NoGradGuard no_grad;
  const Tensor w = reshape(weight_orig.detach(), {out_, -1});
  const Tensor wt = transpose(w, 0, 1);
  for (int64_t i = 0; i < n; ++i) {
    weight_v.copy_from(l2_normalize(matmul(wt, weight_u), eps_));
    weight_u.copy_from(l2_normalize(matmul(w, weight_v), eps_));
  }
}

Tensor SpectralNormConv2d::normalized_weight() const {
  // Copies of u and v: a later training-mode forward overwrites the buffers in place, and a graph
  // recorded now (e.g. D(real) before D(fake) in one loss) must still see the values it used.
  return spectral_normalized(weight_orig, weight_u.clone_data(), weight_v.clone_data());
}

Tensor SpectralNormConv2d::forward(const Tensor& x) {
  if (is_training()) power_iterate(n_power_iterations_);
  Conv2dOptions opt;
  opt.stride = config_.stride.array();
  opt.padding = config_.padding.array();
  opt.dilation = config_.dilation.array();
  opt.groups = config_.groups;
  return conv2d(x, normalized_weight(), bias, opt);
}

std::string SpectralNormConv2d::extra_repr() const {
  std::ostringstream os;
  os << in_ << ", " << out_ << ", kernel_size=" << kernel_.str() << ", stride=" << config_.stride.str();
  if (config_.padding != Size2(0)) os << ", padding=" << config_.padding.str();
  if (config_.dilation != Size2(1)) os << ", dilation=" << config_.dilation.str();
  if (config_.groups != 1) os << ", groups=" << config_.groups;
  if (!config_.bias) os << ", bias=False";
  os << ", n_power_iterations=" << n_power_iterations_;
  return os.str();
}

}  // namespace sn
