// Linear (fully connected), initialized as torch.nn.Linear is by default.
#pragma once
#include "autograd/nn_ops.h"
#include "layers/module.h"

namespace sn {

// y = x @ weight^T + bias; weight [out, in], bias [out], initialized like torch.nn.Linear.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor weight;
  Tensor bias;

 private:
  int64_t in_, out_;
};

}  // namespace sn
