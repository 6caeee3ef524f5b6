// Adam and AdamW, after torch.optim.Adam / AdamW (PyTorch 1.13's single-tensor update rule):
//
//   t += 1
//   Adam:  g = grad + weight_decay * p            (L2 penalty through the gradient)
//   AdamW: p = p * (1 - lr * weight_decay)        (decoupled decay), g = grad
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   amsgrad: v_max = max(v_max, v), and v_max replaces v below
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// eps is added after the bias correction of sqrt(v), as PyTorch does.
#pragma once
#include "optim/optimizer.h"

namespace sn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2: use AdamW::default_options()
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  void step() override;

 protected:
  Adam(const char* name, std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

class AdamW : public Adam {
 public:
  static AdamOptions default_options() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  AdamW(std::vector<Tensor> params, const AdamOptions& options = default_options());
  AdamW(std::vector<ParamGroup> groups, const AdamOptions& options = default_options());
};

}  // namespace sn
