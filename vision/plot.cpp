#include "vision/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sn {

void palette_colour(size_t index, float rgb[3]) {
  static const float kColours[][3] = {{0.90f, 0.62f, 0.00f}, {0.34f, 0.71f, 0.91f}, {0.00f, 0.62f, 0.45f},
                                      {0.80f, 0.47f, 0.65f}, {0.00f, 0.45f, 0.70f}, {0.84f, 0.37f, 0.00f},
                                      {0.94f, 0.89f, 0.26f}, {0.0f, 0.0f, 0.0f},
                                      // Past Okabe-Ito's eight: an adversarial run with the Laplacian
                                      // term logs nine series, with Gram and TV eleven.
                                      {0.55f, 0.55f, 0.55f}, {0.55f, 0.27f, 0.07f}, {0.45f, 0.10f, 0.55f}};
  const auto& c = kColours[index % (sizeof(kColours) / sizeof(kColours[0]))];
  std::copy(c, c + 3, rgb);
}

Tensor plot_series(const std::vector<PlotSeries>& series, int64_t width, int64_t height) {
  Tensor img = Tensor::ones({1, 3, height, width});
  float* p = img.data<float>();
  auto put = [&](int64_t x, int64_t y, const float rgb[3]) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    for (int c = 0; c < 3; ++c) p[(c * height + y) * width + x] = rgb[c];
  };
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t n = 0;
  for (const auto& s : series) {
    n = std::max(n, s.values.size());
    for (double v : s.values)
      if (v > 0 && std::isfinite(v)) lo = std::min(lo, std::log10(v)), hi = std::max(hi, std::log10(v));
  }
  if (n < 2 || !(lo <= hi)) return img;
  lo = std::floor(lo);
  hi = std::max(lo + 1, std::ceil(hi));
  const int64_t m = 10;  // margin in pixels
  auto px = [&](double i) { return m + static_cast<int64_t>(std::lround(i * (width - 2 * m - 1) / (n - 1))); };
  auto py = [&](double lv) { return height - 1 - m - static_cast<int64_t>(std::lround((lv - lo) * (height - 2 * m - 1) / (hi - lo))); };
  const float grid[3] = {0.85f, 0.85f, 0.85f};
  for (double d = lo; d <= hi; d += 1)
    for (int64_t x = m; x < width - m; ++x) put(x, py(d), grid);
  for (const auto& s : series) {
    int64_t last_x = -1, last_y = -1;
    for (size_t i = 0; i < s.values.size(); ++i) {
      const double v = s.values[i];
      if (!(v > 0) || !std::isfinite(v)) continue;
      const int64_t x = px(static_cast<double>(i)), y = py(std::log10(v));
      if (last_x >= 0) {  // a straight segment, stepped along its longer axis
        const int64_t steps = std::max(std::abs(x - last_x), std::abs(y - last_y));
        for (int64_t k = 0; k <= steps; ++k) {
          const double t = steps ? static_cast<double>(k) / steps : 0.0;
          put(last_x + std::lround(t * (x - last_x)), last_y + std::lround(t * (y - last_y)), s.rgb);
        }
      } else {
        put(x, y, s.rgb);
      }
      last_x = x;
      last_y = y;
    }
  }
  return img;
}

}  // namespace sn
