#include "vision/guided_filter.h"

#include <algorithm>
#include <utility>

#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace sn {

namespace {

// Clipped window size along one axis of length n around index i.
inline double window_count(int64_t i, int64_t n, int64_t r) {
  return static_cast<double>(std::min(i + r, n - 1) - std::max<int64_t>(i - r, 0) + 1);
}

// out = the mean over the (2r+1)^2 window around every pixel of `in` (h x w), clipped at the
// borders (the divisor counts the pixels inside): running sums along rows into `rows`, then along
// columns. `out` may be `in`. Float storage (moments of [0, 1] values need no more), double sums.
void box_mean(const float* in, float* out, float* rows, int64_t h, int64_t w, int64_t r) {
  cpu::parallel_for(0, h, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const float* src = in + y * w;
      float* dst = rows + y * w;
      double sum = 0;
      for (int64_t x = 0; x < std::min(r, w); ++x) sum += src[x];
      for (int64_t x = 0; x < w; ++x) {
        if (x + r < w) sum += src[x + r];
        if (x - r - 1 >= 0) sum -= src[x - r - 1];
        dst[x] = static_cast<float>(sum / window_count(x, w, r));
      }
    }
  });
  constexpr int64_t kColumns = 64;
  cpu::parallel_for(0, w, kColumns, [&](int64_t x0, int64_t x1) {
    for (int64_t c0 = x0; c0 < x1; c0 += kColumns) {
      const int64_t n = std::min(kColumns, x1 - c0);
      double sum[kColumns] = {};
      for (int64_t y = 0; y < std::min(r, h); ++y)
        for (int64_t x = 0; x < n; ++x) sum[x] += rows[y * w + c0 + x];
      for (int64_t y = 0; y < h; ++y) {
        const double count = window_count(y, h, r);
        if (y + r < h)
          for (int64_t x = 0; x < n; ++x) sum[x] += rows[(y + r) * w + c0 + x];
        if (y - r - 1 >= 0)
          for (int64_t x = 0; x < n; ++x) sum[x] -= rows[(y - r - 1) * w + c0 + x];
        for (int64_t x = 0; x < n; ++x) out[y * w + c0 + x] = static_cast<float>(sum[x] / count);
      }
    }
  });
}

// The planes one strip needs (at most max_rows x w floats each), allocated once per call and
// reused by every strip: fresh memory for every step cost a zero fill and page faults, most of the
// filter's time at 1024 x 1024 (perf). A tensor's memory, not operator new's: glibc mapped the 36
// MB of a 1024 px photo's planes afresh in 4 KiB pages on every call (9k faults, half of a 1024 px
// stylize's), where the tensor allocator's come in huge pages and are recycled.
struct Workspace {
  Tensor memory;
  float* mean_I[3];
  float* mean_p[3];  // then the fit's b
  float* II[3][3];   // II[k][l] == II[l][k]
  float* Ip[3][3];   // then the fit's a[k][c]
  float* rows;       // box_mean's row pass
  float* product;

  Workspace(int64_t max_rows, int64_t width) {
    const int64_t n = max_rows * width;
    memory = Tensor::empty({23 * n});  // no zero fill: every plane is written first
    float* next = memory.data<float>();
    const auto take = [&] { return std::exchange(next, next + n); };
    for (int k = 0; k < 3; ++k) mean_I[k] = take(), mean_p[k] = take();
    for (int k = 0; k < 3; ++k)
      for (int l = k; l < 3; ++l) II[k][l] = II[l][k] = take();
    for (auto& row : Ip)
      for (float*& plane : row) plane = take();
    rows = take(), product = take();
  }
};

// Rows [a0, a1) of the guide and the source: pointers into the images, no copies.
struct Strip {
  const float* I[3];
  const float* p[3];
  int64_t h, w;
};

// The per-window fit a = (Sigma + eps U)^-1 cov(I, p), b = mean_p - a^T mean_I, where Sigma is the
// guide's 3x3 window covariance; a[k][c] (guide channel k, output c) lands in ws.Ip[k][c], b in
// ws.mean_p.
void fit_windows(const Strip& s, int64_t r, double eps, Workspace& ws) {
  const int64_t n = s.h * s.w;
  const auto box_product = [&](const float* a, const float* b, float* out) {
    cpu::parallel_for(0, n, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) ws.product[i] = a[i] * b[i];
    });
    box_mean(ws.product, out, ws.rows, s.h, s.w, r);
  };
  for (int k = 0; k < 3; ++k) {
    box_mean(s.I[k], ws.mean_I[k], ws.rows, s.h, s.w, r);
    box_mean(s.p[k], ws.mean_p[k], ws.rows, s.h, s.w, r);
    for (int l = k; l < 3; ++l) box_product(s.I[k], s.I[l], ws.II[k][l]);
    for (int c = 0; c < 3; ++c) box_product(s.I[k], s.p[c], ws.Ip[k][c]);
  }
  cpu::parallel_for(0, n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double m[3], sg[3][3], cov[3][3], inv[3][3];
      for (int k = 0; k < 3; ++k) m[k] = ws.mean_I[k][i];
      for (int k = 0; k < 3; ++k) {
        for (int l = 0; l < 3; ++l) sg[k][l] = double(ws.II[k][l][i]) - m[k] * m[l];
        sg[k][k] += eps;
        for (int c = 0; c < 3; ++c) cov[k][c] = double(ws.Ip[k][c][i]) - m[k] * ws.mean_p[c][i];
      }
      // Sigma + eps U is symmetric positive definite: its inverse by cofactors.
      inv[0][0] = sg[1][1] * sg[2][2] - sg[1][2] * sg[1][2];
      inv[0][1] = sg[0][2] * sg[1][2] - sg[0][1] * sg[2][2];
      inv[0][2] = sg[0][1] * sg[1][2] - sg[0][2] * sg[1][1];
      inv[1][1] = sg[0][0] * sg[2][2] - sg[0][2] * sg[0][2];
      inv[1][2] = sg[0][1] * sg[0][2] - sg[0][0] * sg[1][2];
      inv[2][2] = sg[0][0] * sg[1][1] - sg[0][1] * sg[0][1];
      inv[1][0] = inv[0][1], inv[2][0] = inv[0][2], inv[2][1] = inv[1][2];
      const double det = sg[0][0] * inv[0][0] + sg[0][1] * inv[1][0] + sg[0][2] * inv[2][0];
      for (int c = 0; c < 3; ++c) {
        double b = ws.mean_p[c][i];
        for (int k = 0; k < 3; ++k) {
          const double a = (inv[k][0] * cov[0][c] + inv[k][1] * cov[1][c] + inv[k][2] * cov[2][c]) / det;
          ws.Ip[k][c][i] = static_cast<float>(a);
          b -= a * m[k];
        }
        ws.mean_p[c][i] = static_cast<float>(b);
      }
    }
  });
}

// Filters strip `s` (rows [a0, a0 + s.h) of the image) and writes output rows [y0, y1) to `out`.
void filter_strip(const Strip& s, int64_t a0, int64_t y0, int64_t y1, int64_t r, double eps, Workspace& ws,
                  float* out, int64_t hw) {
  fit_windows(s, r, eps, ws);
  // q = mean(a)^T I + mean(b): every window covering a pixel votes for its output.
  for (int c = 0; c < 3; ++c) {
    box_mean(ws.mean_p[c], ws.mean_p[c], ws.rows, s.h, s.w, r);
    for (int k = 0; k < 3; ++k) box_mean(ws.Ip[k][c], ws.Ip[k][c], ws.rows, s.h, s.w, r);
    cpu::parallel_for(y0, y1, 8, [&](int64_t r0, int64_t r1) {
      for (int64_t y = r0; y < r1; ++y)
        for (int64_t x = 0; x < s.w; ++x) {
          const int64_t i = (y - a0) * s.w + x;
          out[c * hw + y * s.w + x] = ws.Ip[0][c][i] * s.I[0][i] + ws.Ip[1][c][i] * s.I[1][i] +
                                      ws.Ip[2][c][i] * s.I[2][i] + ws.mean_p[c][i];
        }
    });
  }
}

}  // namespace

Tensor guided_filter(const Tensor& guide, const Tensor& source, int64_t radius, double eps, int64_t strip_rows) {
  SN_CHECK(guide.dim() == 4 && guide.size(0) == 1 && guide.size(1) == 3 && guide.shape() == source.shape(),
           "guided_filter: guide and source must both be [1, 3, H, W], got ", shape_str(guide.shape()), " and ",
           shape_str(source.shape()));
  SN_CHECK(guide.dtype() == DType::Float32 && source.dtype() == DType::Float32 &&
               guide.device().type == DeviceType::CPU && source.device().type == DeviceType::CPU,
           "guided_filter: float32 images on the CPU");
  SN_CHECK(radius >= 1 && eps > 0 && strip_rows >= 1, "guided_filter: radius and strip_rows must be >= 1, eps > 0");
  const Tensor I = guide.contiguous(), p = source.contiguous();
  const int64_t h = I.size(2), w = I.size(3), hw = h * w;
  Tensor out = Tensor::empty(I.shape(), DType::Float32, I.device());
  // An output row depends on the fits within `radius` rows, each on pixels within `radius` more.
  const int64_t margin = 2 * radius;
  Workspace ws(std::min(h, strip_rows + 2 * margin), w);
  for (int64_t y0 = 0; y0 < h; y0 += strip_rows) {
    const int64_t y1 = std::min(h, y0 + strip_rows);
    const int64_t a0 = std::max<int64_t>(0, y0 - margin), a1 = std::min(h, y1 + margin);
    Strip s{{}, {}, a1 - a0, w};
    for (int k = 0; k < 3; ++k) s.I[k] = I.data<float>() + k * hw + a0 * w, s.p[k] = p.data<float>() + k * hw + a0 * w;
    filter_strip(s, a0, y0, y1, radius, eps, ws, out.data<float>(), hw);
  }
  return out;
}

}  // namespace sn
