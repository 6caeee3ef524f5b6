// Sum, max and min over any set of dims. The input is first copied so that the kept dims come
// first and the reduced ones last (a dense [rows, inner] matrix), then one block reduces each row
// in a fixed tree order: deterministic, and sums accumulate in double as on the CPU.
#include <limits>
#include <vector>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

using kernels::Reduce;

namespace {

__device__ double combine(Reduce op, double a, double v) {
  if (op == Reduce::Sum) return a + v;
  if (v != v || a != a) return v != v ? v : a;  // NaN propagates
  return op == Reduce::Max ? (v > a ? v : a) : (v < a ? v : a);
}

template <class T>
__global__ void reduce_rows_kernel(Reduce op, const T* x, int64_t inner, T* out, double init) {
  __shared__ double partial[kBlock];
  const int64_t row = blockIdx.x;
  const T* p = x + row * inner;
  double acc = init;
  for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) acc = combine(op, acc, static_cast<double>(p[i]));
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] = combine(op, partial[threadIdx.x], partial[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[row] = static_cast<T>(partial[0]);
}

double identity_of(Reduce op) {
  if (op == Reduce::Sum) return 0.0;
  return op == Reduce::Max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

}  // namespace

Tensor reduce(Reduce op, const Tensor& x, const std::vector<bool>& reduced) {
  use_device(x.device());
  Shape kept = x.shape(), perm_shape, perm_strides;
  int64_t rows = 1, inner = 1;
  for (int pass = 0; pass < 2; ++pass)  // kept dims first, then the reduced ones
    for (int64_t d = 0; d < x.dim(); ++d)
      if (reduced[d] == (pass == 1)) {
        perm_shape.push_back(x.shape()[d]);
        perm_strides.push_back(x.strides()[d]);
        (pass == 0 ? rows : inner) *= x.shape()[d];
        if (pass == 1) kept[d] = 1;
      }
  Tensor out = empty_like_on(x, kept);
  if (rows == 0) return out;
  if (inner == 0) {
    fill(out, 0.0);  // callers refuse max/min over an empty dim; an empty sum is 0
    return out;
  }
  const Tensor rowwise = x.as_strided(perm_shape, perm_strides, x.offset()).contiguous();
  SN_CHECK(rows <= 2147483647, "cuda reduce: ", rows, " output elements is more than one launch can hold");
  dispatch(x.dtype(), [&]<class T>() {
    reduce_rows_kernel<T><<<static_cast<unsigned>(rows), kBlock>>>(op, ptr<T>(rowwise), inner, ptr<T>(out),
                                                                   identity_of(op));
  });
  SN_CUDA_LAUNCHED();
  return out;
}

}  // namespace sn::cuda
