// Fast float32 2-D convolution (NCHW, cross-correlation as PyTorch) on raw contiguous buffers.
//
// tensor/kernels/conv.cpp dispatches here for float32 when the active ISA is not Ref; the plain
// loops there (conv2d_ref, ...) stay the definition these are tested against.
//
// Algorithm: im2col + SGEMM (our packed SGEMM, tensor/cpu/gemm.h), with the im2col matrix built
// a band of output rows at a time so the scratch stays a few MB whatever the image size;
// 1x1 stride-1 unpadded convolutions skip im2col and multiply the input directly.
// Backward data is W^T * dy followed by col2im; backward weights is dy * im2col(x)^T.
//
// All of them thread through tensor/cpu/parallel.h and the threaded SGEMM, and give the same
// bits for a fixed thread count (the GEMM's summation order does not depend on the thread count,
// and every other loop writes disjoint outputs per chunk).
#pragma once
#include <cstdint>

namespace sn::cpu {

struct ConvShape {
  int64_t N, C, H, W;   // input
  int64_t O, KH, KW;    // weight [O, C / groups, KH, KW]
  int64_t OH, OW;       // output
  int64_t sh, sw, ph, pw, dh, dw;  // stride, zero padding (each side), dilation
  int64_t groups;

  int64_t Cg() const { return C / groups; }
  int64_t Og() const { return O / groups; }
  int64_t K() const { return Cg() * KH * KW; }  // GEMM depth: one column of im2col
  // Output pixel (oh, ow) reads exactly input pixel (oh, ow): no im2col needed.
  bool pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, Cg, KH, KW]) + bias [O] (bias may be null).
// relu: apply max(0, .) to the result (the fused bias + ReLU of a conv layer followed by ReLU).
void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                    bool relu = false);
// dx [N, C, H, W] from dy [N, O, OH, OW].
void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx);
// dw [O, Cg, KH, KW] from dy and x.
void conv2d_backward_weight(const ConvShape& s, const float* dy, const float* x, float* dw);
// db [O]: dy summed over N, OH, OW.
void conv2d_backward_bias(const ConvShape& s, const float* dy, float* db);

}  // namespace sn::cpu
