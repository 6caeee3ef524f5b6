// Spatial resampling layers: max / average pooling and upsampling (NCHW).
#pragma once
#include "autograd/nn_ops.h"
#include "layers/module.h"
#include "layers/size2.h"

namespace sn {

struct PoolConfig {
  Size2 stride = 0;  // 0 = the kernel size (PyTorch's default)
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // AvgPool2d only
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, const PoolConfig& config = {});
  Tensor forward(const Tensor& x) override { return max_pool2d(x, options_); }
  std::string extra_repr() const override;

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, const PoolConfig& config = {});
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, options_); }
  std::string extra_repr() const override;

 private:
  Pool2dOptions options_;
};

enum class UpsampleMode { Nearest, Bilinear };

// torch.nn.Upsample: by an integer scale factor (either mode), or to a fixed size (bilinear, or
// nearest when the size is an integer multiple of the input). Bilinear uses align_corners=False.
class Upsample : public Module {
 public:
  static std::shared_ptr<Upsample> scale(Size2 factor, UpsampleMode mode = UpsampleMode::Nearest);
  static std::shared_ptr<Upsample> size(Size2 out_size, UpsampleMode mode = UpsampleMode::Bilinear);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Upsample(UpsampleMode mode, Size2 value, bool is_scale);
  UpsampleMode mode_;
  Size2 value_;  // scale factor or output size
  bool is_scale_;
};

}  // namespace sn
