// A loss plot as an image, with no plotting library: each series is drawn as a polyline on a
// log10 y axis with light grid lines at powers of ten. The caller writes it with save_image().
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sn {

struct PlotSeries {
  std::string name;
  std::vector<double> values;  // one per step; non-positive values are skipped (log axis)
  float rgb[3];
};

// [1, 3, height, width] in [0, 1].
Tensor plot_series(const std::vector<PlotSeries>& series, int64_t width = 800, int64_t height = 400);

// A palette of distinct colours (Okabe-Ito's eight, colour-blind-friendly, then grey, brown and
// dark purple), cycled by index.
void palette_colour(size_t index, float rgb[3]);

}  // namespace sn
