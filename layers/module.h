// Module: the building block of networks, after torch.nn.Module.
//
// A module owns named parameters (trainable leaves), buffers (saved state that is not trained)
// and child modules. Names nest with dots ("body.0.weight"); everything is listed in registration
// order, so state_dict keys line up with PyTorch's for the same architecture.
//
// Parameters are Tensor handles shared with the layer's own members: load_state_dict() and to()
// change values and dtype *inside* the existing tensors, so an optimizer built earlier keeps
// updating the same parameters.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "tensor/tensor_dict.h"

namespace sn {

class Generator;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // The layer type, e.g. "Conv2d".
  const std::string& name() const { return type_name_; }
  // One line describing this module's own configuration, e.g. "3, 8, kernel_size=(3, 3)".
  virtual std::string extra_repr() const { return ""; }
  // The module tree, PyTorch-style:  Sequential(\n  (0): Conv2d(3, 8, ...)\n ...)
  std::string str() const;

  // ---- registration (call from a layer's constructor) ----
  // Marks `t` as requiring grad and returns it.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // ---- traversal (recursive, registration order, dotted names) ----
  // A tensor reachable under two names is listed once, under the first (shared weights).
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  int64_t num_parameters() const;

  // ---- state ----
  // Parameters and buffers by dotted name. The tensors are the live ones (detached handles to
  // the same storage, so saving them does not record anything).
  TensorDict state_dict() const;
  // Copies values into the existing tensors. Strict: every key must exist on both sides; in any
  // case shapes and dtypes must match. Throws before changing anything when the dict is bad.
  void load_state_dict(const TensorDict& dict, bool strict = true);

  // ---- modes ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's .grad (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();
  // Converts every parameter and buffer to `dtype` in place (float64 for gradient checks);
  // gradients are dropped.
  void to(DType dtype);
  // Moves every parameter and buffer to `device` in place (same handles); gradients are dropped.
  void to(Device device);

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;

  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  void str_into(std::string& out, int indent) const;
};

// The generator layers use for initialization when none is passed: seeded with a fixed value,
// so a model built twice in one program gets different (but reproducible) weights each time.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace sn
