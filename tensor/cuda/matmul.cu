// Batched matrix products through cuBLAS. cuBLAS is column-major; a row-major [M, N] matrix is a
// column-major [N, M] one, so C = A B is computed as C^T = B^T A^T with the operands swapped.
// Operands are made dense (broadcast batch dims expanded) first: a copy is O(size), small next to
// the product.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"

namespace sn::cuda {

namespace {

// x [batch_x..., R, C] expanded to [batch..., R, C], dense.
Tensor dense_batched(const Tensor& x, const Shape& batch) {
  Shape shape = batch;
  shape.push_back(x.shape()[x.dim() - 2]);
  shape.push_back(x.shape()[x.dim() - 1]);
  return x.as_strided(shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset()).contiguous();
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in, const Shape& batch) {
  const Tensor a = dense_batched(a_in, batch), b = dense_batched(b_in, batch);
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty_like_on(a, out_shape);
  const int64_t count = numel(batch);
  if (out.numel() == 0) return out;
  if (K == 0) {
    fill(out, 0.0);
    return out;
  }
  SN_CHECK(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX && count <= INT32_MAX,
           "cuda matmul: dimensions beyond 2^31 are not supported");
  cublasHandle_t h = cublas(a.device());
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
  if (a.dtype() == DType::Float32) {
    const float one = 1.0f, zero = 0.0f;
    SN_CUBLAS_CHECK(cublas_api().sgemm_strided_batched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, ptr<float>(b), m, K * N,
                                              ptr<float>(a), k, M * K, &zero, ptr<float>(out), m, M * N,
                                              static_cast<int>(count)));
  } else {
    const double one = 1.0, zero = 0.0;
    SN_CUBLAS_CHECK(cublas_api().dgemm_strided_batched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, ptr<double>(b), m, K * N,
                                              ptr<double>(a), k, M * K, &zero, ptr<double>(out), m, M * N,
                                              static_cast<int>(count)));
  }
  return out;
}

}  // namespace sn::cuda
