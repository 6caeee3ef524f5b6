#include "layers/conv.h"

#include "layers/init.h"
#include "tensor/random.h"

namespace sn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const Conv2dConfig& config,
               Generator* gen)
    : Module("Conv2d"), in_(in_channels), out_(out_channels), kernel_(kernel_size), config_(config) {
  SN_CHECK(in_channels > 0 && out_channels > 0 && kernel_size.h > 0 && kernel_size.w > 0,
           "Conv2d: channels and kernel size must be positive, got in=", in_channels, " out=", out_channels,
           " kernel=", kernel_size.str());
  SN_CHECK(config.groups > 0 && in_channels % config.groups == 0 && out_channels % config.groups == 0,
           "Conv2d: groups=", config.groups, " must divide in_channels=", in_channels, " and out_channels=",
           out_channels);
  weight = register_parameter(
      "weight", Tensor::empty({out_channels, in_channels / config.groups, kernel_size.h, kernel_size.w}));
  if (config.bias) bias = register_parameter("bias", Tensor::empty({out_channels}));
  init::default_layer_init_(weight, bias, gen ? *gen : default_generator());
}

Tensor Conv2d::forward(const Tensor& x) {
  Conv2dOptions opt;
  opt.stride = config_.stride.array();
  opt.padding = config_.padding.array();
  opt.dilation = config_.dilation.array();
  opt.groups = config_.groups;
  return conv2d(x, weight, bias, opt);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=" + kernel_.str() +
                  ", stride=" + config_.stride.str();
  if (config_.padding != Size2(0)) s += ", padding=" + config_.padding.str();
  if (config_.dilation != Size2(1)) s += ", dilation=" + config_.dilation.str();
  if (config_.groups != 1) s += ", groups=" + std::to_string(config_.groups);
  if (!config_.bias) s += ", bias=False";
  return s;
}

}  // namespace sn
