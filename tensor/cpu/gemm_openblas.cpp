// OpenBLAS as an alternative GEMM backend (STYLENET_GEMM=openblas) and as the benchmark peer.
#include <cblas.h>

#include <atomic>
#include <climits>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace sn::cpu {

namespace gemm_detail {

namespace {

// OpenBLAS keeps its own thread pool; keep its size equal to ours so set_num_threads() is the one
// control. openblas_set_num_threads is not free (it may start threads), so only call it on change.
void sync_threads() {
  static std::atomic<int> told{0};
  const int n = num_threads();
  if (told.exchange(n) != n) openblas_set_num_threads(n);
}

CBLAS_TRANSPOSE cblas_trans(Trans t) { return t == Trans::Yes ? CblasTrans : CblasNoTrans; }

void check_int(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  for (int64_t v : {M, N, K, lda, ldb, ldc})
    SN_CHECK(v <= INT_MAX, "gemm (openblas backend): dimension ", v, " exceeds OpenBLAS's 32-bit int");
}

}  // namespace

void openblas_sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check_int(M, N, K, lda, ldb, ldc);
  sync_threads();
  cblas_sgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), int(M), int(N), int(K), alpha, A,
              int(lda), B, int(ldb), beta, C, int(ldc));
}

void openblas_dgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha,
                    const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                    double* C, int64_t ldc) {
  check_int(M, N, K, lda, ldb, ldc);
  sync_threads();
  cblas_dgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), int(M), int(N), int(K), alpha, A,
              int(lda), B, int(ldb), beta, C, int(ldc));
}

}  // namespace gemm_detail

const char* openblas_core_name() { return openblas_get_corename(); }

}  // namespace sn::cpu
