// Edge SSIM: does a stylized image keep the photo's structure? SSIM (Gaussian window, sigma 1.5)
// between the Sobel edge magnitudes of the two images' luma. 1 for the same edges; blur, shifts
// and lost edges score lower. What `stylenet eval` and the judge report beside the style scores.
#pragma once
#include "tensor/tensor.h"

namespace sn {

// SSIM of the Sobel edge magnitudes of two images [1, 3, H, W] (same size), in [-1, 1].
double edge_ssim(const Tensor& a, const Tensor& b);

}  // namespace sn
