// Instance norm and its backward on NCHW tensors, as the CPU reference (tensor/kernels/norm.cpp):
// one block per (n, c) plane, statistics and plane sums accumulated in double (per-thread partial
// sums, then a fixed-shape tree in shared memory: deterministic, though not the reference's
// sequential order), the mean first and the variance from centred values (two passes).
// dweight/dbias sum over N as well: per-plane partials go to an [N, C] double buffer that a second
// kernel sums over n in order, so no atomics anywhere.
#include <climits>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/exact.h"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

// The sum of every thread's v over a block of kBlock threads, returned to all of them. `shared`
// holds kBlock doubles and may be reused as soon as this returns.
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

// One block per plane nc: y = x * scale + shift with scale = rstd * w[c], shift = b[c] - mean *
// scale, the reference's folding and roundings (exact:: keeps nvcc from fusing them).
template <class T>
__global__ void instance_norm_kernel(const T* x, const T* weight, const T* bias, double eps, int64_t C,
                                     int64_t plane, T* y, double* mean, double* rstd) {
  __shared__ double shared[kBlock];
  const int64_t nc = blockIdx.x;
  const T* xp = x + nc * plane;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < plane; i += kBlock) s += static_cast<double>(xp[i]);
  const double sum = block_sum(s, shared);
  const double mu = plane > 0 ? sum / static_cast<double>(plane) : 0.0;
  double sq = 0.0;
  for (int64_t i = threadIdx.x; i < plane; i += kBlock) {
    const double d = static_cast<double>(xp[i]) - mu;
    sq += d * d;
  }
  const double var = plane > 0 ? block_sum(sq, shared) / static_cast<double>(plane) : 0.0;
  const double inv_std = exact::div(1.0, exact::sqrt(exact::add(var, eps)));
  if (threadIdx.x == 0) {
    mean[nc] = mu;
    rstd[nc] = inv_std;
  }
  const int64_t c = nc % C;
  const double w = weight ? static_cast<double>(weight[c]) : 1.0, b = bias ? static_cast<double>(bias[c]) : 0.0;
  const double scale = exact::mul(inv_std, w), shift = exact::sub(b, exact::mul(mu, scale));
  T* yp = y + nc * plane;
  for (int64_t i = threadIdx.x; i < plane; i += kBlock)
    yp[i] = static_cast<T>(exact::add(exact::mul(static_cast<double>(xp[i]), scale), shift));
}

// One block per plane nc. With xhat = (x - mean) rstd: the plane sums of g and g * xhat (saved in
// [N, C] partials for the affine grads), then dx = rstd w (g - mean(g) - xhat mean(g xhat)).
template <class T>
__global__ void instance_norm_backward_kernel(const T* grad_out, const T* x, const double* mean,
                                              const double* rstd, const T* weight, int64_t C, int64_t plane,
                                              T* dx, double* part_g, double* part_g_xhat) {
  __shared__ double shared[kBlock];
  const int64_t nc = blockIdx.x;
  const T* xp = x + nc * plane;
  const T* gp = grad_out + nc * plane;
  const double mu = mean[nc], rs = rstd[nc];
  double s_g = 0.0, s_gx = 0.0;
  for (int64_t i = threadIdx.x; i < plane; i += kBlock) {
    const double xhat = exact::mul(static_cast<double>(xp[i]) - mu, rs);
    const double g = static_cast<double>(gp[i]);
    s_g += g;
    s_gx = exact::add(s_gx, exact::mul(g, xhat));
  }
  const double sum_g = block_sum(s_g, shared), sum_g_xhat = block_sum(s_gx, shared);
  if (threadIdx.x == 0) {
    part_g[nc] = sum_g;
    part_g_xhat[nc] = sum_g_xhat;
  }
  const double w = weight ? static_cast<double>(weight[nc % C]) : 1.0;
  const double k = exact::mul(rs, w);
  const double mean_g = plane > 0 ? sum_g / static_cast<double>(plane) : 0.0;
  const double mean_g_xhat = plane > 0 ? sum_g_xhat / static_cast<double>(plane) : 0.0;
  T* dxp = dx + nc * plane;
  for (int64_t i = threadIdx.x; i < plane; i += kBlock) {
    const double xhat = exact::mul(static_cast<double>(xp[i]) - mu, rs);
    const double centred = exact::sub(static_cast<double>(gp[i]) - mean_g, exact::mul(xhat, mean_g_xhat));
    dxp[i] = static_cast<T>(exact::mul(k, centred));
  }
}

// dweight[c] = sum over n of part_g_xhat[n, c], dbias[c] = sum of part_g[n, c], in increasing n
// (the reference's order), rounded to T at the end.
template <class T>
__global__ void sum_over_batch_kernel(const double* part_g, const double* part_g_xhat, int64_t N, int64_t C,
                                      T* dweight, T* dbias) {
  SN_GRID_STRIDE_LOOP(c, C) {
    double g = 0.0, gx = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      g += part_g[n * C + c];
      gx += part_g_xhat[n * C + c];
    }
    dweight[c] = static_cast<T>(gx);
    dbias[c] = static_cast<T>(g);
  }
}

// A per-channel parameter as a dense device tensor of x's dtype, or undefined.
Tensor channel_param(const Tensor& t, const Tensor& x, const char* what) {
  if (!t.defined()) return t;
  SN_CHECK(t.dtype() == x.dtype(), "cuda instance_norm: ", what, " is ", dtype_name(t.dtype()), " but input is ",
           dtype_name(x.dtype()));
  return t.contiguous();
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? ptr<T>(t) : nullptr;
}

void check_planes(int64_t planes) {
  SN_CHECK(planes <= INT_MAX, "cuda instance_norm: ", planes, " planes (N * C) exceed the grid limit");
}

}  // namespace

kernels::InstanceNormResult instance_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                                          double eps) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous();
  const Tensor weight = channel_param(weight_in, x, "weight"), bias = channel_param(bias_in, x, "bias");
  const int64_t N = x.size(0), C = x.size(1), plane = x.size(2) * x.size(3);
  check_planes(N * C);
  kernels::InstanceNormResult r{empty_like_on(x, x.shape()), Tensor::empty({N, C}, DType::Float64, x.device()),
                                Tensor::empty({N, C}, DType::Float64, x.device())};
  if (N * C == 0) return r;
  dispatch(x.dtype(), [&]<class T>() {
    instance_norm_kernel<T><<<static_cast<unsigned>(N * C), kBlock>>>(
        ptr<T>(x), ptr_or_null<T>(weight), ptr_or_null<T>(bias), eps, C, plane, ptr<T>(r.out),
        ptr<double>(r.mean), ptr<double>(r.rstd));
    SN_CUDA_LAUNCHED();
  });
  return r;
}

kernels::InstanceNormGrads instance_norm_backward(const Tensor& grad_out_in, const Tensor& x_in,
                                                  const Tensor& mean_in, const Tensor& rstd_in,
                                                  const Tensor& weight_in) {
  use_device(x_in.device());
  const Tensor x = x_in.contiguous(), grad_out = grad_out_in.contiguous();
  const Tensor mean = mean_in.contiguous(), rstd = rstd_in.contiguous();
  SN_CHECK(mean.dtype() == DType::Float64 && rstd.dtype() == DType::Float64,
           "cuda instance_norm_backward: mean and rstd must be float64 (as instance_norm returns them)");
  SN_CHECK(grad_out.dtype() == x.dtype(), "cuda instance_norm_backward: grad_out is ", dtype_name(grad_out.dtype()),
           " but input is ", dtype_name(x.dtype()));
  const Tensor weight = channel_param(weight_in, x, "weight");
  const int64_t N = x.size(0), C = x.size(1), plane = x.size(2) * x.size(3);
  check_planes(N * C);
  kernels::InstanceNormGrads grads{empty_like_on(x, x.shape()), empty_like_on(x, {C}), empty_like_on(x, {C})};
  const Tensor part_g = Tensor::empty({N, C}, DType::Float64, x.device());
  const Tensor part_g_xhat = Tensor::empty({N, C}, DType::Float64, x.device());
  if (C == 0) return grads;
  dispatch(x.dtype(), [&]<class T>() {
    if (N > 0) {
      instance_norm_backward_kernel<T><<<static_cast<unsigned>(N * C), kBlock>>>(
          ptr<T>(grad_out), ptr<T>(x), ptr<double>(mean), ptr<double>(rstd), ptr_or_null<T>(weight), C, plane,
          ptr<T>(grads.input), ptr<double>(part_g), ptr<double>(part_g_xhat));
      SN_CUDA_LAUNCHED();
    }
    sum_over_batch_kernel<T><<<grid_for(C), kBlock>>>(ptr<double>(part_g), ptr<double>(part_g_xhat), N, C,
                                                       ptr<T>(grads.weight), ptr<T>(grads.bias));
    SN_CUDA_LAUNCHED();
  });
  return grads;
}

}  // namespace sn::cuda
