// Reference GEMM: the definition every fast path is tested against. One dot product per element of
// C, accumulated in double so its own rounding error is negligible next to a float32 kernel's.
#include "tensor/cpu/gemm.h"

namespace sn::cpu {

namespace {

template <class T>
void gemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  // op(A)(i, k) and op(B)(k, j) through the leading dimensions.
  auto a = [&](int64_t i, int64_t k) { return ta == Trans::Yes ? A[k * lda + i] : A[i * lda + k]; };
  auto b = [&](int64_t k, int64_t j) { return tb == Trans::Yes ? B[j * ldb + k] : B[k * ldb + j]; };
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0.0;
      for (int64_t k = 0; k < K; ++k) dot += static_cast<double>(a(i, k)) * b(k, j);
      T& c = C[i * ldc + j];
      // beta == 0: C is write-only (BLAS convention), so NaNs already there do not leak through.
      c = static_cast<T>(alpha * dot + (beta == T(0) ? 0.0 : static_cast<double>(beta) * c));
    }
  }
}

}  // namespace

void sgemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
               int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace sn::cpu
