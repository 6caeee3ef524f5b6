// Gatys-style transfer: optimise the image itself (starting from the content photo) so that its
// encoder features match the content's at the content tap and the styles' statistics at the
// style taps, with the same encoder and losses as the trained model. Slow (hundreds of encoder
// forward/backward passes) but needs no trained model: the quality reference for `stylenet eval`.
#pragma once
#include <functional>
#include <vector>

#include "stylenet/losses.h"
#include "stylenet/stylize.h"

namespace sn {

enum class ImageOptimizer { LBFGS, Adam };

struct OptimizeOptions {
  ImageOptimizer optimizer = ImageOptimizer::LBFGS;
  int64_t steps = 300;        // L-BFGS iterations or Adam steps
  double lr = 0.0;            // 0 = the optimizer's default (L-BFGS 1.0, Adam 0.02)
  // content_tap defaults to relu3_1 here (see optimize.cpp). Of the weights, content, style, gram,
  // tv and laplacian (vs the content photo) apply; photo would repeat content and is ignored.
  StyleLossConfig loss;
  bool preserve_color = false;
  // Where the image starts: empty = the content photo (Gatys). A feed-forward result makes the
  // optimisation a refinement of it (same objective, still measured against the photo).
  Tensor init;
  // Coarse to fine: the short sides of smaller scales to optimise first, each from the last one's
  // result upsampled (the content resized to match), then the full size; empty = full size only.
  // Large structures settle cheaply at the coarse scales, the full scale adds the fine texture.
  std::vector<int64_t> coarse_sides;
  // Stop after this many seconds (0: no limit). The time is shared among the scales in
  // proportion to their pixels, so each gets about the same number of steps; a scale whose time
  // is spent passes its result on, and the last always returns a full-size image.
  double max_seconds = 0;
};

// The short sides coarse_sides gets for a photo of short side `side` by default: halvings while
// they stay at least 128 pixels ({128, 256} for 512, {} for 200).
std::vector<int64_t> default_coarse_sides(int64_t side);

// The per-step callback gets (step, steps, loss), counted over all scales: opt.steps x scales in
// all (a scale cut short by max_seconds skips its rest).
using OptimizeProgress = std::function<void(int64_t, int64_t, double)>;
Tensor optimize_image(const Vgg16& encoder, const Tensor& content, const std::vector<StyleImage>& styles,
                      const OptimizeOptions& options = {}, const OptimizeProgress& progress = nullptr);

}  // namespace sn
