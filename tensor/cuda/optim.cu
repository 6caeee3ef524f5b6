// Adam(W) and SGD updates on GPU parameters: one fused elementwise kernel per parameter, whose body
// is the CPU loop's (optim/adam.cpp, optim/sgd.cpp) operation for operation, in T, with the
// coefficients rounded to T on the host exactly as those loops round them. Every product, sum,
// quotient and square root goes through exact:: so that nvcc cannot fuse a multiply-add into one
// fma (the CPU build has none): a GPU step gives the CPU step's bits.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/exact.h"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

// adam.cpp's per-parameter constants, rounded to T.
template <class T>
struct AdamCoeffs {
  T b1, one_minus_b1, b2, one_minus_b2, l2, decay, bc2_sqrt, eps, neg_step;
  bool apply_decay;  // decoupled (AdamW) and weight_decay != 0: p *= decay first
};

template <class T>
AdamCoeffs<T> adam_coeffs(const AdamStep& s) {
  return {static_cast<T>(s.beta1),
          static_cast<T>(1 - s.beta1),
          static_cast<T>(s.beta2),
          static_cast<T>(1 - s.beta2),
          static_cast<T>(s.decoupled ? 0.0 : s.weight_decay),
          static_cast<T>(1 - s.lr * s.weight_decay),
          static_cast<T>(s.bias_correction2_sqrt),
          static_cast<T>(s.eps),
          static_cast<T>(-s.step_size),
          s.decoupled && s.weight_decay != 0};
}

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, T* vmax, AdamCoeffs<T> k, int64_t n) {
  using namespace exact;
  SN_GRID_STRIDE_LOOP(i, n) {
    T pi = p[i];
    if (k.apply_decay) pi = mul(pi, k.decay);
    const T gi = k.l2 != 0 ? add(g[i], mul(k.l2, pi)) : g[i];
    const T mi = add(mul(m[i], k.b1), mul(k.one_minus_b1, gi));
    const T vi = add(mul(v[i], k.b2), mul(mul(k.one_minus_b2, gi), gi));  // ATen's addcmul: (value * g) * g
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (vmax) {
      const T old = vmax[i];
      second = vmax[i] = old < vi ? vi : old;  // std::max(vmax, v): keeps vmax unless it is smaller
    }
    const T denom = add(div(sqrt(second), k.bc2_sqrt), k.eps);
    p[i] = add(pi, div(mul(k.neg_step, mi), denom));  // ATen's addcdiv: (value * m) / denom
  }
}

// sgd.cpp's per-parameter constants, rounded to T.
template <class T>
struct SgdCoeffs {
  T wd, neg_lr, mom, keep;
  bool first, nesterov;
};

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, SgdCoeffs<T> k, int64_t n) {
  using namespace exact;
  SN_GRID_STRIDE_LOOP(i, n) {
    const T pi = p[i];
    T d = k.wd != 0 ? add(g[i], mul(k.wd, pi)) : g[i];
    if (buf) {
      const T b = k.first ? d : add(mul(buf[i], k.mom), mul(k.keep, d));
      buf[i] = b;
      d = k.nesterov ? add(d, mul(k.mom, b)) : b;
    }
    p[i] = add(pi, mul(k.neg_lr, d));
  }
}

// The tensors a step writes in place must be the dense tensors themselves (a contiguous() copy
// would be updated and thrown away).
void check_dense(const Tensor& t, const Tensor& param, const char* what) {
  SN_CHECK(t.is_contiguous() && t.shape() == param.shape() && t.dtype() == param.dtype() &&
               t.device() == param.device(),
           "cuda optimizer step: ", what, " must be a contiguous ", dtype_name(param.dtype()),
           " tensor of the parameter's shape on ", param.device().str());
}

}  // namespace

void adam_step(const Tensor& param, const Tensor& grad_in, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& max_exp_avg_sq, const AdamStep& s) {
  use_device(param.device());
  check_dense(param, param, "param");
  check_dense(exp_avg, param, "exp_avg");
  check_dense(exp_avg_sq, param, "exp_avg_sq");
  if (s.amsgrad) check_dense(max_exp_avg_sq, param, "max_exp_avg_sq");
  const Tensor grad = grad_in.contiguous();  // read only: a dense copy is fine
  check_dense(grad, param, "grad");
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch(param.dtype(), [&]<class T>() {
    adam_kernel<T><<<grid_for(n), kBlock>>>(ptr<T>(param), ptr<T>(grad), ptr<T>(exp_avg), ptr<T>(exp_avg_sq),
                                            s.amsgrad ? ptr<T>(max_exp_avg_sq) : nullptr, adam_coeffs<T>(s), n);
    SN_CUDA_LAUNCHED();
  });
}

void sgd_step(const Tensor& param, const Tensor& grad_in, const Tensor& buffer, const SgdStep& s) {
  use_device(param.device());
  check_dense(param, param, "param");
  const bool momentum = s.momentum != 0;  // sgd.cpp keeps a buffer only then
  if (momentum) check_dense(buffer, param, "momentum buffer");
  const Tensor grad = grad_in.contiguous();
  check_dense(grad, param, "grad");
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch(param.dtype(), [&]<class T>() {
    const SgdCoeffs<T> k{static_cast<T>(s.weight_decay), static_cast<T>(-s.lr), static_cast<T>(s.momentum),
                         static_cast<T>(1 - s.dampening), s.first_step, s.nesterov};
    sgd_kernel<T><<<grid_for(n), kBlock>>>(ptr<T>(param), ptr<T>(grad), momentum ? ptr<T>(buffer) : nullptr, k, n);
    SN_CUDA_LAUNCHED();
  });
}

}  // namespace sn::cuda
