#include "optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/kernels/core.h"

namespace sn {

namespace {
// A GPU gradient's share of the norm, computed on its device in float64: max |g| for the inf-norm,
// else sum |g|^p.
double device_norm_part(const Tensor& g, double norm_type) {
  using kernels::Unary;
  const Tensor a = kernels::unary(Unary::Abs, g.to(DType::Float64));
  if (std::isinf(norm_type)) return kernels::reduce(kernels::Reduce::Max, a, {}, false).item();
  const Tensor powered = norm_type == 2.0 ? kernels::unary(Unary::Square, a) : kernels::unary(Unary::PowScalar, a, norm_type);
  return kernels::reduce(kernels::Reduce::Sum, powered, {}, false).item();
}
}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  SN_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive, got ", norm_type);
  const bool inf_norm = std::isinf(norm_type);
  // Accumulated in double across all gradients: (sum |g|^p)^(1/p), or max |g|.
  double acc = 0.0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (g.device().type != DeviceType::CPU && g.numel() > 0) {  // reduced where it lives; one number back
      const double part = device_norm_part(g, norm_type);
      acc = inf_norm ? std::max(acc, part) : acc + part;
      continue;
    }
    for (double x : g.to_vector<double>()) {
      const double a = std::abs(x);
      acc = inf_norm ? std::max(acc, a) : acc + (norm_type == 2.0 ? a * a : std::pow(a, norm_type));
    }
  }
  const double total = inf_norm ? acc : (norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type));
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {  // PyTorch multiplies by min(coef, 1): a factor of 1 changes nothing
    NoGradGuard no_grad;
    for (const Tensor& p : params)
      if (p.grad().defined()) p.set_grad(kernels::unary(kernels::Unary::MulScalar, p.grad(), coef));
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  SN_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be non-negative, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params)
    if (p.grad().defined()) p.set_grad(kernels::unary(kernels::Unary::Clamp, p.grad(), -clip_value, clip_value));
}

}  // namespace sn
