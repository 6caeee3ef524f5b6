// The backward graph. Every differentiable op that sees an input requiring grad creates a Node
// holding what its backward needs; the output tensor points at it through grad_fn, and the node
// points at the nodes of its inputs. The graph is therefore owned by the tensors that can still
// reach it, and disappears with them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sn::autograd {

using Grads = std::vector<Tensor>;

struct Node {
  // Maps the gradient of the output to one gradient per input (undefined = no gradient).
  using BackwardFn = std::function<Grads(const Tensor& grad_output)>;

  std::string name;                         // the op's name, for error messages ("conv2d")
  std::vector<std::shared_ptr<Node>> next;  // per input: where its gradient goes (null: none)
  std::vector<Shape> input_shapes;          // per input: checked against the returned gradient
  std::vector<DType> input_dtypes;
  std::weak_ptr<TensorImpl> output;         // for retain_grad on non-leaf outputs
  BackwardFn backward;                      // empty for leaf accumulators
  std::shared_ptr<TensorImpl> leaf;         // set for accumulators: the leaf receiving .grad
  bool released = false;                    // saved tensors freed after a backward pass

  void release() {
    backward = nullptr;  // drops the captured tensors (activations) with the closure
    released = true;
  }
};

}  // namespace sn::autograd
