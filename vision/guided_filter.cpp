#include "vision/guided_filter.h"

#include <algorithm>
#include <array>
#include <vector>

#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace sn {

namespace {

// One channel of a strip, row-major. Float storage (values and window moments of [0, 1] pixels
// need no more), double running sums.
using Plane = std::vector<float>;
using RGB = std::array<Plane, 3>;

// Clipped window size along one axis of length n around index i.
inline double window_count(int64_t i, int64_t n, int64_t r) {
  return static_cast<double>(std::min(i + r, n - 1) - std::max<int64_t>(i - r, 0) + 1);
}

// Mean over the (2r+1)^2 window around every pixel, clipped at the borders (the divisor counts the
// pixels inside): running sums along rows, then along columns.
Plane box_mean(const Plane& in, int64_t h, int64_t w, int64_t r) {
  Plane rows(in.size()), out(in.size());
  cpu::parallel_for(0, h, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const float* src = in.data() + y * w;
      float* dst = rows.data() + y * w;
      double sum = 0;
      for (int64_t x = 0; x < std::min(r, w); ++x) sum += src[x];
      for (int64_t x = 0; x < w; ++x) {
        if (x + r < w) sum += src[x + r];
        if (x - r - 1 >= 0) sum -= src[x - r - 1];
        dst[x] = static_cast<float>(sum / window_count(x, w, r));
      }
    }
  });
  cpu::parallel_for(0, w, 64, [&](int64_t x0, int64_t x1) {
    std::vector<double> sum(static_cast<size_t>(x1 - x0), 0.0);
    for (int64_t y = 0; y < std::min(r, h); ++y)
      for (int64_t x = x0; x < x1; ++x) sum[x - x0] += rows[y * w + x];
    for (int64_t y = 0; y < h; ++y) {
      const double n = window_count(y, h, r);
      for (int64_t x = x0; x < x1; ++x) {
        double& s = sum[x - x0];
        if (y + r < h) s += rows[(y + r) * w + x];
        if (y - r - 1 >= 0) s -= rows[(y - r - 1) * w + x];
        out[y * w + x] = static_cast<float>(s / n);
      }
    }
  });
  return out;
}

Plane box_mean_product(const Plane& a, const Plane& b, int64_t h, int64_t w, int64_t r) {
  Plane prod(a.size());
  for (size_t i = 0; i < a.size(); ++i) prod[i] = a[i] * b[i];
  return box_mean(prod, h, w, r);
}

// Rows [y0, y1) of image [1, 3, H, W] (contiguous float32) as three planes.
RGB rows_of(const Tensor& image, int64_t y0, int64_t y1) {
  const int64_t hw = image.size(2) * image.size(3), w = image.size(3);
  RGB planes;
  for (int64_t k = 0; k < 3; ++k) {
    const float* src = image.data<float>() + k * hw;
    planes[k].assign(src + y0 * w, src + y1 * w);
  }
  return planes;
}

// The per-window fit: a = (Sigma + eps U)^-1 cov(I, p), b = mean_p - a^T mean_I, where Sigma is
// the guide's 3x3 window covariance. a[k][c] is guide channel k's coefficient for output c.
struct Fit {
  std::array<RGB, 3> a;
  RGB b;
};

Fit fit_windows(const RGB& I, const RGB& p, int64_t h, int64_t w, int64_t r, double eps) {
  RGB mean_I, mean_p;
  for (int k = 0; k < 3; ++k) mean_I[k] = box_mean(I[k], h, w, r), mean_p[k] = box_mean(p[k], h, w, r);
  std::array<RGB, 3> II, Ip;  // II[k][l] for l >= k
  for (int k = 0; k < 3; ++k) {
    for (int l = k; l < 3; ++l) II[k][l] = box_mean_product(I[k], I[l], h, w, r);
    for (int c = 0; c < 3; ++c) Ip[k][c] = box_mean_product(I[k], p[c], h, w, r);
  }
  Fit fit;
  const size_t n = static_cast<size_t>(h * w);
  for (auto& row : fit.a)
    for (Plane& plane : row) plane.resize(n);
  for (Plane& plane : fit.b) plane.resize(n);
  cpu::parallel_for(0, h * w, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double s[3][3], cov[3][3], inv[3][3];
      for (int k = 0; k < 3; ++k) {
        for (int l = k; l < 3; ++l) s[k][l] = s[l][k] = double(II[k][l][i]) - double(mean_I[k][i]) * mean_I[l][i];
        s[k][k] += eps;
        for (int c = 0; c < 3; ++c) cov[k][c] = double(Ip[k][c][i]) - double(mean_I[k][i]) * mean_p[c][i];
      }
      // Sigma + eps U is symmetric positive definite: its inverse by cofactors.
      inv[0][0] = s[1][1] * s[2][2] - s[1][2] * s[1][2];
      inv[0][1] = s[0][2] * s[1][2] - s[0][1] * s[2][2];
      inv[0][2] = s[0][1] * s[1][2] - s[0][2] * s[1][1];
      inv[1][1] = s[0][0] * s[2][2] - s[0][2] * s[0][2];
      inv[1][2] = s[0][1] * s[0][2] - s[0][0] * s[1][2];
      inv[2][2] = s[0][0] * s[1][1] - s[0][1] * s[0][1];
      inv[1][0] = inv[0][1], inv[2][0] = inv[0][2], inv[2][1] = inv[1][2];
      const double det = s[0][0] * inv[0][0] + s[0][1] * inv[1][0] + s[0][2] * inv[2][0];
      for (int c = 0; c < 3; ++c) {
        double b = mean_p[c][i];
        for (int k = 0; k < 3; ++k) {
          const double a = (inv[k][0] * cov[0][c] + inv[k][1] * cov[1][c] + inv[k][2] * cov[2][c]) / det;
          fit.a[k][c][i] = static_cast<float>(a);
          b -= a * mean_I[k][i];
        }
        fit.b[c][i] = static_cast<float>(b);
      }
    }
  });
  return fit;
}

// Filters rows [a0, a1) of the image and writes output rows [y0, y1) (inside them) to `out`.
void filter_strip(const Tensor& guide, const Tensor& source, int64_t a0, int64_t a1, int64_t y0, int64_t y1,
                  int64_t r, double eps, float* out) {
  const int64_t w = guide.size(3), hw = guide.size(2) * w, h = a1 - a0;
  const RGB I = rows_of(guide, a0, a1);
  const Fit fit = fit_windows(I, rows_of(source, a0, a1), h, w, r, eps);
  // q = mean(a)^T I + mean(b): every window covering a pixel votes for its output.
  for (int c = 0; c < 3; ++c) {
    const Plane mb = box_mean(fit.b[c], h, w, r);
    RGB ma;
    for (int k = 0; k < 3; ++k) ma[k] = box_mean(fit.a[k][c], h, w, r);
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const size_t i = static_cast<size_t>((y - a0) * w + x);
        out[c * hw + y * w + x] = ma[0][i] * I[0][i] + ma[1][i] * I[1][i] + ma[2][i] * I[2][i] + mb[i];
      }
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
  const int64_t h = I.size(2);
  Tensor out = Tensor::empty(I.shape(), DType::Float32, I.device());
  // An output row depends on the fits within `radius` rows, each on pixels within `radius` more.
  const int64_t margin = 2 * radius;
  for (int64_t y0 = 0; y0 < h; y0 += strip_rows) {
    const int64_t y1 = std::min(h, y0 + strip_rows);
    filter_strip(I, p, std::max<int64_t>(0, y0 - margin), std::min(h, y1 + margin), y0, y1, radius, eps,
                 out.data<float>());
  }
  return out;
}

}  // namespace sn
