// Batched matrix multiply, NumPy semantics.
//
// float32 goes to the packed SGEMM (tensor/cpu/gemm.h), one call per batch entry, whenever the ISA
// is not Ref (or OpenBLAS is the GEMM backend). The reference loop below stays the definition, and
// the path for float64 and for STYLENET_ISA=ref: its i-k-j order keeps the inner loop streaming
// along rows of b and c, and float32 accumulates in double for accuracy.
#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cuda/ops.h"
#include "tensor/kernels/core.h"
#include "tensor/strided_loop.h"

namespace sn::kernels {

namespace {

struct BlasLayout {
  cpu::Trans trans;
  int64_t ld;
};

// How a rows x cols matrix with element strides (rs, cs) reads as a BLAS operand: row-major
// (cs == 1) or transposed (rs == 1) with a leading dimension; nullopt for anything else (broadcast
// zero strides, steps in both dims). A single row or column fits either way.
std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (rows == 0 || cols == 0) return BlasLayout{cpu::Trans::No, std::max<int64_t>(cols, 1)};  // not read
  if (rows == 1 && cs >= 1) return cs == 1 ? BlasLayout{cpu::Trans::No, std::max<int64_t>(cols, 1)}
                                           : BlasLayout{cpu::Trans::Yes, cs};
  if (cols == 1 && rs >= 1) return rs == 1 ? BlasLayout{cpu::Trans::Yes, std::max<int64_t>(rows, 1)}
                                           : BlasLayout{cpu::Trans::No, rs};
  if (cs == 1 && rs >= cols) return BlasLayout{cpu::Trans::No, rs};
  if (rs == 1 && cs >= rows) return BlasLayout{cpu::Trans::Yes, cs};
  return std::nullopt;
}

// Matrix layout of the last two dims of x, copying x to a dense tensor first if they are not
// BLAS-compatible (the copy is O(size), small next to the product).
BlasLayout blas_operand(Tensor& x) {
  const int64_t d = x.dim();
  auto l = blas_layout(x.shape()[d - 2], x.shape()[d - 1], x.strides()[d - 2], x.strides()[d - 1]);
  if (l) return *l;
  x = x.contiguous();
  return *blas_layout(x.shape()[d - 2], x.shape()[d - 1], x.strides()[d - 2], x.strides()[d - 1]);
}

// out[batch..., M, N] (dense, fresh) = a @ b with the batch strides already broadcast.
void matmul_sgemm(Tensor a, Tensor b, const Tensor& out, const Shape& batch, const Shape& batch_a,
                  const Shape& batch_b, int64_t M, int64_t N, int64_t K) {
  const BlasLayout la = blas_operand(a), lb = blas_operand(b);
  const Shape sa = broadcast_strides(batch_a, Shape(a.strides().begin(), a.strides().end() - 2), batch);
  const Shape sb = broadcast_strides(batch_b, Shape(b.strides().begin(), b.strides().end() - 2), batch);
  const Shape so(out.strides().begin(), out.strides().end() - 2);
  std::vector<std::array<int64_t, 3>> offsets;
  for_each_strided<3>(batch, {so, sa, sb}, {0, 0, 0},
                      [&](const std::array<int64_t, 3>& o) { offsets.push_back(o); });
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  auto one = [&](int64_t i) {
    const auto& o = offsets[i];
    cpu::sgemm(la.trans, lb.trans, M, N, K, 1.0f, pa + o[1], la.ld, pb + o[2], lb.ld, 0.0f,
               po + o[0], N);
  };
  // Big matrices are threaded inside sgemm; many small ones are threaded across the batch.
  const int64_t count = static_cast<int64_t>(offsets.size());
  if (count > 1 && double(M) * N * K < double(1 << 18)) {
    cpu::parallel_for(0, count, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
}

bool use_sgemm(DType dtype) {
  return dtype == DType::Float32 &&
         (cpu::active_isa() != cpu::Isa::Ref || cpu::gemm_backend() == cpu::GemmBackend::OpenBlas);
}

}  // namespace

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
  // Drop the dims that 1-D operands added.
  Shape final_shape = batch;
  if (!a_vec) final_shape.push_back(M);
  if (!b_vec) final_shape.push_back(N);
  check_same_device("matmul", a_in, b_in);
  SN_CUDA_ROUTE(a, matmul(a, b, batch).as_strided(final_shape, contiguous_strides(final_shape), 0));
  if (use_sgemm(a.dtype())) {
    const Tensor out = Tensor::empty(out_shape, a.dtype());  // sgemm with beta = 0 writes all of it
    matmul_sgemm(a, b, out, batch, batch_a, batch_b, M, N, K);
    return out.as_strided(final_shape, contiguous_strides(final_shape), 0);
  }
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
  return out.as_strided(final_shape, contiguous_strides(final_shape), 0);
}

}  // namespace sn::kernels
