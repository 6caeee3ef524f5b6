// Spectral normalisation (Miyato et al. 2018) of a convolution, as
// torch.nn.utils.spectral_norm(nn.Conv2d(...)) does it in PyTorch 1.13.
//
// The layer keeps the raw weight `weight_orig` and convolves with weight_orig / sigma, where sigma
// estimates the largest singular value of W = weight_orig.reshape(out, -1) as u . (W v). The
// vectors u [out] and v [in*kh*kw] are buffers refined by power iteration: in training mode every
// forward first runs n_power_iterations steps (v = normalize(W^T u), u = normalize(W v), outside
// the graph, updating the buffers in place); in eval mode the stored u, v are used as they are.
// Gradients flow through sigma into weight_orig with u, v held constant, exactly as in PyTorch.
//
// State dict keys and order are PyTorch's for the same module: bias, weight_orig, weight_u,
// weight_v (bias first because nn.Conv2d registered it before spectral_norm replaced `weight`),
// so a state_dict written by PyTorch loads as is.
#pragma once
#include "autograd/nn_ops.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "layers/size2.h"

namespace sn {

// weight_orig / (u . (W v)) with W = weight_orig.reshape(weight_orig.size(0), -1); u [out],
// v [numel / out]. Differentiable in all three (the layer passes constant u, v).
Tensor spectral_normalized(const Tensor& weight_orig, const Tensor& u, const Tensor& v);

// x / max(||x||_2, eps) over all elements, as torch.nn.functional.normalize(x, dim=0, eps) on a
// vector. Differentiable.
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);

class SpectralNormConv2d : public Module {
 public:
  // Parameters are initialised as Conv2d's, then u and v as PyTorch does (N(0, 1), normalised),
  // all drawn from `gen` (default_generator() when null). n_power_iterations must be >= 1 (as in
  // PyTorch; use eval() to stop the iteration).
  SpectralNormConv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size,
                     const Conv2dConfig& config = {}, Generator* gen = nullptr, int64_t n_power_iterations = 1,
                     double eps = 1e-12);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  // The weight the convolution uses with the current u, v (no power iteration), differentiable
  // in weight_orig.
  Tensor normalized_weight() const;
  // Runs `n` power-iteration steps on the buffers, outside the graph (what training-mode forward
  // does first, with n = n_power_iterations()).
  void power_iterate(int64_t n);
  int64_t n_power_iterations() const { return n_power_iterations_; }

  Tensor bias;  // [out], undefined when config.bias is false
  Tensor weight_orig;  // [out, in/groups, kh, kw]
  Tensor weight_u;     // buffer [out]
  Tensor weight_v;     // buffer [in/groups * kh * kw]

 private:
  int64_t in_, out_;
  Size2 kernel_;
  Conv2dConfig config_;
  int64_t n_power_iterations_;
  double eps_;
};

}  // namespace sn
