// Reference instance norm: each (n, c) plane is normalised by its own mean and biased variance.
// Statistics and the backward's plane sums are accumulated in double; the mean is taken first and
// the variance from centred values (two passes), which stays accurate for planes with a large
// offset where E[x^2] - E[x]^2 would cancel.
#include <cmath>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/pointwise.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/image.h"

namespace sn::kernels {

namespace {
// Per-channel affine parameter as double, or `fallback` for every channel when undefined.
std::vector<double> channel_values(const Tensor& t, int64_t C, double fallback) {
  if (!t.defined()) return std::vector<double>(C, fallback);
  return t.to_vector<double>();
}

// Float32 goes to the fast kernels (tensor/cpu/pointwise.h) unless STYLENET_ISA=ref; the loops
// below are the reference they are tested against.
bool use_fast(const Tensor& t) { return t.dtype() == DType::Float32 && cpu::active_isa() != cpu::Isa::Ref; }
}  // namespace

InstanceNormResult instance_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, double eps) {
  SN_CUDA_ROUTE(x_in, instance_norm(x_in, weight, bias, eps));
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), plane = x.size(2) * x.size(3);
  const std::vector<double> w = channel_values(weight, C, 1.0), b = channel_values(bias, C, 0.0);
  InstanceNormResult r{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({N, C}, DType::Float64),
                       Tensor::empty({N, C}, DType::Float64)};
  double* mean = r.mean.data<double>();
  double* rstd = r.rstd.data<double>();
  if (use_fast(x)) {
    cpu::instance_norm_f32(N * C, C, plane, x.data<float>(), weight.defined() ? w.data() : nullptr,
                           bias.defined() ? b.data() : nullptr, eps, r.out.data<float>(), mean, rstd);
    return r;
  }
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t nc = 0; nc < N * C; ++nc) {
      const T* xp = x.data<T>() + nc * plane;
      T* yp = r.out.data<T>() + nc * plane;
      double sum = 0.0;
      for (int64_t i = 0; i < plane; ++i) sum += xp[i];
      const double mu = plane > 0 ? sum / plane : 0.0;
      double sq = 0.0;
      for (int64_t i = 0; i < plane; ++i) sq += (xp[i] - mu) * (xp[i] - mu);
      const double inv_std = 1.0 / std::sqrt((plane > 0 ? sq / plane : 0.0) + eps);
      mean[nc] = mu;
      rstd[nc] = inv_std;
      // y = (x - mu) * inv_std * w + b, folded into one multiply-add per element.
      const int64_t c = nc % C;
      const double scale = inv_std * w[c], shift = b[c] - mu * scale;
      for (int64_t i = 0; i < plane; ++i) yp[i] = static_cast<T>(xp[i] * scale + shift);
    }
  });
  return r;
}

InstanceNormGrads instance_norm_backward(const Tensor& grad_out_in, const Tensor& x_in, const Tensor& mean_in,
                                         const Tensor& rstd_in, const Tensor& weight) {
  SN_CUDA_ROUTE(x_in, instance_norm_backward(grad_out_in, x_in, mean_in, rstd_in, weight));
  const Tensor x = x_in.contiguous(), grad_out = grad_out_in.contiguous();
  const Tensor mean_t = mean_in.to(DType::Float64).contiguous(), rstd_t = rstd_in.to(DType::Float64).contiguous();
  const int64_t N = x.size(0), C = x.size(1), plane = x.size(2) * x.size(3);
  const std::vector<double> w = channel_values(weight, C, 1.0);
  const double* mean = mean_t.data<double>();
  const double* rstd = rstd_t.data<double>();
  std::vector<double> dweight(C, 0.0), dbias(C, 0.0);
  InstanceNormGrads grads;
  grads.input = Tensor::empty(x.shape(), x.dtype());
  if (use_fast(x) && grad_out.dtype() == DType::Float32)
    cpu::instance_norm_backward_f32(N * C, C, plane, grad_out.data<float>(), x.data<float>(), mean, rstd,
                                    weight.defined() ? w.data() : nullptr, grads.input.data<float>(),
                                    dweight.data(), dbias.data());
  else
  dispatch(x.dtype(), [&]<class T>() {
    for (int64_t nc = 0; nc < N * C; ++nc) {
      const int64_t c = nc % C;
      const T* xp = x.data<T>() + nc * plane;
      const T* gp = grad_out.data<T>() + nc * plane;
      T* dxp = grads.input.data<T>() + nc * plane;
      // Plane sums of g and g * xhat give both the affine grads and the two means in dx.
      double sum_g = 0.0, sum_g_xhat = 0.0;
      for (int64_t i = 0; i < plane; ++i) {
        const double xhat = (xp[i] - mean[nc]) * rstd[nc];
        sum_g += gp[i];
        sum_g_xhat += gp[i] * xhat;
      }
      dbias[c] += sum_g;
      dweight[c] += sum_g_xhat;
      // With dxhat = g * w: mean(dxhat) = w sum_g / n and mean(dxhat * xhat) = w sum_g_xhat / n.
      const double k = rstd[nc] * w[c];
      const double mean_dxhat = plane > 0 ? sum_g / plane : 0.0;
      const double mean_dxhat_xhat = plane > 0 ? sum_g_xhat / plane : 0.0;
      for (int64_t i = 0; i < plane; ++i) {
        const double xhat = (xp[i] - mean[nc]) * rstd[nc];
        dxp[i] = static_cast<T>(k * (gp[i] - mean_dxhat - xhat * mean_dxhat_xhat));
      }
    }
  });
  grads.weight = Tensor::from_vector(dweight, {C}).to(x.dtype());
  grads.bias = Tensor::from_vector(dbias, {C}).to(x.dtype());
  return grads;
}

}  // namespace sn::kernels
