// Elementwise kernels: unary ops, broadcasting binary ops, add_ and ReLU's backward. The op
// switches mirror tensor/kernels/elementwise.cpp; device math (expf, tanhf...) may differ from the
// host's libm by an ulp or two, which tests/test_cuda.cpp allows for.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

using kernels::Binary;
using kernels::Unary;

namespace {

template <class T>
__device__ T apply_unary(Unary op, T x, T a, T b) {
  switch (op) {
    case Unary::Neg: return -x;
    case Unary::Exp: return exp(x);
    case Unary::Log: return log(x);
    case Unary::Sqrt: return sqrt(x);
    case Unary::Abs: return fabs(x);
    case Unary::Sign: return static_cast<T>((x > 0) - (x < 0));
    case Unary::Square: return x * x;
    case Unary::Reciprocal: return T(1) / x;
    case Unary::Relu: return x > 0 ? x : T(0);
    case Unary::LeakyRelu: return x > 0 ? x : a * x;
    case Unary::LeakyReluGrad: return x > 0 ? T(1) : a;
    case Unary::Tanh: return tanh(x);
    case Unary::Sigmoid: return T(1) / (T(1) + exp(-x));
    case Unary::Clamp: return x < a ? a : (x > b ? b : x);
    case Unary::ClampMask: return (x >= a && x <= b) ? T(1) : T(0);
    case Unary::PowScalar: return pow(x, a);
    case Unary::MulScalar: return x * a;
    case Unary::AddScalar: return x + a;
  }
  return x;
}

template <class T>
__device__ T apply_binary(Binary op, T x, T y) {
  switch (op) {
    case Binary::Add: return x + y;
    case Binary::Sub: return x - y;
    case Binary::Mul: return x * y;
    case Binary::Div: return x / y;
    case Binary::Pow: return pow(x, y);
    case Binary::Maximum: return x > y ? x : y;
    case Binary::Minimum: return x < y ? x : y;
    case Binary::Eq: return x == y ? T(1) : T(0);
    case Binary::Gt: return x > y ? T(1) : T(0);
    case Binary::Ge: return x >= y ? T(1) : T(0);
    case Binary::Lt: return x < y ? T(1) : T(0);
    case Binary::Le: return x <= y ? T(1) : T(0);
  }
  return x;
}

// out is dense; ix walks (out, x).
template <class T>
__global__ void unary_kernel(Unary op, Indexer<2> ix, int64_t n, T* out, const T* x, T a, T b) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    out[off[0]] = apply_unary(op, x[off[1]], a, b);
  }
}

template <class T>
__global__ void binary_kernel(Binary op, Indexer<3> ix, int64_t n, T* out, const T* a, const T* b) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    ix.offsets(i, off);
    out[off[0]] = apply_binary(op, a[off[1]], b[off[2]]);
  }
}

template <class T>
__global__ void axpy_kernel(Indexer<2> ix, int64_t n, T* dst, const T* src, T alpha) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    dst[off[0]] += alpha * src[off[1]];
  }
}

template <class T>
__global__ void relu_backward_kernel(Indexer<3> ix, int64_t n, T* out, const T* grad, const T* y) {
  SN_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    ix.offsets(i, off);
    out[off[0]] = y[off[2]] > T(0) ? grad[off[1]] : T(0);
  }
}

}  // namespace

Tensor unary(Unary op, const Tensor& x, double a, double b) {
  use_device(x.device());
  Tensor out = empty_like_on(x, x.shape());
  const int64_t n = x.numel();
  if (n == 0) return out;
  const Indexer<2> ix = make_indexer<2>(x.shape(), {out.strides(), x.strides()});
  dispatch(x.dtype(), [&]<class T>() {
    unary_kernel<T><<<grid_for(n), kBlock>>>(op, ix, n, ptr<T>(out), ptr<T>(x), static_cast<T>(a),
                                              static_cast<T>(b));
  });
  SN_CUDA_LAUNCHED();
  return out;
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  use_device(a.device());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), kernels::binary_name(op));
  Tensor out = empty_like_on(a, shape);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const Indexer<3> ix =
      make_indexer<3>(shape, {out.strides(), broadcast_strides_to(a, shape), broadcast_strides_to(b, shape)});
  dispatch(a.dtype(), [&]<class T>() {
    binary_kernel<T><<<grid_for(n), kBlock>>>(op, ix, n, ptr<T>(out), ptr<T>(a), ptr<T>(b));
  });
  SN_CUDA_LAUNCHED();
  return out;
}

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  use_device(dst.device());
  const int64_t n = dst.numel();
  if (n == 0) return;
  const Indexer<2> ix = make_indexer<2>(dst.shape(), {dst.strides(), broadcast_strides_to(src, dst.shape())});
  dispatch(dst.dtype(), [&]<class T>() {
    axpy_kernel<T><<<grid_for(n), kBlock>>>(ix, n, ptr<T>(dst), ptr<T>(src), static_cast<T>(alpha));
  });
  SN_CUDA_LAUNCHED();
}

Tensor relu_backward(const Tensor& grad_out, const Tensor& out_in) {
  use_device(grad_out.device());
  Tensor grad_in = empty_like_on(grad_out, grad_out.shape());
  const int64_t n = grad_in.numel();
  if (n == 0) return grad_in;
  const Indexer<3> ix = make_indexer<3>(grad_out.shape(), {grad_in.strides(), grad_out.strides(), out_in.strides()});
  dispatch(grad_out.dtype(), [&]<class T>() {
    relu_backward_kernel<T><<<grid_for(n), kBlock>>>(ix, n, ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(out_in));
  });
  SN_CUDA_LAUNCHED();
  return grad_in;
}

}  // namespace sn::cuda
