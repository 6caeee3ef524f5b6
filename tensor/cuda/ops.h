// The CUDA kernels behind the kernels:: entry points (tensor/kernels/core.h, image.h). Each takes
// and returns tensors on one CUDA device, with the same meaning, argument checks already done by
// the caller, as its CPU reference; tests/test_cuda.cpp compares every one with that reference.
// Only a build with STYLENET_CUDA defines them; tensor/kernels reaches them through SN_CUDA_ROUTE.
#pragma once
#include <array>
#include <vector>

#include "tensor/kernels/core.h"
#include "tensor/kernels/image.h"
#include "tensor/tensor.h"

namespace sn::cuda {

// ---- memory (copy.cu) ----
void fill(const Tensor& t, double value);
// dst (any strides) = src broadcast to dst's shape and converted to dst's dtype; same device.
void copy_(const Tensor& dst, const Tensor& src);

// ---- pointwise (pointwise.cu) ----
Tensor unary(kernels::Unary op, const Tensor& x, double a, double b);
Tensor binary(kernels::Binary op, const Tensor& a, const Tensor& b);
void add_(const Tensor& dst, const Tensor& src, double alpha);
Tensor relu_backward(const Tensor& grad_out, const Tensor& out);

// ---- reductions and products (reduce.cu, matmul.cu) ----
// x reduced over the dims where reduced[d]; the result keeps them as size 1.
Tensor reduce(kernels::Reduce op, const Tensor& x, const std::vector<bool>& reduced);
// a [batch_a..., M, K] @ b [batch_b..., K, N] -> [batch..., M, N] (both at least 2-D).
Tensor matmul(const Tensor& a, const Tensor& b, const Shape& batch);

// ---- convolution (conv.cu): im2col + cuBLAS, col2im as a gather (no atomics, deterministic) ----
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const kernels::Conv2dParams& p,
              bool relu);
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& x_shape,
                             const kernels::Conv2dParams& p);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const kernels::Conv2dParams& p);

// ---- pooling, resizing, padding, normalisation (pool.cu, resize.cu, norm.cu) ----
Tensor max_pool2d(const Tensor& x, const kernels::Pool2dParams& p);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, const kernels::Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const kernels::Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const kernels::Pool2dParams& p);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w);
Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale_h, int64_t scale_w);
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);
Tensor upsample_bilinear2d_backward(const Tensor& grad_out, const Shape& x_shape);
Tensor pad2d(const Tensor& x, const std::array<int64_t, 4>& lrtb, kernels::PadMode mode);
Tensor pad2d_backward(const Tensor& grad_out, const Shape& x_shape, const std::array<int64_t, 4>& lrtb,
                      kernels::PadMode mode);
kernels::InstanceNormResult instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
kernels::InstanceNormGrads instance_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& mean,
                                                  const Tensor& rstd, const Tensor& weight);

// ---- optimizer steps (optim.cu): one fused kernel per parameter, the CPU loops' arithmetic ----
struct AdamStep {
  double beta1, beta2, eps, lr, weight_decay, step_size, bias_correction2_sqrt;
  bool decoupled, amsgrad;
};
// param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq when amsgrad) contiguous, same shape.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& s);
struct SgdStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;  // first_step: the momentum buffer starts as the gradient
};
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, const SgdStep& s);

}  // namespace sn::cuda

// In a kernels:: entry point: hand tensors that live on a GPU to the CUDA kernel.
#ifdef STYLENET_CUDA
#define SN_CUDA_ROUTE(t, call)                                              \
  do {                                                                      \
    if ((t).device().type == ::sn::DeviceType::CUDA) return ::sn::cuda::call; \
  } while (0)
#else
#define SN_CUDA_ROUTE(t, call) \
  do {                         \
  } while (0)
#endif
