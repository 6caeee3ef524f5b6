// Finite-difference check of analytic gradients (torch.autograd.gradcheck, in spirit).
//
// With a fixed random weight w shaped like the output, L = sum(f(inputs) * w). The analytic dL/dx
// from backward is compared, element by element, with the central difference
// (L(x + eps) - L(x - eps)) / (2 eps). Run it in float64: in float32 the difference is mostly noise.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sn {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t seed = 1234;  // for the output weighting w
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // which input, which element, analytic vs numeric, when !ok
  double max_abs_err = 0.0;
};

// `inputs` must be float64 leaves with requires_grad set on the ones to check. They may be
// non-contiguous views; they must not be expanded (a stride-0 element stands for several).
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace sn
