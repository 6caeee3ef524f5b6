// Fast float32 elementwise, reduction, pooling, resizing, padding and instance-norm kernels on
// raw contiguous NCHW buffers. tensor/kernels/*.cpp dispatch here for contiguous float32 when the
// active ISA is not Ref; the reference loops there remain the definitions these are tested
// against (tests/test_kernels_fast.cpp).
//
// Each entry point cuts its work into chunks with parallel_for (elements, or whole planes) and
// runs every chunk through the active ISA's copy of the loops: tensor/cpu/pointwise_impl.h,
// compiled once with AVX2+FMA flags (pointwise_avx2.cpp) and once with AVX-512 flags
// (pointwise_avx512.cpp) so the compiler vectorises the same code for each.
//
// Numerics: elementwise ops, max pooling, nearest upsampling, padding and bilinear resizing give
// exactly the reference's bits (the same float/double expressions in the same order; the per-ISA
// files are built with -ffp-contract=off so no multiply-add is fused behind our back). Sums
// (reductions, instance-norm statistics) accumulate in double like the reference but in a
// different order, so they agree to a few double ulps before the final rounding to float.
#pragma once
#include <cstdint>

#include "tensor/half.h"
#include "tensor/kernels/core.h"

namespace sn::cpu {

// y[i] = op(x[i]) for i < n.
void unary_f32(kernels::Unary op, const float* x, float* y, int64_t n, float a, float b);
// y[i] = op(a[i * sa], b[i * sb]) with sa, sb in {0, 1} (0: a scalar operand).
void binary_f32(kernels::Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y,
                int64_t n);
// y[o * inner + i] = op(a[o * inner + i], r[o]) for o < outer, i < inner (r_on_left: op(r[o], a[..])):
// a full tensor against one value per row, as feature maps against per-channel statistics.
void binary_rows_f32(kernels::Binary op, const float* a, const float* r, bool r_on_left, float* y, int64_t outer,
                     int64_t inner);
// y[o * inner + i] = r[o] for o < outer, i < inner.
void expand_rows_f32(const float* r, float* y, int64_t outer, int64_t inner);
// dx[i] = y[i] > 0 ? dy[i] : 0 (ReLU's backward from its output, kernels::relu_backward).
void relu_backward_f32(const float* dy, const float* y, float* dx, int64_t n);
// dst[i] += alpha * src[i * ss], ss in {0, 1}.
// y[i] = the 16-bit float bits[i] widened (exact; tensor/half.h's scalar functions are the
// reference); bits need not be aligned.
void widen_half_f32(HalfFormat format, const void* bits, float* y, int64_t n);

void axpy_f32(float* dst, const float* src, int64_t ss, float alpha, int64_t n);

// out[o] = reduce(x[o * inner .. (o + 1) * inner)) for o < outer: a contiguous tensor reduced over
// a suffix of its dims (outer = 1: over everything). Accumulates in double as the reference.
void reduce_rows_f32(kernels::Reduce op, const float* x, int64_t outer, int64_t inner, float* out);
// out[o] = reduce over k < rows of the runs x[out_at[o] + row_at[k] .. + inner) for o < outs: a
// strided view (a window of a map) reduced over dims that include its contiguous innermost one.
// Accumulates in double as the reference, in another order.
void reduce_blocks_f32(kernels::Reduce op, const float* x, const int64_t* out_at, int64_t outs, const int64_t* row_at,
                       int64_t rows, int64_t inner, float* out);

struct PoolShape {
  int64_t planes, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw;
};
void max_pool2d_f32(const PoolShape& s, const float* x, float* y);
void max_pool2d_backward_f32(const PoolShape& s, const float* dy, const float* x, float* dx);

// x [planes, H, W] -> y [planes, H * sh, W * sw] and back (block sums).
void upsample_nearest2d_f32(int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw, const float* x,
                            float* y);
void upsample_nearest2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw,
                                     const float* dy, float* dx);
// Bilinear, align_corners = false.
void upsample_bilinear2d_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* x,
                             float* y);
void upsample_bilinear2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                      const float* dy, float* dx);
// Pads W by (l, r) and H by (t, b), zeros or reflection.
void pad2d_f32(int64_t planes, int64_t H, int64_t W, int64_t l, int64_t r, int64_t t, int64_t b, bool reflect,
               const float* x, float* y);
void pad2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t l, int64_t r, int64_t t, int64_t b,
                        bool reflect, const float* dy, float* dx);

// Instance norm over planes of `plane` elements; weight/bias per channel (C of them, plane p has
// channel p % C) in double, null for 1 and 0. mean/rstd: one double per plane.
void instance_norm_f32(int64_t planes, int64_t C, int64_t plane, const float* x, const double* weight,
                       const double* bias, double eps, float* y, double* mean, double* rstd);
// dx per plane; dweight/dbias per channel (double, summed over the batch in plane order).
void instance_norm_backward_f32(int64_t planes, int64_t C, int64_t plane, const float* dy, const float* x,
                                const double* mean, const double* rstd, const double* weight, float* dx,
                                double* dweight, double* dbias);

}  // namespace sn::cpu
