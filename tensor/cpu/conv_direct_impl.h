// Direct convolutions for few output or few input channels (conv_direct.cpp drives them; compiled
// once per ISA by conv_direct_avx2.cpp / conv_direct_avx512.cpp with their flags). Everything is in
// an anonymous namespace: the linker cannot mix the copies.
//
// Few outputs: a strip of two vectors of output pixels of one output row (32 with AVX-512, 16 with
// AVX2) holds all O (<= kMaxOut) outputs in registers; for every input channel and tap, the strip's
// input pixels are loaded once and multiplied into each output. Per output pixel that is
// O * C * KH * KW multiply-adds and C * KH * KW loads, with no im2col matrix: the decoders' last
// convolution (64 -> 3 at full resolution) wrote and re-read 576 floats per pixel through im2col,
// 10 % of a 1024 px multilevel stylize.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/simd_vec.h"
#include "tensor/cpu/workspace.h"

namespace sn::cpu::direct_detail {
namespace {

#if defined(__AVX512F__)
using Vec = Vec512;
#else
using Vec = Vec256;
#endif

// Output pixel (oh, ow) of all O outputs, as plain loops: the row's last pixels, past its whole
// strips.
template <int O>
void pixel(const ConvShape& s, const float* xn, const float* w, const float* bias, bool relu, int64_t oh, int64_t ow,
           float* yn) {
  float acc[O];
  for (int o = 0; o < O; ++o) acc[o] = bias ? bias[o] : 0.0f;
  const int64_t taps = s.KH * s.KW, per_out = s.C * taps;
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      const float* row = xn + (c * s.H + oh + kh) * s.W + ow;
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const float* wk = w + c * taps + kh * s.KW + kw;
        for (int o = 0; o < O; ++o) acc[o] += wk[o * per_out] * row[kw];
      }
    }
  for (int o = 0; o < O; ++o) yn[(o * s.OH + oh) * s.OW + ow] = relu ? std::max(acc[o], 0.0f) : acc[o];
}

// A whole strip of kFewOutputsStrip pixels of row oh, all O outputs, its O x 2 accumulators in
// vector registers, each pixel summed in the order pixel() sums it, with fused multiply-adds. Each
// of the C x KH input rows it reads asks for the lines of the strip after next: a strip reads 192
// rows of a 64-channel input, more streams than the hardware prefetch follows. Written as plain
// loops over 32 pixels (the way pixel() is, until 2026-12-06), GCC 12 kept the accumulators in
// memory, a load and a store around every FMA (scripts/loop-spills.py). A decoder's last
// convolution, 64 -> 3 at 1024², 1 thread: AVX-512 122 -> 62 ms, AVX2 170 -> 70 (a harness over the
// same buffers); in registers without the prefetch it was slower on AVX-512 (189 ms), the prefetch
// alone 100 ms.
constexpr int kFewOutputsStripVectors = 2;
constexpr int64_t kFewOutputsStrip = kFewOutputsStripVectors * Vec::width;
constexpr int64_t kRowAhead = 64;  // floats: where the lines asked for start, from the strip's own
template <int O>
void strip_vectors(const ConvShape& s, const float* xn, const float* w, const float* bias, bool relu, int64_t oh,
                   int64_t ow0, float* yn) {
  using R = Vec::reg;
  constexpr int NV = kFewOutputsStripVectors, W = Vec::width;
  R acc[O * NV];
  for (int o = 0; o < O; ++o)
    for (int v = 0; v < NV; ++v) acc[o * NV + v] = Vec::set1(bias ? bias[o] : 0.0f);
  const int64_t taps = s.KH * s.KW, per_out = s.C * taps;
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      const float* row = xn + (c * s.H + oh + kh) * s.W + ow0;
      Vec::prefetch(row + kRowAhead);  // a hint: past the row's end it fetches nothing that matters
      Vec::prefetch(row + kRowAhead + 16);
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        R in[NV];
        for (int v = 0; v < NV; ++v) in[v] = Vec::loadu(row + kw + v * W);
        const float* wk = w + c * taps + kh * s.KW + kw;
        for (int o = 0; o < O; ++o) {
          const R wv = Vec::broadcast(wk + o * per_out);
          for (int v = 0; v < NV; ++v) acc[o * NV + v] = Vec::fmadd(wv, in[v], acc[o * NV + v]);
        }
      }
    }
  for (int o = 0; o < O; ++o)
    for (int v = 0; v < NV; ++v) {
      const R r = relu ? Vec::max0(acc[o * NV + v]) : acc[o * NV + v];
      Vec::storeu(yn + (o * s.OH + oh) * s.OW + ow0 + v * W, r);
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
    for (; ow0 + kFewOutputsStrip <= s.OW; ow0 += kFewOutputsStrip) strip_vectors<O>(s, xn, w, bias, relu, oh, ow0, yn);
    for (; ow0 < s.OW; ++ow0) pixel<O>(s, xn, w, bias, relu, oh, ow0, yn);
  }
}

void few_outputs(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu, int64_t n,
                 int64_t oh0, int64_t oh1, float* y) {
  switch (s.O) {
    case 1: return rows<1>(s, x, w, bias, relu, n, oh0, oh1, y);
    case 2: return rows<2>(s, x, w, bias, relu, n, oh0, oh1, y);
    case 3: return rows<3>(s, x, w, bias, relu, n, oh0, oh1, y);
    default: return rows<4>(s, x, w, bias, relu, n, oh0, oh1, y);
  }
}

// ---- Few input channels (VGG16's conv1_1, 3 -> 64) ----
// A strip of NV vectors of one output row for a block of OB output channels stays in registers
// (OB x NV accumulators: 8 x 3 zmm with AVX-512, 4 x 3 ymm with AVX2); each tap loads the strip's NV
// input vectors once and broadcasts OB weights, so an FMA costs (NV + OB) / (OB NV) loads and no
// im2col matrix is written. im2col + GEMM ran conv1_1 at 224 in 1.52 ms on one core (its GEMM has
// K = 27 and 64 = 5 x 12 + 4 rows: short k loops and a third-empty last row panel); this, 0.88 ms
// (a stand-alone loop over the same buffers; in the pass, stylenet_vgg_bench --layers 1, 6 ABBA
// rounds: 1.99 -> 1.32 ms, 2 threads 1.04 -> 0.73, AVX2 3.93 -> 2.77).
// The input rows of a band of kBandRows output rows are first copied, zero-padded, into a buffer,
// so every load is a plain full-vector one (the buffer's rows are long enough for the last strip).
#if defined(__AVX512F__)
constexpr int kBlockOut = 8;
#else
constexpr int kBlockOut = 4;
#endif
constexpr int kFewInputsStripVectors = 3;

// Input rows [ih0, ih0 + rows) of every channel of one image, zero-padded: channel c's row r is at
// p + (c * rows + r) * wp, its column 0 is input column -pw.
struct Band {
  const float* p;
  int64_t ih0, rows, wp;
};

// The band's buffer width: the padded row (OW + KW - 1) and a strip's worth of slack.
inline int64_t band_width(const ConvShape& s) { return s.OW + s.KW - 1 + kFewInputsStripVectors * Vec::width; }

// Copies input rows [ih0, ih0 + rows) of image n into `buf` as Band describes.
inline Band fill_band(const ConvShape& s, const float* xn, int64_t ih0, int64_t rows, float* buf) {
  const int64_t wp = band_width(s);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = buf + (c * rows + r) * wp;
      std::memset(dst, 0, sizeof(float) * wp);
      const int64_t ih = ih0 + r;  // wp >= pw + W: the whole row fits
      if (ih >= 0 && ih < s.H) std::memcpy(dst + s.pw, xn + (c * s.H + ih) * s.W, sizeof(float) * s.W);
    }
  return {buf, ih0, rows, wp};
}

// Output row oh, pixels [ow0, ow0 + n) (n <= NV * width), of OB channels from y0 (their first
// plane); wt holds the block's weights tap-major: wt[((c * KH + kh) * KW + kw) * OB + o].
template <int OB, int NV>
void strip_few_inputs(const ConvShape& s, const Band& b, const float* wt, const float* bias, bool relu, int64_t oh,
                      int64_t ow0, int n, float* y0) {
  using R = Vec::reg;
  constexpr int W = Vec::width;
  R acc[OB][NV];
  for (int o = 0; o < OB; ++o)
    for (int v = 0; v < NV; ++v) acc[o][v] = Vec::set1(bias ? bias[o] : 0.0f);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh) {
      const float* row = b.p + (c * b.rows + oh - s.ph + kh - b.ih0) * b.wp + ow0;
      for (int64_t kw = 0; kw < s.KW; ++kw, wt += OB) {
        R in[NV];
        for (int v = 0; v < NV; ++v) in[v] = Vec::loadu(row + kw + v * W);
        for (int o = 0; o < OB; ++o) {
          const R wv = Vec::broadcast(wt + o);
          for (int v = 0; v < NV; ++v) acc[o][v] = Vec::fmadd(wv, in[v], acc[o][v]);
        }
      }
    }
  const int64_t plane = s.OH * s.OW;
  for (int o = 0; o < OB; ++o)
    for (int v = 0; v < NV; ++v) {
      const R r = relu ? Vec::max0(acc[o][v]) : acc[o][v];
      float* dst = y0 + o * plane + oh * s.OW + ow0 + v * W;
      if (n - v * W >= W)
        Vec::storeu(dst, r);
      else
        Vec::store_first(dst, r, n - v * W);
    }
}

// Asks for the output lines of the OB channels' strip at row oh, column ow (from y0, their first
// plane), ready to be written: a strip's stores go to OB planes, more streams than the hardware
// prefetch follows, and each store that missed waited for its line (VGG16's conv1_1 at 224 writes
// 12.8 MB). Asked for two strips ahead: stylenet_vgg_bench --layers 1, 8 ABBA rounds, conv1_1
// 1.38 -> 1.26 ms on 1 thread, 0.75 -> 0.66 on 2, conv1_2 (which reads that output) no slower; one,
// four or eight strips ahead measured the same. Past the last row the hint fetches nothing that
// matters (a prefetch never faults).
template <int OB>
void prefetch_strip_output(const ConvShape& s, float* y0, int64_t oh, int64_t ow) {
  const float* first = y0 + oh * s.OW + ow;
  for (int o = 0; o < OB; ++o)
    for (int v = 0; v < kFewInputsStripVectors; ++v) prefetch_for_write(first + o * s.OH * s.OW + v * Vec::width);
}

// Output rows [oh0, oh1) of the OB channels from y0: whole strips, then the last with as few vectors
// as its pixels need.
template <int OB>
void rows_few_inputs(const ConvShape& s, const Band& b, const float* wt, const float* bias, bool relu, int64_t oh0,
                     int64_t oh1, float* y0) {
  constexpr int64_t kStrip = kFewInputsStripVectors * Vec::width;
  static_assert(kFewInputsStripVectors == 3);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    int64_t ow0 = 0;
    for (; ow0 + kStrip <= s.OW; ow0 += kStrip) {
      prefetch_strip_output<OB>(s, y0, oh, ow0 + 2 * kStrip);
      strip_few_inputs<OB, kFewInputsStripVectors>(s, b, wt, bias, relu, oh, ow0, kStrip, y0);
    }
    const int n = static_cast<int>(s.OW - ow0);
    if (n > 2 * Vec::width) strip_few_inputs<OB, 3>(s, b, wt, bias, relu, oh, ow0, n, y0);
    else if (n > Vec::width) strip_few_inputs<OB, 2>(s, b, wt, bias, relu, oh, ow0, n, y0);
    else if (n > 0) strip_few_inputs<OB, 1>(s, b, wt, bias, relu, oh, ow0, n, y0);
  }
}

// The last block's OB = O % kBlockOut channels (0 < ob < kBlockOut).
template <int... OBs>
void rows_tail(int ob, std::integer_sequence<int, OBs...>, const ConvShape& s, const Band& b, const float* wt,
               const float* bias, bool relu, int64_t oh0, int64_t oh1, float* y0) {
  ((ob == OBs + 1 ? rows_few_inputs<OBs + 1>(s, b, wt, bias, relu, oh0, oh1, y0) : void()), ...);
}

void few_inputs(const ConvShape& s, const float* x, const float* w, const float* bias, bool relu, int64_t n,
                int64_t oh0, int64_t oh1, float* y) {
  const int64_t taps = s.C * s.KH * s.KW;
  // The weights block by block, tap-major (a few KB for C <= kMaxIn).
  WorkspaceLease wt(s.O * taps);
  for (int64_t o = 0; o < s.O; ++o) {
    const int64_t block = o / kBlockOut * kBlockOut, ob = std::min<int64_t>(kBlockOut, s.O - block);
    for (int64_t t = 0; t < taps; ++t) wt.data()[block * taps + t * ob + o - block] = w[o * taps + t];
  }
  WorkspaceLease buf(s.C * (kBandRows + s.KH - 1) * band_width(s));
  const float* xn = x + n * s.C * s.H * s.W;
  float* yn = y + n * s.O * s.OH * s.OW;
  for (int64_t r0 = oh0; r0 < oh1; r0 += kBandRows) {
    const int64_t r1 = std::min(oh1, r0 + kBandRows);
    const Band b = fill_band(s, xn, r0 - s.ph, r1 - r0 + s.KH - 1, buf.data());
    for (int64_t o = 0; o < s.O; o += kBlockOut) {
      const float* wb = wt.data() + o * taps;
      const float* bb = bias ? bias + o : nullptr;
      float* y0 = yn + o * s.OH * s.OW;
      if (s.O - o >= kBlockOut)
        rows_few_inputs<kBlockOut>(s, b, wb, bb, relu, r0, r1, y0);
      else
        rows_tail(static_cast<int>(s.O - o), std::make_integer_sequence<int, kBlockOut - 1>{}, s, b, wb, bb, relu, r0,
                  r1, y0);
    }
  }
}

}  // namespace
}  // namespace sn::cpu::direct_detail
