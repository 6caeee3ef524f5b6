// Gradient clipping, after torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
//
// Clipped gradients are written as new tensors (set_grad), never in place: a .grad may share
// storage with something else in the graph, and scaling that in place would corrupt it.
#pragma once
#include <limits>
#include <vector>

#include "tensor/tensor.h"

namespace sn {

// The norm of all gradients together (as if concatenated into one vector); parameters without a
// gradient are skipped. If it exceeds max_norm, every gradient is scaled by
// max_norm / (total_norm + 1e-6). norm_type may be infinity (max |g|). Returns the norm measured
// before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

}  // namespace sn
