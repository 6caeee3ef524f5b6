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
};

// The per-step loss callback gets (step, loss).
Tensor optimize_image(const Vgg16& encoder, const Tensor& content, const std::vector<StyleImage>& styles,
                      const OptimizeOptions& options = {},
                      const std::function<void(int64_t, double)>& progress = nullptr);

}  // namespace sn
