// Reference (batched) matrix multiply, NumPy semantics. The i-k-j loop order keeps the inner loop
// streaming along rows of b and c; accumulation is in double for float32 for accuracy.
#include "tensor/kernels.h"
#include "tensor/strided_loop.h"

namespace sn::kernels {

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  SN_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
           shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
  SN_CHECK(a_in.dtype() == b_in.dtype(), "matmul: dtype mismatch (", dtype_name(a_in.dtype()), " vs ",
           dtype_name(b_in.dtype()), ")");
  // Promote 1-D operands to matrices and remember to drop the added dim.
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? a_in.as_strided({1, a_in.shape()[0]}, {0, a_in.strides()[0]}, a_in.offset()) : a_in;
  Tensor b = b_vec ? b_in.as_strided({b_in.shape()[0], 1}, {b_in.strides()[0], 0}, b_in.offset()) : b_in;
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  const int64_t K2 = b.shape()[b.dim() - 2], N = b.shape()[b.dim() - 1];
  SN_CHECK(K == K2, "matmul: inner dimensions differ: ", shape_str(a_in.shape()), " @ ",
           shape_str(b_in.shape()), " (", K, " vs ", K2, ")");
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul (batch dims)");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::zeros(out_shape, a.dtype());

  const Shape sa = broadcast_strides(batch_a, Shape(a.strides().begin(), a.strides().end() - 2), batch);
  const Shape sb = broadcast_strides(batch_b, Shape(b.strides().begin(), b.strides().end() - 2), batch);
  const Shape so(out.strides().begin(), out.strides().end() - 2);
  const int64_t am = a.strides()[a.dim() - 2], ak = a.strides()[a.dim() - 1];
  const int64_t bk = b.strides()[b.dim() - 2], bn = b.strides()[b.dim() - 1];
  dispatch(a.dtype(), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    std::vector<double> row(N);
    for_each_strided<3>(batch, {so, sa, sb}, {0, 0, 0}, [&](const std::array<int64_t, 3>& o) {
      for (int64_t i = 0; i < M; ++i) {
        std::fill(row.begin(), row.end(), 0.0);
        for (int64_t k = 0; k < K; ++k) {
          const double av = pa[o[1] + i * am + k * ak];
          const T* brow = pb + o[2] + k * bk;
          for (int64_t j = 0; j < N; ++j) row[j] += av * brow[j * bn];
        }
        T* orow = po + o[0] + i * N;
        for (int64_t j = 0; j < N; ++j) orow[j] = static_cast<T>(row[j]);
      }
    });
  });
  // Drop the dims that 1-D operands added.
  Shape final_shape = batch;
  if (!a_vec) final_shape.push_back(M);
  if (!b_vec) final_shape.push_back(N);
  return out.as_strided(final_shape, contiguous_strides(final_shape), 0);
}

}  // namespace sn::kernels
