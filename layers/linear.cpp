#include "layers/linear.h"

#include "layers/init.h"
#include "tensor/random.h"

namespace sn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator* gen)
    : Module("Linear"), in_(in_features), out_(out_features) {
  SN_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in=", in_features,
           " out=", out_features);
  weight = register_parameter("weight", Tensor::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", Tensor::empty({out_features}));
  init::default_layer_init_(weight, bias, gen ? *gen : default_generator());
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

}  // namespace sn
