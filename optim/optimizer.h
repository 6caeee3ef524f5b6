// Optimizer: updates parameters from their .grad, after torch.optim.Optimizer.
//
// Parameters are organised in groups, each with its own learning rate and weight decay (so a
// schedule or a fine-tuning setup can treat layers differently). Per-parameter state (momentum
// buffers, Adam's moments, step counts) is kept by parameter index, counting across groups in
// order, exactly like PyTorch's optimizer state_dict, and can be saved and restored so that a
// resumed run continues bit-identically.
//
// Updates run under NoGradGuard on the raw data: they are never part of the autograd graph.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/tensor_dict.h"

namespace sn {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  // Drops every parameter's .grad (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  const std::string& name() const { return name_; }
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  // A snapshot (copies) of the optimizer's state:
  //   "param_groups.<g>.lr", "param_groups.<g>.weight_decay", "param_groups.<g>.num_params"
  //   "state.<i>.<name>"  (e.g. state.3.exp_avg; i counts parameters across groups)
  // Scalars are float64 0-d tensors; state tensors have their parameter's shape and dtype.
  TensorDict state_dict() const;
  // Restores a state_dict from an optimizer of the same kind over the same parameter layout.
  // Checks everything (group sizes, known names, shapes, dtypes) before changing anything.
  void load_state_dict(const TensorDict& dict);

 protected:
  // `state_names` lists the per-parameter state this optimizer keeps (checked on load).
  Optimizer(std::string name, std::vector<ParamGroup> groups, std::vector<std::string> state_names);

  // Calls f(group, param, grad, index) for each parameter with a gradient, grad contiguous and
  // checked against the parameter's shape and dtype, under NoGradGuard.
  template <class F>
  void for_each_param_with_grad(F&& f) {
    NoGradGuard no_grad;
    size_t index = 0;
    for (ParamGroup& group : groups_)
      for (const Tensor& p : group.params) {
        const Tensor g = checked_grad(p, index);
        if (g.defined()) {
          f(group, p, g, index);
          p.mark_written();  // f wrote the parameter through data<T>()
        }
        ++index;
      }
  }

  // The named state of parameter `index`; undefined until the optimizer first sets it.
  Tensor& state(size_t index, const std::string& key) { return state_[index][key]; }
  // Adds 1 to the parameter's float64 step counter (created at 0) and returns the new count.
  double increment_step(size_t index);
  // A zero tensor with the parameter's shape and dtype (initial optimizer state).
  static Tensor zeros_like(const Tensor& param) { return Tensor::zeros(param.shape(), param.dtype(), param.device()); }

 private:
  std::string name_;
  std::vector<ParamGroup> groups_;
  std::vector<std::string> state_names_;
  std::vector<std::map<std::string, Tensor>> state_;  // per parameter index

  Tensor checked_grad(const Tensor& param, size_t index) const;
  size_t num_params() const { return state_.size(); }
};

}  // namespace sn
