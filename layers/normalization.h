// InstanceNorm2d: per-sample, per-channel normalization over H and W (torch.nn.InstanceNorm2d
// with track_running_stats=False, its default: train and eval behave the same).
#pragma once
#include "autograd/nn_ops.h"
#include "layers/module.h"

namespace sn {

class InstanceNorm2d : public Module {
 public:
  // affine adds a per-channel scale (init 1) and shift (init 0); PyTorch's default is false.
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, bool affine = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor weight;  // [C], undefined unless affine
  Tensor bias;

 private:
  int64_t num_features_;
  double eps_;
};

}  // namespace sn
