#include "optim/sgd.h"

#include "tensor/cuda/ops.h"

namespace sn {

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{{std::move(params), options.lr, options.weight_decay}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer("SGD", std::move(groups), {"momentum_buffer"}), options_(options) {
  SN_CHECK(options.momentum >= 0, "SGD: invalid momentum ", options.momentum);
  SN_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
           "SGD: nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  for_each_param_with_grad([&](const ParamGroup& group, const Tensor& param, const Tensor& grad, size_t index) {
    Tensor& buffer = state(index, "momentum_buffer");
    const bool first = !buffer.defined();
    if (options_.momentum != 0 && first) buffer = zeros_like(param);
    SN_CUDA_ROUTE(param, sgd_step(param, grad, buffer, {group.lr, options_.momentum, options_.dampening,
                                                        group.weight_decay, options_.nesterov, first}));
    dispatch(param.dtype(), [&]<class T>() {
      // Coefficients rounded to T, as PyTorch passes them to its T kernels.
      const T wd = static_cast<T>(group.weight_decay), neg_lr = static_cast<T>(-group.lr);
      const T mom = static_cast<T>(options_.momentum), keep = static_cast<T>(1 - options_.dampening);
      T* p = param.data<T>();
      const T* g = grad.data<T>();
      T* buf = options_.momentum != 0 ? buffer.data<T>() : nullptr;
      for (int64_t i = 0, n = param.numel(); i < n; ++i) {
        T d = wd != 0 ? g[i] + wd * p[i] : g[i];
        if (buf) {
          buf[i] = first ? d : buf[i] * mom + keep * d;
          d = options_.nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] += neg_lr * d;
      }
    });
  });
}

}  // namespace sn
