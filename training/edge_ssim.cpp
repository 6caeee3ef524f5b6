#include "training/edge_ssim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/error.h"
#include "vision/image.h"

namespace sn {

namespace {

using Plane = std::vector<double>;

// Luma in float64 (the weights of vision/image.h), as one plane.
Plane luma_plane(const Tensor& img, int64_t& h, int64_t& w) {
  h = img.size(2);
  w = img.size(3);
  const auto v = img.contiguous().to_vector<float>();
  const int64_t n = h * w;
  Plane y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = kLumaWeights[0] * v[i] + kLumaWeights[1] * v[n + i] + kLumaWeights[2] * v[2 * n + i];
  return y;
}

Plane sobel_magnitude(const Plane& y, int64_t h, int64_t w) {
  Plane m(h * w);
  auto at = [&](int64_t r, int64_t c) {  // replicate the border
    r = std::clamp<int64_t>(r, 0, h - 1);
    c = std::clamp<int64_t>(c, 0, w - 1);
    return y[r * w + c];
  };
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const double gx = at(r - 1, c + 1) + 2 * at(r, c + 1) + at(r + 1, c + 1) - at(r - 1, c - 1) - 2 * at(r, c - 1) - at(r + 1, c - 1);
      const double gy = at(r + 1, c - 1) + 2 * at(r + 1, c) + at(r + 1, c + 1) - at(r - 1, c - 1) - 2 * at(r - 1, c) - at(r - 1, c + 1);
      m[r * w + c] = std::sqrt(gx * gx + gy * gy);
    }
  return m;
}

// One 1-D pass of SSIM's Gaussian window (sigma 1.5, radius 5, renormalised at the borders),
// along rows or along columns.
Plane blur_pass(const Plane& x, int64_t h, int64_t w, bool along_rows) {
  double k[11];
  for (int i = 0; i < 11; ++i) k[i] = std::exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5));
  const int64_t len = along_rows ? w : h, stride = along_rows ? 1 : w;
  Plane out(h * w);
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const int64_t pos = along_rows ? c : r;
      double s = 0, n = 0;
      for (int i = 0; i < 11; ++i) {
        const int64_t q = pos + i - 5;
        if (q >= 0 && q < len) s += k[i] * x[r * w + c + (i - 5) * stride], n += k[i];
      }
      out[r * w + c] = s / n;
    }
  return out;
}

// The separable 2-D window: rows, then columns.
Plane blur(const Plane& x, int64_t h, int64_t w) { return blur_pass(blur_pass(x, h, w, true), h, w, false); }

}  // namespace

double edge_ssim(const Tensor& a, const Tensor& b) {
  SN_CHECK(a.shape() == b.shape() && a.dim() == 4 && a.size(1) == 3, "edge_ssim: need two [1, 3, H, W] images of one size, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  int64_t h = 0, w = 0;
  const Plane ya = luma_plane(a, h, w), yb = luma_plane(b, h, w);  // sets h, w first
  const Plane ea = sobel_magnitude(ya, h, w), eb = sobel_magnitude(yb, h, w);
  Plane aa(h * w), bb(h * w), ab(h * w);
  for (int64_t i = 0; i < h * w; ++i) aa[i] = ea[i] * ea[i], bb[i] = eb[i] * eb[i], ab[i] = ea[i] * eb[i];
  const Plane ma = blur(ea, h, w), mb = blur(eb, h, w), saa = blur(aa, h, w), sbb = blur(bb, h, w), sab = blur(ab, h, w);
  // Constants for a dynamic range of 4 (Sobel magnitudes of [0, 1] images reach about 4 * sqrt 2).
  const double L = 4.0, c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
  double total = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    const double va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i], cov = sab[i] - ma[i] * mb[i];
    total += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) / ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
  }
  return total / static_cast<double>(h * w);
}

}  // namespace sn
