// Direct convolution for few output channels (conv_direct.cpp drives it; compiled once per ISA by
// conv_direct_avx2.cpp / conv_direct_avx512.cpp with their flags, so the loops below become
// vector code). Everything is in an anonymous namespace: the linker cannot mix the copies.
//
// A strip of kStrip output pixels of one output row holds all O (<= kMaxOut) outputs in
// registers; for every input channel and tap, the strip's input pixels are loaded once and
// multiplied into each output. Per output pixel that is O * C * KH * KW multiply-adds and
// C * KH * KW loads, with no im2col matrix: the decoders' last convolution (64 -> 3 at full
// resolution) wrote and re-read 576 floats per pixel through im2col, 10 % of a 1024 px multilevel
// stylize.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/conv_direct.h"

namespace sn::cpu::direct_detail {
namespace {

constexpr int64_t kStrip = 32;

template <int O, int64_t Len>
void strip(const ConvShape& s, const float* xn, const float* w, const float* bias, bool relu, int64_t oh, int64_t ow0,
           int64_t len, float* yn) {
  float acc[O][Len];
  for (int o = 0; o < O; ++o)
    for (int64_t i = 0; i < Len; ++i) acc[o][i] = bias ? bias[o] : 0.0f;
  const int64_t taps = s.KH * s.KW, per_out = s.C * taps;
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      const float* row = xn + (c * s.H + oh + kh) * s.W + ow0;
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const float* in = row + kw;
        const float* wk = w + c * taps + kh * s.KW + kw;
        for (int o = 0; o < O; ++o) {
          const float wv = wk[o * per_out];
          for (int64_t i = 0; i < Len; ++i) acc[o][i] += wv * in[i];
        }
      }
    }
  for (int o = 0; o < O; ++o) {
    float* out = yn + (o * s.OH + oh) * s.OW + ow0;
    for (int64_t i = 0; i < len; ++i) out[i] = relu ? std::max(acc[o][i], 0.0f) : acc[o][i];
  }
}

// Output rows [oh0, oh1) of image n: whole strips, then the row's last pixels one at a time. (With
// no padding the input row is OW + KW - 1 wide, so a strip never reads past it.)
template <int O>
void rows(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu, int64_t n, int64_t oh0,
          int64_t oh1, float* y) {
  const float* xn = x + n * s.C * s.H * s.W;
  float* yn = y + n * s.O * s.OH * s.OW;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    int64_t ow0 = 0;
    for (; ow0 + kStrip <= s.OW; ow0 += kStrip) strip<O, kStrip>(s, xn, w, bias, relu, oh, ow0, kStrip, yn);
    for (; ow0 < s.OW; ++ow0) strip<O, 1>(s, xn, w, bias, relu, oh, ow0, 1, yn);
  }
}

void forward_rows(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu, int64_t n,
                  int64_t oh0, int64_t oh1, float* y) {
  switch (s.O) {
    case 1: return rows<1>(s, x, w, bias, relu, n, oh0, oh1, y);
    case 2: return rows<2>(s, x, w, bias, relu, n, oh0, oh1, y);
    case 3: return rows<3>(s, x, w, bias, relu, n, oh0, oh1, y);
    default: return rows<4>(s, x, w, bias, relu, n, oh0, oh1, y);
  }
}

}  // namespace
}  // namespace sn::cpu::direct_detail
