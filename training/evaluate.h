// Measuring stylization quality on a grid of content x style pairs, for `stylenet eval`:
//
//   content loss  content_loss of the result's encoder features vs the photo's, at the model tap
//   style loss    sum over the style taps of mean_std_loss vs the artwork's (the trained objective)
//   edge SSIM     SSIM (Gaussian window, sigma 1.5) between the Sobel edge magnitudes of the
//                 result's and the photo's luma: does the content's structure survive?
//
// Every method is measured with the same encoder and the same definitions, so the table compares
// the trained model with AdaIN, WCT and Gatys-style optimisation on equal terms.
#pragma once
#include <string>
#include <vector>

#include "stylenet/optimize.h"
#include "stylenet/stylize.h"

namespace sn {

// SSIM of the Sobel edge magnitudes of two images [1, 3, H, W] (same size), in [-1, 1].
double edge_ssim(const Tensor& a, const Tensor& b);

struct PairScores {
  double content = 0, style = 0, edge_ssim = 0, seconds = 0;
  std::vector<double> style_per_tap;  // the style loss's terms, in StyleLossConfig::style_taps order
};

struct EvalMethod {
  std::string name;  // one of eval_method_names()
  std::vector<std::vector<Tensor>> results;  // [content][style] images
  std::vector<std::vector<PairScores>> scores;
  PairScores mean;
};

// What `stylenet eval` can score. The first five are ways to stylize ("refine": the learned
// model's result, then refine_steps of the optimisation from there); the last two diagnose a
// model (which of its parts limits it) and use no fusion:
//   decoded-optimize  the optimisation's result encoded at the model's tap and decoded by the
//                     model's decoder: what any fusion in front of this decoder would give if it
//                     predicted the optimum's features exactly. Its time leaves out the optimisation.
//   reconstruct       the photo encoded and decoded (alpha 0): the structure the decoder keeps.
const std::vector<std::string>& eval_method_names();

struct EvalOptions {
  std::vector<std::string> methods = {"learned", "adain", "wct", "optimize"};
  int64_t size = 256;           // contents and styles resized to size x size
  int64_t optimize_steps = 100; // L-BFGS iterations per pair for "optimize"
  int64_t refine_steps = 10;    // L-BFGS iterations per pair for "refine", from the model's result
  StyleLossConfig loss;         // taps and weights (content_tap set to the model's tap)
};

std::vector<EvalMethod> evaluate_methods(const Vgg16& encoder, const StyleModel& model,
                                         const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                                         const EvalOptions& options,
                                         const std::function<void(const std::string&)>& progress = nullptr);

// Markdown table: one row per method with mean content loss, style loss and its term per style
// tap, edge SSIM, s/image.
std::string eval_table(const std::vector<EvalMethod>& methods, const std::vector<std::string>& style_taps);

// Contact sheet: top row the styles, left column the contents, the method's results in between.
Tensor contact_sheet(const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                     const std::vector<std::vector<Tensor>>& results);

}  // namespace sn
