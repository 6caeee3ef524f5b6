// Threading and plane-level logic of the fast pointwise kernels (tensor/cpu/pointwise.h); the
// inner loops come from the active ISA's table (pointwise_impl.h).
//
// Chunks: elementwise work is cut into ranges of at least kGrain elements, plane work into whole
// planes (at least kGrain elements per chunk). Every chunk writes only its own outputs; the few
// cross-chunk results (a full reduction, instance norm's per-channel weight/bias gradients) are
// kept per chunk or per plane and combined afterwards in a fixed order, so results are identical
// run after run for a fixed thread count.
#include "tensor/cpu/pointwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/pointwise_table.h"
#include "tensor/error.h"

namespace sn::cpu {

using namespace pointwise_detail;

namespace {

constexpr int64_t kGrain = 1 << 15;

const PointwiseTable& table() {
  // The Ref path never gets here (the kernels run their reference loops), but a direct caller
  // forcing Ref still gets correct results from the narrowest vector copy the CPU has... unless it
  // has none, which the dispatchers rule out.
  return active_isa() == Isa::Avx512 ? avx512_table() : avx2_table();
}

int64_t plane_grain(int64_t plane_elems) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(plane_elems, 1)); }

}  // namespace

void unary_f32(kernels::Unary op, const float* x, float* y, int64_t n, float a, float b) {
  const PointwiseTable& t = table();
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) { t.unary(op, x + i0, y + i0, i1 - i0, a, b); });
}

void widen_half_f32(HalfFormat format, const void* bits, float* y, int64_t n) {
  const char* b = static_cast<const char*>(bits);
  const bool bf16 = format == HalfFormat::BF16;
  if (active_isa() == Isa::Ref) {  // the reference: tensor/half.h one value at a time
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, b + 2 * i, 2);
      y[i] = bf16 ? bf16_bits_to_float(h) : half_bits_to_float(h);
    }
    return;
  }
  const PointwiseTable& t = table();
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) { t.widen_half(b + 2 * i0, y + i0, i1 - i0, bf16); });
}

void binary_f32(kernels::Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  const PointwiseTable& t = table();
  parallel_for(0, n, kGrain,
               [&](int64_t i0, int64_t i1) { t.binary(op, a + i0 * sa, sa, b + i0 * sb, sb, y + i0, i1 - i0); });
}

void binary_rows_f32(kernels::Binary op, const float* a, const float* r, bool r_on_left, float* y, int64_t outer,
                     int64_t inner) {
  const PointwiseTable& t = table();
  parallel_for(0, outer, plane_grain(inner), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* row = a + o * inner;
      if (r_on_left) t.binary(op, r + o, 0, row, 1, y + o * inner, inner);
      else t.binary(op, row, 1, r + o, 0, y + o * inner, inner);
    }
  });
}

void expand_rows_f32(const float* r, float* y, int64_t outer, int64_t inner) {
  parallel_for(0, outer, plane_grain(inner), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) std::fill_n(y + o * inner, inner, r[o]);
  });
}

void relu_backward_f32(const float* dy, const float* y, float* dx, int64_t n) {
  const PointwiseTable& t = table();
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) { t.relu_backward(dy + i0, y + i0, dx + i0, i1 - i0); });
}

void axpy_f32(float* dst, const float* src, int64_t ss, float alpha, int64_t n) {
  const PointwiseTable& t = table();
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) { t.axpy(dst + i0, src + i0 * ss, ss, alpha, i1 - i0); });
}

namespace {
// One run of n floats reduced (a sum in double), and two partial results combined, NaN winning
// for max and min: the pieces of reduce_rows_f32 and reduce_blocks_f32.
struct RunReducer {
  kernels::Reduce op;
  const PointwiseTable& t = table();
  double run(const float* p, int64_t n) const {
    const float init = op == kernels::Reduce::Max ? -std::numeric_limits<float>::infinity()
                                                  : std::numeric_limits<float>::infinity();
    return op == kernels::Reduce::Sum ? t.sum(p, n) : static_cast<double>(t.maxmin(op, p, n, init));
  }
  double combine(double r, double p) const {
    if (op == kernels::Reduce::Sum) return r + p;
    if (op == kernels::Reduce::Max) return (p > r || p != p) ? p : r;
    return (p < r || p != p) ? p : r;
  }
  // part(0), ..., part(n - 1) combined in order: a sum starts from 0, max and min from part(0)
  // (combining it again would change nothing). n > 0.
  template <class Part>
  double fold(int64_t n, Part&& part) const {
    const bool sum = op == kernels::Reduce::Sum;
    double r = sum ? 0.0 : part(0);
    for (int64_t i = sum ? 0 : 1; i < n; ++i) r = combine(r, part(i));
    return r;
  }
  double fold(const double* part, int64_t n) const {
    return fold(n, [part](int64_t i) { return part[i]; });
  }
};
}  // namespace

void reduce_rows_f32(kernels::Reduce op, const float* x, int64_t outer, int64_t inner, float* out) {
  const RunReducer red{op};
  if (outer >= 2 * num_threads() || inner < kGrain) {  // one row per output, rows in parallel
    parallel_for(0, outer, plane_grain(inner), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) out[o] = static_cast<float>(red.run(x + o * inner, inner));
    });
    return;
  }
  // Few long rows: split each row into chunks, one partial per chunk, combined in chunk order.
  for (int64_t o = 0; o < outer; ++o) {
    const float* row = x + o * inner;
    const ChunkPlan plan = plan_chunks(0, inner, kGrain);
    std::vector<double> part(plan.count);
    parallel_for_chunks(0, inner, kGrain, [&](int64_t c, int64_t i0, int64_t i1) { part[c] = red.run(row + i0, i1 - i0); });
    out[o] = static_cast<float>(red.fold(part.data(), plan.count));
  }
}

void reduce_blocks_f32(kernels::Reduce op, const float* x, const int64_t* out_at, int64_t outs, const int64_t* row_at,
                       int64_t rows, int64_t inner, float* out) {
  const RunReducer red{op};
  const auto block = [&](int64_t o, int64_t k0, int64_t k1) {
    return red.fold(k1 - k0, [&](int64_t k) { return red.run(x + out_at[o] + row_at[k0 + k], inner); });
  };
  if (outs >= 2 * num_threads()) {  // one block per output, outputs in parallel
    parallel_for(0, outs, plane_grain(rows * inner), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) out[o] = static_cast<float>(block(o, 0, rows));
    });
    return;
  }
  // Few outputs: each block's rows in chunks, one partial per chunk, combined in chunk order.
  for (int64_t o = 0; o < outs; ++o) {
    const ChunkPlan plan = plan_chunks(0, rows, plane_grain(inner));
    std::vector<double> part(plan.count);
    parallel_for_chunks(0, rows, plane_grain(inner), [&](int64_t c, int64_t k0, int64_t k1) { part[c] = block(o, k0, k1); });
    out[o] = static_cast<float>(red.fold(part.data(), plan.count));
  }
}

// ---- pooling ----

namespace {
// The reference's argmax over a window clipped to the input (see tensor/kernels/pool.cpp).
float window_max(const float* plane, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t* at) {
  int64_t best = h0 * W + w0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t w = w0; w < w1; ++w) {
      const float v = plane[h * W + w];
      if (v > best_value || v != v) best_value = v, best = h * W + w;
    }
  if (at) *at = best;
  return plane[best];
}

struct Clipped {
  int64_t h0, h1, w0, w1;
  bool empty() const { return h0 >= h1 || w0 >= w1; }
};
Clipped clip_window(const PoolShape& s, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * s.sh - s.ph, w0 = ow * s.sw - s.pw;
  const int64_t h1 = std::min({h0 + s.kh, s.H + s.ph, s.H}), w1 = std::min({w0 + s.kw, s.W + s.pw, s.W});
  return {std::max<int64_t>(h0, 0), h1, std::max<int64_t>(w0, 0), w1};
}
// 2x2 stride 2, no padding, every window inside the input: VGG's pools.
bool plain_2x2(const PoolShape& s) {
  return s.kh == 2 && s.kw == 2 && s.sh == 2 && s.sw == 2 && s.ph == 0 && s.pw == 0 && 2 * s.OH <= s.H &&
         2 * s.OW <= s.W;
}
}  // namespace

void max_pool2d_f32(const PoolShape& s, const float* x, float* y) {
  const PointwiseTable& t = table();
  const bool fast = plain_2x2(s);
  parallel_for(0, s.planes, plane_grain(s.H * s.W), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H * s.W;
      float* yp = y + p * s.OH * s.OW;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        if (fast) {
          t.max_pool_2x2_row(xp + 2 * oh * s.W, xp + (2 * oh + 1) * s.W, yp + oh * s.OW, s.OW);
          continue;
        }
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const Clipped c = clip_window(s, oh, ow);
          yp[oh * s.OW + ow] = c.empty() ? -std::numeric_limits<float>::infinity()
                                         : window_max(xp, s.W, c.h0, c.h1, c.w0, c.w1, nullptr);
        }
      }
    }
  });
}

void max_pool2d_backward_f32(const PoolShape& s, const float* dy, const float* x, float* dx) {
  const bool fast = plain_2x2(s);
  const PointwiseTable& t = table();
  parallel_for(0, s.planes, plane_grain(s.H * s.W), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H * s.W;
      const float* gp = dy + p * s.OH * s.OW;
      float* dp = dx + p * s.H * s.W;
      // The 2x2 rows write every input they cover; only an odd last row or column needs zeros.
      if (!fast || s.H != 2 * s.OH || s.W != 2 * s.OW) std::memset(dp, 0, sizeof(float) * s.H * s.W);
      for (int64_t oh = 0; fast && oh < s.OH; ++oh)
        t.max_pool_2x2_backward_row(xp + 2 * oh * s.W, xp + (2 * oh + 1) * s.W, gp + oh * s.OW,
                                    dp + 2 * oh * s.W, dp + (2 * oh + 1) * s.W, s.OW);
      for (int64_t oh = 0; !fast && oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const Clipped c = clip_window(s, oh, ow);
          if (c.empty()) continue;
          int64_t at = 0;
          window_max(xp, s.W, c.h0, c.h1, c.w0, c.w1, &at);
          dp[at] += gp[oh * s.OW + ow];
        }
    }
  });
}

// ---- nearest upsampling ----

void upsample_nearest2d_f32(int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw, const float* x, float* y) {
  const PointwiseTable& t = table();
  const int64_t OW = W * sw;
  parallel_for(0, planes, plane_grain(H * W * sh * sw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t h = 0; h < H; ++h) {
        float* first = y + (p * H + h) * sh * OW;
        t.nearest_row(x + (p * H + h) * W, first, W, sw);
        for (int64_t k = 1; k < sh; ++k) std::memcpy(first + k * OW, first, sizeof(float) * OW);
      }
  });
}

void upsample_nearest2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw,
                                     const float* dy, float* dx) {
  const int64_t OW = W * sw;
  parallel_for(0, planes, plane_grain(H * W * sh * sw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t h = 0; h < H; ++h) {
        const float* g = dy + (p * H + h) * sh * OW;
        float* d = dx + (p * H + h) * W;
        // Summed in double in the reference's order (output rows, then columns), so the same bits.
        for (int64_t w = 0; w < W; ++w) {
          double acc = 0.0;
          for (int64_t a = 0; a < sh; ++a)
            for (int64_t b = 0; b < sw; ++b) acc += g[a * OW + w * sw + b];
          d[w] = static_cast<float>(acc);
        }
      }
  });
}

// ---- bilinear resizing and padding: separable maps with at most two taps per axis ----

namespace {
struct Taps {
  std::vector<int64_t> lo, hi;  // source indices; hi == lo when there is one tap
  std::vector<double> wlo, whi;
  std::vector<char> count;      // 0 (zero padding), 1 or 2 taps
};

// As bilinear_map in tensor/kernels/resize.cpp (align_corners = false).
Taps bilinear_taps(int64_t in, int64_t out) {
  Taps t{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<double>(out), std::vector<double>(out),
         std::vector<char>(out, 2)};
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double src = std::max((o + 0.5) * scale - 0.5, 0.0);
    const int64_t lower = static_cast<int64_t>(src);
    t.lo[o] = lower;
    t.hi[o] = lower < in - 1 ? lower + 1 : lower;
    t.whi[o] = src - static_cast<double>(lower);
    t.wlo[o] = 1.0 - t.whi[o];
  }
  return t;
}

// As pad_map: output o reads input o - before, mirrored (reflect) or nothing (zero).
std::vector<int64_t> pad_index(int64_t in, int64_t before, int64_t after, bool reflect) {
  std::vector<int64_t> m(in + before + after);
  for (int64_t o = 0; o < in + before + after; ++o) {
    int64_t i = o - before;
    if (reflect) {
      if (i < 0) i = -i;
      if (i >= in) i = 2 * (in - 1) - i;
    } else if (i < 0 || i >= in) {
      i = -1;
    }
    m[o] = i;
  }
  return m;
}
}  // namespace

void upsample_bilinear2d_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* x, float* y) {
  const Taps r = bilinear_taps(H, OH), c = bilinear_taps(W, OW);
  parallel_for(0, planes, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * H * W;
      float* yp = y + p * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* r0 = xp + r.lo[oh] * W;
        const float* r1 = xp + r.hi[oh] * W;
        const double a0 = r.wlo[oh], a1 = r.whi[oh];
        float* out = yp + oh * OW;
        // The reference's expression and order: rows weighted after the column sums.
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t l = c.lo[ow], h = c.hi[ow];
          const double b0 = c.wlo[ow], b1 = c.whi[ow];
          double s = 0.0;
          s += a0 * ((0.0 + b0 * r0[l]) + b1 * r0[h]);
          s += a1 * ((0.0 + b0 * r1[l]) + b1 * r1[h]);
          out[ow] = static_cast<float>(s);
        }
      }
    }
  });
}

void upsample_bilinear2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                      const float* dy, float* dx) {
  const Taps r = bilinear_taps(H, OH), c = bilinear_taps(W, OW);
  parallel_for(0, planes, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
    std::vector<double> acc(H * W);  // this chunk's scratch
    for (int64_t p = p0; p < p1; ++p) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* gp = dy + p * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        double* a0 = acc.data() + r.lo[oh] * W;
        double* a1 = acc.data() + r.hi[oh] * W;
        const double wa0 = r.wlo[oh], wa1 = r.whi[oh];
        for (int64_t ow = 0; ow < OW; ++ow) {
          const double g = gp[oh * OW + ow];
          const int64_t l = c.lo[ow], h = c.hi[ow];
          const double b0 = c.wlo[ow], b1 = c.whi[ow];
          a0[l] += wa0 * b0 * g;
          a0[h] += wa0 * b1 * g;
          a1[l] += wa1 * b0 * g;
          a1[h] += wa1 * b1 * g;
        }
      }
      float* dp = dx + p * H * W;
      for (int64_t i = 0; i < H * W; ++i) dp[i] = static_cast<float>(acc[i]);
    }
  });
}

void pad2d_f32(int64_t planes, int64_t H, int64_t W, int64_t l, int64_t r, int64_t t, int64_t b, bool reflect,
               const float* x, float* y) {
  const int64_t OH = H + t + b, OW = W + l + r;
  const std::vector<int64_t> rows = pad_index(H, t, b, reflect), cols = pad_index(W, l, r, reflect);
  parallel_for(0, planes, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* out = y + (p * OH + oh) * OW;
        if (rows[oh] < 0) {
          std::memset(out, 0, sizeof(float) * OW);
          continue;
        }
        const float* in = x + (p * H + rows[oh]) * W;
        for (int64_t j = 0; j < l; ++j) out[j] = cols[j] < 0 ? 0.0f : in[cols[j]];
        std::memcpy(out + l, in, sizeof(float) * W);
        for (int64_t j = l + W; j < OW; ++j) out[j] = cols[j] < 0 ? 0.0f : in[cols[j]];
      }
  });
}

void pad2d_backward_f32(int64_t planes, int64_t H, int64_t W, int64_t l, int64_t r, int64_t t, int64_t b,
                        bool reflect, const float* dy, float* dx) {
  const int64_t OH = H + t + b, OW = W + l + r;
  const std::vector<int64_t> rows = pad_index(H, t, b, reflect), cols = pad_index(W, l, r, reflect);
  parallel_for(0, planes, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
    std::vector<double> acc(H * W);  // this chunk's scratch
    for (int64_t p = p0; p < p1; ++p) {
      std::fill(acc.begin(), acc.end(), 0.0);
      // The reference's order (output rows, then columns), in double: the same bits.
      for (int64_t oh = 0; oh < OH; ++oh) {
        if (rows[oh] < 0) continue;
        const float* g = dy + (p * OH + oh) * OW;
        double* a = acc.data() + rows[oh] * W;
        for (int64_t ow = 0; ow < OW; ++ow)
          if (cols[ow] >= 0) a[cols[ow]] += g[ow];
      }
      float* dp = dx + p * H * W;
      for (int64_t i = 0; i < H * W; ++i) dp[i] = static_cast<float>(acc[i]);
    }
  });
}

// ---- instance norm ----

void instance_norm_f32(int64_t planes, int64_t C, int64_t plane, const float* x, const double* weight,
                       const double* bias, double eps, float* y, double* mean, double* rstd) {
  const PointwiseTable& t = table();
  parallel_for(0, planes, plane_grain(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * plane;
      const double mu = plane > 0 ? t.sum(xp, plane) / plane : 0.0;
      const double var = plane > 0 ? t.sumsq_centred(xp, plane, mu) / plane : 0.0;
      const double inv_std = 1.0 / std::sqrt(var + eps);
      mean[p] = mu, rstd[p] = inv_std;
      const int64_t c = p % C;
      const double scale = inv_std * (weight ? weight[c] : 1.0), shift = (bias ? bias[c] : 0.0) - mu * scale;
      t.affine(xp, y + p * plane, plane, scale, shift);
    }
  });
}

void instance_norm_backward_f32(int64_t planes, int64_t C, int64_t plane, const float* dy, const float* x,
                                const double* mean, const double* rstd, const double* weight, float* dx,
                                double* dweight, double* dbias) {
  const PointwiseTable& t = table();
  std::vector<double> sg(planes), sgx(planes);
  parallel_for(0, planes, plane_grain(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * plane;
      const float* gp = dy + p * plane;
      t.norm_grad_sums(gp, xp, plane, mean[p], rstd[p], &sg[p], &sgx[p]);
      const double k = rstd[p] * (weight ? weight[p % C] : 1.0);
      const double mg = plane > 0 ? sg[p] / plane : 0.0, mgx = plane > 0 ? sgx[p] / plane : 0.0;
      t.norm_grad_input(gp, xp, dx + p * plane, plane, mean[p], rstd[p], k, mg, mgx);
    }
  });
  // Per-channel sums over the batch, in plane order (as the reference).
  std::fill(dweight, dweight + C, 0.0);
  std::fill(dbias, dbias + C, 0.0);
  for (int64_t p = 0; p < planes; ++p) {
    dbias[p % C] += sg[p];
    dweight[p % C] += sgx[p];
  }
}

}  // namespace sn::cpu
