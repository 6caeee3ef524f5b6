// Conv2d, initialized as torch.nn.Conv2d is by default.
#pragma once
#include "autograd/nn_ops.h"
#include "layers/module.h"
#include "layers/size2.h"

namespace sn {

struct Conv2dConfig {
  Size2 stride = 1;
  Size2 padding = 0;  // zeros; put a ReflectionPad2d in front for reflection padding
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// weight [out, in/groups, kh, kw], bias [out]; both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
// fan_in = in/groups * kh * kw (torch.nn.Conv2d's reset_parameters). `gen` defaults to
// default_generator().
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const Conv2dConfig& config = {},
         Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor weight;
  Tensor bias;  // undefined when config.bias is false

 private:
  int64_t in_, out_;
  Size2 kernel_;
  Conv2dConfig config_;
};

}  // namespace sn
