// The per-ISA inner loops behind tensor/cpu/pointwise.h (see pointwise_impl.h). Internal.
#pragma once
#include <cstdint>

#include "tensor/kernels/core.h"

namespace sn::cpu::pointwise_detail {

struct PointwiseTable {
  void (*unary)(kernels::Unary op, const float* x, float* y, int64_t n, float a, float b);
  void (*binary)(kernels::Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y,
                 int64_t n);
  void (*relu_backward)(const float* dy, const float* y, float* dx, int64_t n);
  void (*axpy)(float* dst, const float* src, int64_t ss, float alpha, int64_t n);
  double (*sum)(const float* x, int64_t n);
  float (*maxmin)(kernels::Reduce op, const float* x, int64_t n, float init);
  double (*sumsq_centred)(const float* x, int64_t n, double mu);
  void (*affine)(const float* x, float* y, int64_t n, double scale, double shift);
  void (*norm_grad_sums)(const float* g, const float* x, int64_t n, double mean, double rstd, double* sg,
                         double* sgx);
  void (*norm_grad_input)(const float* g, const float* x, float* dx, int64_t n, double mean, double rstd,
                          double k, double mean_g, double mean_gx);
  void (*max_pool_2x2_row)(const float* r0, const float* r1, float* y, int64_t ow);
  void (*max_pool_2x2_backward_row)(const float* r0, const float* r1, const float* dy, float* d0, float* d1,
                                    int64_t ow);
  void (*nearest_row)(const float* src, float* dst, int64_t W, int64_t sw);
  void (*widen_half)(const void* bits, float* y, int64_t n, bool bf16);
};

const PointwiseTable& avx2_table();
const PointwiseTable& avx512_table();

}  // namespace sn::cpu::pointwise_detail
