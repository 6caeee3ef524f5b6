// The guided image filter (He, Sun and Tang, "Guided Image Filtering", TPAMI 2013), colour-guide
// form: within every (2r+1)^2 window the output is an affine function of the guide's RGB, fitted to
// the source by ridge regression (eps), and the fits of all windows covering a pixel are averaged.
// Where the guide is flat the source is smoothed; where the guide has an edge the output has one,
// in the same place. Stylization runs it with the photo as guide (stylenet/finish.h), as Li et al.
// 2018 ("A Closed-form Solution to Photorealistic Image Stylization") do in their fast smoothing
// step: the decoder's grain and coloured halos go, the photo's contours stay.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace sn {

// guide, source [1, 3, H, W] float32 on the CPU -> [1, 3, H, W]. radius >= 1; eps > 0 in squared
// value units (pixels in [0, 1]): edges whose local guide variance is well above eps are kept.
// Windows are clipped at the borders. Runs in strips of `strip_rows` output rows (each with the
// 2 * radius rows it depends on), so memory grows with the width, not the area; the strips give the
// whole image's result to float rounding. O(H W) for any radius; threads give the same bits.
Tensor guided_filter(const Tensor& guide, const Tensor& source, int64_t radius, double eps, int64_t strip_rows = 256);

}  // namespace sn
