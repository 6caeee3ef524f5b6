// Measuring stylization quality on a grid of content x style pairs, for `stylenet eval`:
//
//   content loss  content_loss of the result's encoder features vs the photo's, at the model tap
//   style loss    sum over the style taps of mean_std_loss vs the artwork's (the trained objective)
//   Gram loss     sum over the style taps of gram_loss vs the artwork's (a second witness)
//   edge SSIM     training/edge_ssim.h: does the content's structure survive?
//   identity      is the artwork whose Gram matrices (summed gram_loss over the style taps) are
//                 nearest the result's the one that was used, among the grid's styles?
//
// Every method of stylenet/methods.h is measured with the same encoder and the same definitions,
// so the table compares the trained model with AdaIN, WCT and Gatys-style optimisation on equal
// terms, and the diagnostics tell which part of a model limits it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "stylenet/finish.h"
#include "stylenet/methods.h"
#include "stylenet/optimize.h"
#include "stylenet/stylize.h"
#include "training/edge_ssim.h"

namespace sn {

struct PairScores {
  double content = 0, style = 0, gram = 0, edge_ssim = 0, seconds = 0;
  double identity = 0;  // 1 when the nearest style by Gram distance is the one used (the mean: the rate)
  std::vector<double> style_per_tap;  // the style loss's terms, in StyleLossConfig::style_taps order
};

struct EvalMethod {
  Method method;
  std::vector<std::vector<Tensor>> results;  // [content][style] images
  std::vector<std::vector<PairScores>> scores;
  PairScores mean;
};

struct EvalOptions {
  std::vector<Method> methods = {Method::LearnedMultiLevel, Method::MultiLevel, Method::Learned, Method::AdaIN,
                                 Method::WCT, Method::Optimize};
  int64_t size = 256;           // contents and styles resized to size x size
  int64_t optimize_steps = 100; // L-BFGS iterations per pair for Optimize (and DecodedOptimize)
  int64_t refine_steps = 10;    // L-BFGS iterations per pair for Refine, from the model's result
  bool optimize_coarse_to_fine = false;  // Optimize as stylize runs it (default_coarse_sides); else full size only
  double optimize_max_seconds = 0;       // per pair, shared among the scales (OptimizeOptions::max_seconds)
  StyleLossConfig loss;         // taps and weights (content_tap set to the model's tap)
  double alpha = 1.0;               // the feed-forward methods' strength at the model's tap (StylizeOptions)
  std::vector<double> level_alpha;  // the multi-level methods' strength per shallower level (StylizeOptions)
  FinishOptions finish;             // what `stylize` does after decoding, for the feed-forward methods
  Device device;  // where the feed-forward methods run (the model must be there); the rest on the CPU
};

// The held-out protocol: every kEvalHoldout-th photo and artwork of ../shared/data (holdout_split,
// index % kEvalHoldout == 0 of each sorted folder), which no shipped model trained on apart from
// what models/README.md names, then `count` of each evenly spaced.
constexpr int64_t kEvalHoldout = 10;
struct HeldOutSet {
  std::vector<std::string> contents, styles;
};
HeldOutSet held_out_set(int64_t count);

// Rows in the order of options.methods. `progress` gets a line such as "wct 2/6 x 3/6".
// DecodedOptimize's time leaves out the optimisation it decodes; the optimum of each pair is
// made once and shared by Optimize and DecodedOptimize.
std::vector<EvalMethod> evaluate_methods(const Vgg16& encoder, const StyleModel& model,
                                         const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                                         const EvalOptions& options,
                                         const std::function<void(const std::string&)>& progress = nullptr);

// Markdown table: one row per method with mean content loss, style loss and its term per style
// tap, Gram loss, edge SSIM, identity rate, s/image.
std::string eval_table(const std::vector<EvalMethod>& methods, const std::vector<std::string>& style_taps);

// Contact sheet: top row the styles, left column the contents, the method's results in between.
Tensor contact_sheet(const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                     const std::vector<std::vector<Tensor>>& results);

}  // namespace sn
