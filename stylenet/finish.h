// What the feed-forward methods do to a decoded picture before a user sees it: edge-aware
// smoothing with the photo as guide, then the style's colours. Both are per-picture steps with no
// training and no encoder; `paint` (the command, the C API), `eval` and `judge score` run them,
// `stylize` does not (it stays decode(fuse(C, S)), the engine's building block that the PyTorch
// twin checks).
//
// Why (held-out pairs, README "Finishing"): the decoders draw the style's grain everywhere and
// coloured rims along strong edges. The guided filter keeps only what is locally an affine function
// of the photo's colours, so the grain and rims go and the photo's contours stay; that also pulls
// the picture's fine statistics back towards the photo, which the colour match then restores.
#pragma once
#include <vector>

#include "stylenet/stylize.h"

namespace sn {

struct FinishOptions {
  // Guided-filter radius in pixels per 256 px of the photo's shorter side (at least 1 px); 0: no
  // smoothing. Chosen on the held-out pairs at 256 and 512 px (README "Finishing").
  double smooth = 2;
  double smooth_eps = 1e-3;  // the filter's edge threshold, a local variance of [0, 1] values
  bool match_colors = true;  // give the picture the styles' RGB mean and covariance
  // Neither step: the decoder's output as it is.
  static FinishOptions none() {
    FinishOptions off;
    off.smooth = 0;
    off.match_colors = false;
    return off;
  }
};

// The (weight-blended) styles' RGB mean and covariance on `image` [1, 3, H, W]: WCT on the pixels,
// one 3 x 3 affine colour map for the whole picture, so it moves the palette and adds no texture.
Tensor match_colors(const Tensor& image, const std::vector<StyleImage>& styles);

// stylized, photo [1, 3, H, W] in [0, 1] (the photo at the picture's size) -> the finished picture
// in [0, 1], on the host. With no styles (a collection model's built-in style) there are no colours
// to match: smoothing only.
Tensor finish(const Tensor& stylized, const Tensor& photo, const std::vector<StyleImage>& styles,
              const FinishOptions& options);

}  // namespace sn
