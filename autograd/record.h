// How an op joins the graph. Each differentiable op computes its output with a plain kernel,
// then calls record() with a closure that maps the output gradient to the input gradients.
//
// Rule for closures: capture tensors with .detach(). A captured output that still points at its
// own grad_fn would form a reference cycle and never be freed.
#pragma once
#include <initializer_list>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace sn::autograd {

// True when grad mode is on and some input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches `out` to the graph as the result of `name` applied to `inputs` (when needed) and
// returns it. The closure must return one gradient per input, in order.
Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor out, Node::BackwardFn fn);

}  // namespace sn::autograd
