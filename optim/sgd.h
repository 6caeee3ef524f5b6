// Stochastic gradient descent with momentum, after torch.optim.SGD (PyTorch 1.13's update rule):
//
//   d = grad + weight_decay * p
//   if momentum:  buf = d                                   (first step)
//                 buf = momentum * buf + (1 - dampening) * d  (later steps)
//                 d = nesterov ? d + momentum * buf : buf
//   p = p - lr * d
#pragma once
#include "optim/optimizer.h"

namespace sn {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  // Groups bring their own lr and weight_decay; momentum etc. come from `options`.
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  void step() override;

 private:
  SGDOptions options_;
};

}  // namespace sn
