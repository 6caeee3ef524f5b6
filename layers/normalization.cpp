#include "layers/normalization.h"

#include <sstream>

namespace sn {

InstanceNorm2d::InstanceNorm2d(int64_t num_features, double eps, bool affine)
    : Module("InstanceNorm2d"), num_features_(num_features), eps_(eps) {
  SN_CHECK(num_features > 0, "InstanceNorm2d: num_features must be positive, got ", num_features);
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({num_features}));
    bias = register_parameter("bias", Tensor::zeros({num_features}));
  }
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  SN_CHECK(x.dim() == 4 && x.size(1) == num_features_, "InstanceNorm2d(", num_features_,
           "): expected an input [N, ", num_features_, ", H, W], got ", shape_str(x.shape()));
  return instance_norm(x, weight, bias, eps_);
}

std::string InstanceNorm2d::extra_repr() const {
  std::ostringstream os;
  os << num_features_ << ", eps=" << eps_ << ", affine=" << (weight.defined() ? "True" : "False");
  return os.str();
}

}  // namespace sn
