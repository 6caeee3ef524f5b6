#include "autograd/record.h"

#include <algorithm>

namespace sn::autograd {

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {
// Where gradient for `t` should go: its producing node, or a fresh accumulator for a leaf.
std::shared_ptr<Node> edge_for(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.grad_fn()) return t.grad_fn();
  auto acc = std::make_shared<Node>();
  acc->name = "accumulate_grad";
  acc->leaf = t.impl_ptr();
  return acc;
}
}  // namespace

Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor out, Node::BackwardFn fn) {
  if (!needs_grad(inputs)) return out;
  // The output gets its own TensorImpl so that a view op never rewrites the history of its base.
  if (std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return t.defined() && out.same(t); }))
    out = out.detach();
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : inputs) {
    node->next.push_back(edge_for(t));
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
    node->input_dtypes.push_back(t.defined() ? t.dtype() : DType::Float32);
  }
  node->backward = std::move(fn);
  node->output = out.impl_ptr();
  out.impl().autograd.requires_grad = true;
  out.impl().autograd.grad_fn = std::move(node);
  return out;
}

}  // namespace sn::autograd
