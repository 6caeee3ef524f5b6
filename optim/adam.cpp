#include "optim/adam.h"

#include <algorithm>
#include <cmath>

#include "tensor/cuda/ops.h"

namespace sn {

namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params, const AdamOptions& o) {
  return {{std::move(params), o.lr, o.weight_decay}};
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("Adam", one_group(std::move(params), options), options, false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options) : Adam("Adam", std::move(groups), options, false) {}

AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("AdamW", one_group(std::move(params), options), options, true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam("AdamW", std::move(groups), options, true) {}

Adam::Adam(const char* name, std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled)
    : Optimizer(name, std::move(groups), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
      options_(options),
      decoupled_weight_decay_(decoupled) {
  SN_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1, name,
           ": betas must be in [0, 1), got (", options.beta1, ", ", options.beta2, ")");
  SN_CHECK(options.eps >= 0, name, ": invalid eps ", options.eps);
}

void Adam::step() {
  for_each_param_with_grad([&](const ParamGroup& group, const Tensor& param, const Tensor& grad, size_t index) {
    Tensor& exp_avg = state(index, "exp_avg");
    Tensor& exp_avg_sq = state(index, "exp_avg_sq");
    Tensor& max_exp_avg_sq = state(index, "max_exp_avg_sq");
    if (!exp_avg.defined()) exp_avg = zeros_like(param);
    if (!exp_avg_sq.defined()) exp_avg_sq = zeros_like(param);
    if (options_.amsgrad && !max_exp_avg_sq.defined()) max_exp_avg_sq = zeros_like(param);
    const double t = increment_step(index);

    // Scalars in double, as PyTorch computes them in Python, then rounded to T for the kernels.
    const double lr = group.lr, wd = group.weight_decay;
    const double step_size = lr / (1 - std::pow(options_.beta1, t));
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
    SN_CUDA_ROUTE(param, adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                                   {options_.beta1, options_.beta2, options_.eps, lr, wd, step_size,
                                    bias_correction2_sqrt, decoupled_weight_decay_, options_.amsgrad}));
    dispatch(param.dtype(), [&]<class T>() {
      const T b1 = static_cast<T>(options_.beta1), one_minus_b1 = static_cast<T>(1 - options_.beta1);
      const T b2 = static_cast<T>(options_.beta2), one_minus_b2 = static_cast<T>(1 - options_.beta2);
      const T l2 = static_cast<T>(decoupled_weight_decay_ ? 0.0 : wd);
      const T decay = static_cast<T>(1 - lr * wd);
      const T bc2_sqrt = static_cast<T>(bias_correction2_sqrt), eps = static_cast<T>(options_.eps);
      const T neg_step = static_cast<T>(-step_size);
      T* p = param.data<T>();
      const T* g = grad.data<T>();
      T* m = exp_avg.data<T>();
      T* v = exp_avg_sq.data<T>();
      T* vmax = options_.amsgrad ? max_exp_avg_sq.data<T>() : nullptr;
      for (int64_t i = 0, n = param.numel(); i < n; ++i) {
        if (decoupled_weight_decay_ && wd != 0) p[i] *= decay;
        const T gi = l2 != 0 ? g[i] + l2 * p[i] : g[i];
        m[i] = m[i] * b1 + one_minus_b1 * gi;
        v[i] = v[i] * b2 + one_minus_b2 * gi * gi;  // ATen's addcmul: (value * g) * g
        T second = v[i];
        if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
        const T denom = std::sqrt(second) / bc2_sqrt + eps;
        p[i] += neg_step * m[i] / denom;  // ATen's addcdiv: (value * m) / denom
      }
    });
  });
}

}  // namespace sn
