// Fast float32 2-D convolution (NCHW, cross-correlation as PyTorch) on raw contiguous buffers.
//
// tensor/kernels/conv.cpp dispatches here for float32 when the active ISA is not Ref; the plain
// loops there (conv2d_ref, ...) stay the definition these are tested against.
//
// Forward algorithms and the rule that picks one (conv2d_algo):
//   * Winograd F(4x4, 3x3) (winograd.cpp): 3x3, stride 1, dilation 1, groups 1, and at least 16
//     input and 16 output channels. 36 GEMMs of O x C x tiles replace one of O x 9C x 16 tiles:
//     2.25x fewer multiplies; its input/output transforms cost O(C + O) per tile, which the
//     channel counts must amortise (VGG's first layer, C = 3, runs direct).
//   * Winograd F(6x6, 3x3), same conditions, on large maps: 64 GEMMs per 36 output pixels, 1.78
//     multiplies per pixel and tap-row instead of 2.25, but tiles of 6 waste more at the edges and
//     round about twice as much. Chosen where the rule in conv.cpp says (measured there).
//   * direct (conv_direct.cpp), stride 1, no dilation or groups, for few output channels (at most
//     4, no padding: a decoder's last conv after its reflection pad, 64 -> 3 at full resolution)
//     or few input channels (at most 4, any padding: VGG16's conv1_1, 3 -> 64): the outputs of a
//     strip of pixels (for a block of 8 channels with few inputs) stay in registers and each input
//     pixel is loaded once per tap; a GEMM with M = 3 or K = 27 would waste much of its micro-tile
//     or its k loop, and im2col would copy KH KW C floats per pixel.
//   * im2col + SGEMM (conv_gemm.cpp): everything else (1x1, strided, dilated, grouped, few
//     channels). The im2col matrix is built a band of output rows at a time so the scratch stays a
//     few MB whatever the image size; 1x1 stride-1 unpadded convolutions skip im2col.
// STYLENET_CONV=gemm|winograd|winograd6|direct|auto (or set_conv_algo_override) forces a choice
// where it applies ("winograd": F(4x4), "winograd6": F(6x6)), for benchmarks and for measuring
// Winograd's error.
// Backward data is W^T * dy followed by col2im, except where Winograd applies to its equivalent
// forward convolution (conv2d_backward_input_algo): for stride 1 and dilation 1, dx is the
// convolution of dy (zero-padded by KH - 1 - ph) with the weights flipped in space and with in/out
// channels swapped, a 3x3 stride-1 convolution that Winograd does with 2.25x fewer multiplies.
// Backward weights is dy * im2col(x)^T (GEMM).
//
// All of them thread through tensor/cpu/parallel.h and the threaded SGEMM, and give the same
// bits for a fixed thread count (the GEMM's summation order does not depend on the thread count,
// and every other loop writes disjoint outputs per chunk).
#pragma once
#include <cstdint>
#include <string>

#include "tensor/cpu/weight_cache.h"

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

enum class ConvAlgo { Im2colGemm, Winograd4x3, Winograd6x3, Direct };
const char* conv_algo_name(ConvAlgo a);
// The output tile side of a Winograd algorithm (4 or 6); 0 for the others.
int winograd_tile(ConvAlgo a);
bool winograd_applies(const ConvShape& s);
// Stride 1, no dilation or groups, and at most 4 output channels with no padding (a decoder's last
// conv after its reflection pad) or at most 4 input channels (VGG16's conv1_1):
// conv2d_forward_direct, forward only.
bool direct_applies(const ConvShape& s);
// `weights_cached`: the weights are frozen and cached (weight_cache.h), so their Winograd form is
// made once for all calls and only the input/output transforms need amortising: Winograd then
// pays from fewer tiles.
ConvAlgo conv2d_algo(const ConvShape& s, bool weights_cached = false);
// "auto", "gemm", "winograd" or "direct" (nullptr = auto); replaces STYLENET_CONV for the whole
// library.
void set_conv_algo_override(const char* name);
// The weight cache's `kind` for weights that `what` derives for shape s: everything besides the
// weights' bytes that the derived form depends on (layout, ISA, GEMM backend).
std::string derived_kind(const char* what, const ConvShape& s);

// y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, Cg, KH, KW]) + bias [O] (bias may be null).
// `key` names w for the weight cache (tensor/cpu/weight_cache.h); without one, what the kernels
// derive from w (packed, transformed) is made for this call only.
// relu: apply max(0, .) to the result (the fused bias + ReLU of a conv layer followed by ReLU).
void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                    bool relu = false, const WeightKey& key = {});
void conv2d_forward_gemm(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                         bool relu = false, const WeightKey& key = {});
// Which operand of Winograd's GEMMs the tiles are (winograd.cpp): "auto" (by shape), "columns"
// (M = U V: the tiles along the vector lanes) or "rows" (M^T = V^T U^T: the output channels along
// the lanes), where our SGEMM runs them; for tests and benchmarks.
void set_winograd_tiles_override(const char* name);
// Requires winograd_applies(s). m: the output tile side, 4 (F(4x4, 3x3)) or 6 (F(6x6, 3x3)).
// pool (with relu): y is the 2 x 2 max-pool of the result (as conv2d_relu_pool_forward).
void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                             bool relu = false, const WeightKey& key = {}, int m = 4, bool pool = false);
// y [N, O, OH / 2, OW / 2] = max_pool2d(relu(conv(x, w) + bias), kernel 2, stride 2), the same bits
// as the three ops (VGG's conv + ReLU + pool at the end of each block, for inference). Winograd
// pools its output tiles before storing them, so the full-size map is never written or read
// again; the other algorithms run into scratch and pool that.
void conv2d_relu_pool_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                              const WeightKey& key = {});
// dx [N, C, H, W] from dy [N, O, OH, OW].
// Requires direct_applies(s). Derives nothing from w, so takes no key.
void conv2d_forward_direct(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                           bool relu = false);
void conv2d_backward_input(const ConvShape& s, const float* dy, const float* w, float* dx, const WeightKey& key = {});
void conv2d_backward_input_gemm(const ConvShape& s, const float* dy, const float* w, float* dx,
                                const WeightKey& key = {});
// The forward convolution that computes dx for s (input dy, output dx), and the algorithm the
// forward rule picks for it; Winograd only where that convolution has non-negative padding.
ConvShape backward_input_as_forward(const ConvShape& s);
ConvAlgo conv2d_backward_input_algo(const ConvShape& s, bool weights_cached = false);
// Requires that Winograd applies to backward_input_as_forward(s) (m as for the forward).
void conv2d_backward_input_winograd(const ConvShape& s, const float* dy, const float* w, float* dx,
                                    const WeightKey& key = {}, int m = 4);
// dw [O, Cg, KH, KW] from dy and x: Winograd F(4x4, 3x3) where the forward (trainable weights)
// would run Winograd, else im2col + GEMM.
ConvAlgo conv2d_backward_weight_algo(const ConvShape& s);
void conv2d_backward_weight(const ConvShape& s, const float* dy, const float* x, float* dw);
void conv2d_backward_weight_gemm(const ConvShape& s, const float* dy, const float* x, float* dw);
// Requires winograd_applies(s).
void conv2d_backward_weight_winograd(const ConvShape& s, const float* dy, const float* x, float* dw);
// db [O]: dy summed over N, OH, OW.
void conv2d_backward_bias(const ConvShape& s, const float* dy, float* db);

}  // namespace sn::cpu
