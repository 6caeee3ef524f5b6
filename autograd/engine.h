// Reverse-mode differentiation over the recorded graph.
#pragma once
#include "tensor/tensor.h"

namespace sn {

// Accumulates d(root)/d(leaf) into .grad of every leaf that requires grad (and of non-leaves that
// called retain_grad). `grad` defaults to 1 for a one-element root. Unless retain_graph, the
// graph's saved tensors are freed as it goes, and a second backward through it throws.
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

// Returns d(sum(outputs * grad_outputs))/d(inputs) without touching any .grad field.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

}  // namespace sn
