// The backward pass: order the graph topologically, then push gradients from the roots to the
// leaves, summing where a tensor was used more than once.
#include "autograd/engine.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/kernels/core.h"

namespace sn {

namespace {

using autograd::Node;

thread_local bool g_grad_enabled = true;

// Adds g into slot (taking ownership of the first gradient, adding into a private copy after).
void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
    return;
  }
  slot = kernels::binary(kernels::Binary::Add, slot, g);
}

// What a leaf's first gradient g becomes as its .grad: g itself when nothing else can see its
// memory (the usual case, a backward kernel's fresh output: the copy would cost a fresh buffer
// and a pass over it per parameter per step), else a copy, so .grad never aliases a tensor the
// graph or the caller still uses.
Tensor first_grad(const Tensor& g) {
  const auto& storage = g.storage();
  const bool sole = g.impl_ptr().use_count() == 1 && storage && storage.use_count() == 1 && g.offset() == 0 &&
                    g.is_contiguous() && storage->nbytes() == static_cast<size_t>(g.numel()) * dtype_size(g.dtype());
  return sole ? g : g.clone_data();
}

// Nodes reachable from the roots, each after all nodes that feed gradient into it.
std::vector<Node*> topological_order(const std::vector<Node*>& roots) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;  // iterative DFS: deep graphs must not overflow
  for (Node* r : roots) {
    if (!r || !seen.insert(r).second) continue;
    stack.push_back({r, 0});
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      if (i < n->next.size()) {
        Node* c = n->next[i++].get();
        if (c && seen.insert(c).second) stack.push_back({c, 0});
      } else {
        post.push_back(n);
        stack.pop_back();
      }
    }
  }
  return {post.rbegin(), post.rend()};
}

// captured: when non-null, gradients reaching these tensors are stored here instead of in .grad.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
                  bool retain_graph, std::unordered_map<TensorImpl*, Tensor>* captured) {
  NoGradGuard no_grad;  // backward closures use plain kernels; never record them
  std::unordered_map<Node*, Tensor> pending;
  std::vector<Node*> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SN_CHECK(r.requires_grad(), "backward: tensor ", shape_str(r.shape()),
             " does not require grad and has no grad_fn (was it computed under NoGradGuard, from "
             "inputs without requires_grad, or by a non-differentiable op?)");
    Tensor g = root_grads.size() > i ? root_grads[i] : Tensor();
    if (!g.defined()) {
      SN_CHECK(r.numel() == 1, "backward: gradient can only be implied for a one-element output, "
               "got shape ", shape_str(r.shape()), "; pass grad explicitly");
      g = Tensor::ones(r.shape(), r.dtype(), r.device());
    }
    SN_CHECK(g.shape() == r.shape(), "backward: gradient of shape ", shape_str(g.shape()),
             " does not match output of shape ", shape_str(r.shape()));
    if (r.is_leaf()) {  // d(leaf)/d(leaf) = grad, nothing to traverse
      Tensor slot = captured ? (*captured)[r.impl_ptr().get()] : r.grad();
      accumulate(slot, g.to(r.dtype()));
      if (captured) (*captured)[r.impl_ptr().get()] = slot; else r.set_grad(slot);
      continue;
    }
    accumulate(pending[r.grad_fn().get()], g.to(r.dtype()));
    root_nodes.push_back(r.grad_fn().get());
  }

  for (Node* n : topological_order(root_nodes)) {
    auto it = pending.find(n);
    if (it == pending.end()) continue;  // no gradient reached this branch
    Tensor g = std::move(it->second);
    pending.erase(it);

    if (n->leaf) {  // an accumulator: deliver to the leaf
      if (captured) {
        auto c = captured->find(n->leaf.get());
        if (c != captured->end()) accumulate(c->second, g);
        continue;
      }
      Tensor leaf(n->leaf);
      Tensor slot = leaf.grad();
      if (!slot.defined()) leaf.set_grad(first_grad(g));
      else kernels::add_(slot, g);
      continue;
    }
    if (auto out = n->output.lock()) {
      if (captured && captured->count(out.get())) accumulate((*captured)[out.get()], g);
      if (!captured && out->autograd.retains_grad) {
        Tensor t(out);
        Tensor slot = t.grad();
        if (!slot.defined()) t.set_grad(g.clone_data());  // g goes on backward: never alias it
        else kernels::add_(slot, g);
      }
    }
    SN_CHECK(!n->released, "backward: trying to backward through the graph a second time (op '",
             n->name, "'): its saved tensors were freed by the first backward; pass retain_graph=true "
             "to the first call if you need to");
    std::vector<Tensor> grads = n->backward(g);
    SN_CHECK(grads.size() == n->next.size(), "backward of op '", n->name, "' returned ",
             grads.size(), " gradients for ", n->next.size(), " inputs");
    if (!retain_graph) n->release();
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!n->next[i] || !grads[i].defined()) continue;
      SN_CHECK(grads[i].shape() == n->input_shapes[i], "backward of op '", n->name,
               "' returned a gradient of shape ", shape_str(grads[i].shape()), " for input ", i,
               " of shape ", shape_str(n->input_shapes[i]));
      accumulate(pending[n->next[i].get()], grads[i]);
    }
  }
}

}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  run_backward({root}, {grad}, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::unordered_map<TensorImpl*, Tensor> captured;
  for (const Tensor& x : inputs) {
    SN_CHECK(x.requires_grad(), "grad: input of shape ", shape_str(x.shape()), " does not require grad");
    captured[x.impl_ptr().get()] = Tensor();
  }
  run_backward(outputs, grad_outputs, retain_graph, &captured);
  std::vector<Tensor> result;
  for (const Tensor& x : inputs) {
    Tensor g = captured[x.impl_ptr().get()];
    result.push_back(g.defined() ? g : Tensor::zeros(x.shape(), x.dtype(), x.device()));
  }
  return result;
}

}  // namespace sn
