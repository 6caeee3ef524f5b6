// Index arithmetic of the CUDA pooling, resizing and padding kernels (pool.cu, resize.cu): the CPU
// reference's per-output rules (tensor/kernels/pool.cpp, resize.cpp) restated as __host__ __device__
// functions, plus their inverses (which outputs read a given input) that the gather-style backward
// kernels need. Host-callable so that CPU tests can check them against the reference.
#pragma once
#include <cstdint>

#include "tensor/cuda/exact.h"
#include "tensor/cuda/indexer.h"  // SN_HD

namespace sn::cuda {

// Division rounding toward -inf / +inf, for b > 0 and any sign of a.
SN_HD inline int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0 ? 1 : 0); }
SN_HD inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// ---- pooling ----

// The part of a window inside the input, [h0, h1) x [w0, w1), and the average pool's divisor.
struct PoolWindow {
  int64_t h0, h1, w0, w1, divisor;
};

struct PoolGeom {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw;
  bool count_include_pad;

  // pool.cpp's PoolGeometry::window: clipped to the padded input first (the part of a ceil_mode
  // window past the padding never counts), then to the input.
  SN_HD PoolWindow window(int64_t oh, int64_t ow) const {
    int64_t h0 = oh * sh - ph, w0 = ow * sw - pw;
    int64_t h1 = h0 + kh < H + ph ? h0 + kh : H + ph;
    int64_t w1 = w0 + kw < W + pw ? w0 + kw : W + pw;
    const int64_t padded_area = (h1 - h0) * (w1 - w0);
    h0 = h0 > 0 ? h0 : 0, w0 = w0 > 0 ? w0 : 0;
    h1 = h1 < H ? h1 : H, w1 = w1 < W ? w1 : W;
    const int64_t inside_area = (h1 > h0 ? h1 - h0 : 0) * (w1 > w0 ? w1 - w0 : 0);
    return {h0, h1, w0, w1, count_include_pad ? padded_area : inside_area};
  }
};

// The windows along one axis that contain input index i (0 <= i < in): [first, last], empty when
// first > last. Window o nominally covers [o s - pad, o s - pad + k); clipping never removes an
// input index from a window that covers it.
struct IndexRange {
  int64_t first, last;
};
SN_HD inline IndexRange pool_windows_containing(int64_t i, int64_t kernel, int64_t stride, int64_t pad,
                                                int64_t out) {
  const int64_t first = ceil_div(i + pad - kernel + 1, stride);
  const int64_t last = floor_div(i + pad, stride);
  return {first > 0 ? first : 0, last < out - 1 ? last : out - 1};
}

// ---- bilinear (align_corners = false) ----

// resize.cpp's bilinear_map for one output index: it reads input `lower` with w_lower and `upper`
// with w_upper (upper == lower at the last input; both taps are kept, as the reference does).
struct BilinearTap {
  int64_t lower, upper;
  double w_lower, w_upper;
};
SN_HD inline BilinearTap bilinear_tap(int64_t o, int64_t in, int64_t out) {
  const double scale = exact::div(static_cast<double>(in), static_cast<double>(out));
  double src = exact::sub(exact::mul(exact::add(static_cast<double>(o), 0.5), scale), 0.5);
  if (src < 0.0) src = 0.0;  // std::max(src, 0.0)
  const int64_t lower = static_cast<int64_t>(src);
  const double w_upper = src - static_cast<double>(lower);
  return {lower, lower < in - 1 ? lower + 1 : lower, 1.0 - w_upper, w_upper};
}
// The first output o in [0, out] whose lower tap is >= target (out when none). lower is
// nondecreasing in o (every step of bilinear_tap is a monotone rounding), so a binary search over
// the exact function finds it with no approximate inverse formula to get wrong.
SN_HD inline int64_t bilinear_first_lower_at_least(int64_t target, int64_t in, int64_t out) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (bilinear_tap(mid, in, out).lower >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
// The outputs whose taps touch input i: those with lower in {i - 1, i} (lower = i - 1 < in - 1
// always has upper = i), a contiguous range [first, end).
struct OutputSpan {
  int64_t first, end;
};
SN_HD inline OutputSpan bilinear_outputs_reading(int64_t i, int64_t in, int64_t out) {
  return {bilinear_first_lower_at_least(i - 1, in, out), bilinear_first_lower_at_least(i + 1, in, out)};
}

// ---- padding ----

// resize.cpp's pad_map: the input index that output o reads, or -1 for a zero-padded output.
// Reflect mirrors about the edges without repeating them (-1 -> 1, in -> in - 2); pads < in.
SN_HD inline int64_t pad_source(int64_t o, int64_t in, int64_t before, bool reflect) {
  int64_t i = o - before;
  if (reflect) {
    if (i < 0) i = -i;
    if (i >= in) i = 2 * (in - 1) - i;
    return i;
  }
  return i >= 0 && i < in ? i : -1;
}
// The outputs (of out = in + before + after) that read input i, in increasing order; returns how
// many (at most 3: left mirror, itself, right mirror). Each candidate preimage is kept only when
// pad_source maps it back to i, so the forward rule alone decides.
SN_HD inline int pad_outputs_reading(int64_t i, int64_t in, int64_t before, int64_t out, bool reflect,
                                     int64_t* outputs) {
  const int64_t candidates[3] = {before - i, before + i, before + 2 * (in - 1) - i};
  int n = 0;
  for (int k = 0; k < (reflect ? 3 : 1); ++k) {
    const int64_t o = reflect ? candidates[k] : before + i;
    if (o < 0 || o >= out || pad_source(o, in, before, reflect) != i) continue;
    if (n > 0 && outputs[n - 1] == o) continue;  // i = 0 or in - 1: two candidates coincide
    outputs[n++] = o;
  }
  return n;
}

}  // namespace sn::cuda
