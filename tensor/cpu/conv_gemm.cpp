// Convolution as GEMM: im2col / col2im around our threaded SGEMM (see tensor/cpu/conv.h).
//
// Per image n and group g, with P = OH * OW output pixels and K = Cg * KH * KW:
//   forward          y[g]  (Og x P) = w[g] (Og x K) * col (K x P)
//   backward data    dcol  (K x P)  = w[g]^T (K x Og) * dy[g] (Og x P),   dx[g] = col2im(dcol)
//   backward weights dw[g] (Og x K) += dy[g] (Og x P) * col^T (P x K)
// where col = im2col(x[n, g]): row (c, kh, kw), column (oh, ow) holds the input pixel that tap
// reads for that output, or 0 in the padding.
//
// The P columns are processed in bands of whole output rows, sized so the band's col matrix is
// about kColBudget floats: at 256x256 with 64 channels the full col matrix would be 150 MB, a
// band is a few MB that im2col writes and the GEMM reads back while it is still in L2/L3. Output
// rows are contiguous in y and dy, so a band is simply a column range of the GEMM's C or B with
// leading dimension P.
#include <algorithm>
#include <memory>
#include <optional>
#include <cstring>
#include <utility>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/workspace.h"

namespace sn::cpu {

namespace {

// Floats of im2col scratch per band (4 MiB): small enough for L3, large enough that the GEMM
// (N = band width) runs at full speed and its fixed costs (packing the weights) amortise.
constexpr int64_t kColBudget = 1 << 20;
// Elements of copying work below which a parallel_for chunk is not worth a task.
constexpr int64_t kCopyGrain = 1 << 14;
// Convolutions whose weights are at most this many floats (64 x 27, the size of VGG's conv1_1, which
// now runs direct) run in bands of about kSmallColBudget col floats (1 MiB, this CPU's L2), each
// thread its own bands from im2col to bias and ReLU (see forward_small). conv1_1 at 224 on im2col, 6
// ABBA rounds: 2 threads 1.53 -> 1.17 ms (with 256 KiB bands 0.94, but conv1_2 after it then ran 3 %
// slower), 1 thread 2.14 -> 2.02.
constexpr int64_t kSmallWeights = 1 << 14;
constexpr int64_t kSmallColBudget = 1 << 18;

// Outputs o in [begin, end) read an in-range input at tap k: 0 <= o * stride - pad + k * dil < in.
std::pair<int64_t, int64_t> valid_outputs(int64_t in, int64_t out, int64_t k, int64_t stride,
                                          int64_t pad, int64_t dil) {
  const int64_t first = k * dil - pad;  // input index read by output 0
  const int64_t begin = first >= 0 ? 0 : (-first + stride - 1) / stride;
  const int64_t room = in - 1 - first;
  const int64_t end = room < 0 ? 0 : std::min(out, room / stride + 1);
  return {std::min(begin, end), end};
}

int64_t band_rows(const ConvShape& s) {
  return std::clamp<int64_t>(kColBudget / std::max<int64_t>(s.K() * s.OW, 1), 1, s.OH);
}

// Row r of the im2col matrix of one image's group (xg: its first channel), for the band of output
// rows starting at oh0, columns [j0, j1) of the band (column j: output pixel (oh0 + j / OW, j % OW)):
// the input pixel tap r reads there, or 0 in the padding.
void im2col_row(const ConvShape& s, const float* xg, int64_t r, int64_t oh0, int64_t j0, int64_t j1, float* dst) {
  const int64_t taps = s.KH * s.KW, c = r / taps, kh = (r % taps) / s.KW, kw = r % s.KW;
  const float* plane = xg + c * s.H * s.W;
  const auto [ow_b, ow_e] = valid_outputs(s.W, s.OW, kw, s.sw, s.pw, s.dw);
  for (int64_t j = j0; j < j1;) {  // one output row's part at a time
    const int64_t oh = oh0 + j / s.OW, a = j % s.OW, b = std::min(s.OW, a + (j1 - j));
    float* d = dst + (j - j0) - a;  // d[ow] is column (oh, ow)
    const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
    const int64_t v0 = std::clamp(ow_b, a, b), v1 = std::clamp(ow_e, v0, b);  // in range: [v0, v1)
    if (ih < 0 || ih >= s.H) {
      std::fill(d + a, d + b, 0.0f);
    } else {
      std::fill(d + a, d + v0, 0.0f);
      const float* src = plane + ih * s.W + v0 * s.sw - s.pw + kw * s.dw;
      if (s.sw == 1) {
        if (v1 > v0) std::memcpy(d + v0, src, sizeof(float) * (v1 - v0));
      } else {
        for (int64_t ow = v0, i = 0; ow < v1; ++ow, i += s.sw) d[ow] = src[i];
      }
      std::fill(d + v1, d + b, 0.0f);
    }
    j += b - a;
  }
}

// col (K x (oh1 - oh0) * OW) = im2col of one image's group for output rows [oh0, oh1).
void im2col(const ConvShape& s, const float* xg, int64_t oh0, int64_t oh1, float* col) {
  const int64_t ncols = (oh1 - oh0) * s.OW;
  parallel_for(0, s.K(), std::max<int64_t>(1, kCopyGrain / ncols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) im2col_row(s, xg, r, oh0, 0, ncols, col + r * ncols);
  });
}

// The transposed im2col matrix of a band as the backward-weights GEMM's op(B) (pixels x taps),
// made a block of columns at a time inside the GEMM's packing: the band's col matrix (a few MB)
// is never written out and read back.
class Im2colColumns final : public BColumnSource {
 public:
  Im2colColumns(const ConvShape& s, const float* xg, int64_t oh0) : s_(s), xg_(xg), oh0_(oh0) {}
  void columns(int64_t k0, int64_t kb, int64_t n0, int64_t nb, float* lines) const override {
    for (int64_t l = 0; l < nb; ++l) im2col_row(s_, xg_, n0 + l, oh0_, k0, k0 + kb, lines + l * kb);
  }

 private:
  const ConvShape& s_;
  const float* xg_;
  int64_t oh0_;
};

// dxg += col2im(dcol) for output rows [oh0, oh1): every col entry is added back onto the input
// pixel it was copied from. Chunks own whole input channels, so no two chunks write one pixel.
void col2im_add(const ConvShape& s, const float* dcol, int64_t oh0, int64_t oh1, float* dxg) {
  const int64_t ncols = (oh1 - oh0) * s.OW, taps = s.KH * s.KW;
  parallel_for(0, s.Cg(), std::max<int64_t>(1, kCopyGrain / (ncols * taps)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* plane = dxg + c * s.H * s.W;
      for (int64_t kh = 0; kh < s.KH; ++kh)
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const auto [ow_b, ow_e] = valid_outputs(s.W, s.OW, kw, s.sw, s.pw, s.dw);
          if (ow_b == ow_e) continue;
          const int64_t iw_b = ow_b * s.sw - s.pw + kw * s.dw;
          const float* src = dcol + ((c * s.KH + kh) * s.KW + kw) * ncols;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
            if (ih < 0 || ih >= s.H) continue;
            const float* g = src + (oh - oh0) * s.OW;
            float* d = plane + ih * s.W + iw_b;
            if (s.sw == 1) {
              for (int64_t ow = ow_b; ow < ow_e; ++ow) d[ow - ow_b] += g[ow];
            } else {
              for (int64_t ow = ow_b, i = 0; ow < ow_e; ++ow, i += s.sw) d[i] += g[ow];
            }
          }
        }
    }
  });
}

// y rows [0, Og) x columns [0, n) with leading dimension ld: y = max(0, y + bias[o]) or y + bias[o].
void bias_relu_band(float* y, int64_t ld, int64_t rows, int64_t n, const float* bias, bool relu) {
  if (!bias && !relu) return;
  parallel_for(0, rows, std::max<int64_t>(1, kCopyGrain / n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* p = y + r * ld;
      const float b = bias ? bias[r] : 0.0f;
      if (relu)
        for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i] + b, 0.0f);
      else
        for (int64_t i = 0; i < n; ++i) p[i] += b;
    }
  });
}

}  // namespace

// The weights of group g, packed once for all of the call's GEMMs (every band of every image) and,
// with a key, for later calls too; without a key, none when there is only one GEMM per group,
// which packs them once anyway.
static std::shared_ptr<const DerivedWeights> pack_weights(const ConvShape& s, const float* w, Trans t, int64_t rows,
                                                          const WeightKey& key) {
  const auto make = [&] {
    DerivedWeights d;
    const int64_t K = s.K(), Og = s.Og();
    for (int64_t g = 0; g < s.groups; ++g)
      d.packed.emplace_back(t, t == Trans::No ? Og : K, t == Trans::No ? K : Og, w + g * Og * K, K);
    return d;
  };
  if (key) return derived_weights(key, derived_kind(t == Trans::No ? "gemm" : "gemm transposed", s), make);
  if (s.N * ((s.OH + rows - 1) / rows) <= 1) return std::make_shared<const DerivedWeights>();
  return std::make_shared<const DerivedWeights>(make());
}

// Output rows [oh0, oh1) of image n's group g (y: the whole output): im2col into col (pointwise:
// the input is the col matrix itself), the GEMM with the packed weights wp (or w, where none were
// packed), then bias and ReLU.
void forward_band(const ConvShape& s, const float* x, const float* w, const std::vector<PackedA>& wp,
                  const float* bias, bool relu, int64_t n, int64_t g, int64_t oh0, int64_t oh1, float* col,
                  float* y) {
  const int64_t P = s.OH * s.OW, Og = s.Og(), ncols = (oh1 - oh0) * s.OW;
  const float* xg = x + (n * s.C + g * s.Cg()) * s.H * s.W;
  float* c = y + (n * s.O + g * Og) * P + oh0 * s.OW;
  const float* b = xg + oh0 * s.OW;
  int64_t ldb = P;
  if (!s.pointwise()) {
    im2col(s, xg, oh0, oh1, col);
    b = col, ldb = ncols;
  }
  if (wp.empty()) sgemm(Trans::No, Trans::No, Og, ncols, s.K(), 1.0f, w + g * Og * s.K(), s.K(), b, ldb, 0.0f, c, P);
  else sgemm_packed(wp[g], Trans::No, ncols, 1.0f, b, ldb, 0.0f, c, P);
  bias_relu_band(c, P, Og, ncols, bias ? bias + g * Og : nullptr, relu);
}

// The forward of a convolution with few weights (few input channels: K = C KH KW is small) in small
// bands of output rows shared out among the threads, each band's col matrix, GEMM output and bias +
// ReLU pass staying in the thread's cache (the general path's bands of 4 MiB of col went through
// L3, each GEMM forked and joined the threads for a K of 27, and the bias + ReLU pass read the
// band's output back). Each output is the same sum as in one big GEMM: the same bits.
void forward_small(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu,
                   const WeightKey& key) {
  const int64_t rows = std::clamp<int64_t>(kSmallColBudget / std::max<int64_t>(s.K() * s.OW, 1), 1, s.OH);
  const int64_t bands = (s.OH + rows - 1) / rows;
  const auto derived = pack_weights(s, w, Trans::No, rows, key);  // packed once, as the general path
  parallel_for(0, s.N * bands, 1, [&](int64_t b0, int64_t b1) {
    SerialRegion serial;
    WorkspaceLease col(s.K() * rows * s.OW);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t oh0 = b % bands * rows;
      forward_band(s, x, w, derived->packed, bias, relu, b / bands, 0, oh0, std::min(s.OH, oh0 + rows), col.data(), y);
    }
  });
}

void conv2d_forward_gemm(const ConvShape& s, const float* x, const float* w, const float* bias, float* y,
                         bool relu, const WeightKey& key) {
  if (s.groups == 1 && !s.pointwise() && s.O * s.K() <= kSmallWeights && gemm_backend() == GemmBackend::Own)
    return forward_small(s, x, w, bias, y, relu, key);
  const int64_t rows = s.pointwise() ? s.OH : band_rows(s);
  WorkspaceLease col(s.pointwise() ? 0 : s.K() * rows * s.OW);
  const auto derived = pack_weights(s, w, Trans::No, rows, key);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t oh0 = 0; oh0 < s.OH; oh0 += rows)
        forward_band(s, x, w, derived->packed, bias, relu, n, g, oh0, std::min(s.OH, oh0 + rows), col.data(), y);
}

void conv2d_backward_input_gemm(const ConvShape& s, const float* dy, const float* w, float* dx,
                                const WeightKey& key) {
  const int64_t K = s.K(), P = s.OH * s.OW, Cg = s.Cg(), Og = s.Og(), HW = s.H * s.W;
  const int64_t rows = band_rows(s);
  WorkspaceLease col(s.pointwise() ? 0 : K * rows * s.OW);
  const auto derived = pack_weights(s, w, Trans::Yes, s.pointwise() ? s.OH : rows, key);  // w^T: K x Og
  const std::vector<PackedA>& wp = derived->packed;
  const auto gemm = [&](int64_t g, int64_t ncols, const float* b, int64_t ldb, float* c, int64_t ldc) {
    if (wp.empty()) sgemm(Trans::Yes, Trans::No, K, ncols, Og, 1.0f, w + g * Og * K, K, b, ldb, 0.0f, c, ldc);
    else sgemm_packed(wp[g], Trans::No, ncols, 1.0f, b, ldb, 0.0f, c, ldc);
  };
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* dyg = dy + (n * s.O + g * Og) * P;
      float* dxg = dx + (n * s.C + g * Cg) * HW;
      if (s.pointwise()) {  // dx (Cg x HW) = w^T (Cg x Og) * dy (Og x HW)
        gemm(g, P, dyg, P, dxg, P);
        continue;
      }
      parallel_for(0, Cg, std::max<int64_t>(1, kCopyGrain / HW),
                   [&](int64_t c0, int64_t c1) { std::fill(dxg + c0 * HW, dxg + c1 * HW, 0.0f); });
      for (int64_t oh0 = 0; oh0 < s.OH; oh0 += rows) {
        const int64_t oh1 = std::min(s.OH, oh0 + rows), ncols = (oh1 - oh0) * s.OW;
        gemm(g, ncols, dyg + oh0 * s.OW, P, col.data(), ncols);
        col2im_add(s, col.data(), oh0, oh1, dxg);
      }
    }
}

void conv2d_backward_weight_gemm(const ConvShape& s, const float* dy, const float* x, float* dw) {
  const int64_t K = s.K(), P = s.OH * s.OW, Cg = s.Cg(), Og = s.Og();
  const int64_t rows = s.pointwise() ? s.OH : band_rows(s);
  std::optional<WorkspaceLease> col;  // only where the GEMM cannot make col^T itself (OpenBLAS, Ref)
  if (s.N == 0) std::fill(dw, dw + s.O * K, 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    float* dwg = dw + g * Og * K;
    float beta = 0.0f;  // the first band writes dw, the rest accumulate onto it
    for (int64_t n = 0; n < s.N; ++n) {
      const float* xg = x + (n * s.C + g * Cg) * s.H * s.W;
      const float* dyg = dy + (n * s.O + g * Og) * P;
      for (int64_t oh0 = 0; oh0 < s.OH; oh0 += rows) {
        const int64_t oh1 = std::min(s.OH, oh0 + rows), ncols = (oh1 - oh0) * s.OW;
        // dw (Og x K) += dy band (Og x ncols) * col^T (ncols x K); our SGEMM packs col^T straight
        // from x (the same bits as from a col matrix in memory), other backends get the matrix.
        const float* dy_band = dyg + oh0 * s.OW;
        if (s.pointwise()) {
          sgemm(Trans::No, Trans::Yes, Og, K, ncols, 1.0f, dy_band, P, xg + oh0 * s.OW, P, beta, dwg, K);
        } else if (!sgemm_b_columns(Trans::No, Og, K, ncols, 1.0f, dy_band, P, Im2colColumns(s, xg, oh0), beta,
                                    dwg, K)) {
          if (!col) col.emplace(K * rows * s.OW);
          im2col(s, xg, oh0, oh1, col->data());
          sgemm(Trans::No, Trans::Yes, Og, K, ncols, 1.0f, dy_band, P, col->data(), ncols, beta, dwg, K);
        }
        beta = 1.0f;
      }
    }
  }
}

void conv2d_backward_bias(const ConvShape& s, const float* dy, float* db) {
  const int64_t P = s.OH * s.OW;
  parallel_for(0, s.O, std::max<int64_t>(1, kCopyGrain / (P * s.N)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      double total = 0.0;
      for (int64_t n = 0; n < s.N; ++n) {
        // 16 independent float lanes (vectorisable without -ffast-math), folded in double.
        const float* p = dy + (n * s.O + o) * P;
        float lanes[16] = {};
        int64_t i = 0;
        for (; i + 16 <= P; i += 16)
          for (int l = 0; l < 16; ++l) lanes[l] += p[i + l];
        double plane = 0.0;
        for (; i < P; ++i) plane += p[i];
        for (float l : lanes) plane += l;
        total += plane;
      }
      db[o] = static_cast<float>(total);
    }
  });
}

}  // namespace sn::cpu
