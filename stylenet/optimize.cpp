#include "stylenet/optimize.h"

#include <algorithm>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "optim/optim.h"
#include "tensor/error.h"

namespace sn {

Tensor optimize_image(const Vgg16& encoder, const Tensor& content, const std::vector<StyleImage>& styles,
                      const OptimizeOptions& opt_in, const std::function<void(int64_t, double)>& progress) {
  OptimizeOptions opt = opt_in;
  if (opt.loss.content_tap == StyleLossConfig{}.content_tap) opt.loss.content_tap = "relu3_1";
  SN_CHECK(!styles.empty(), "optimize: no style image");
  std::vector<std::string> taps = opt.loss.style_taps;
  if (std::find(taps.begin(), taps.end(), opt.loss.content_tap) == taps.end()) taps.push_back(opt.loss.content_tap);

  // Targets, computed once.
  Tensor content_target;
  std::vector<std::map<std::string, Tensor>> style_targets;
  double weight_sum = 0;
  {
    NoGradGuard ng;
    content_target = encoder.features(content, {opt.loss.content_tap}).at(opt.loss.content_tap);
    for (const StyleImage& s : styles) {
      style_targets.push_back(encoder.features(s.image, opt.loss.style_taps));
      weight_sum += s.weight;
    }
  }
  SN_CHECK(weight_sum > 0, "optimize: style weights sum to zero");

  SN_CHECK(!opt.init.defined() || opt.init.shape() == content.shape(), "optimize: the start image is ",
           shape_str(opt.init.shape()), ", the content ", shape_str(content.shape()));
  Tensor x = (opt.init.defined() ? opt.init : content).contiguous().clone_data();
  x.set_requires_grad(true);
  const LossWeights& w = opt.loss.weights;
  auto loss_fn = [&]() {
    const auto f = encoder.features(x, taps);
    Tensor loss = content_loss(f.at(opt.loss.content_tap), content_target) * w.content;
    for (size_t i = 0; i < styles.size(); ++i) {
      const double sw = styles[i].weight / weight_sum;
      for (const auto& tap : opt.loss.style_taps) {
        loss = loss + mean_std_loss(f.at(tap), style_targets[i].at(tap)) * (w.style * sw);
        if (w.gram > 0) loss = loss + gram_loss(f.at(tap), style_targets[i].at(tap)) * (w.gram * sw);
      }
    }
    if (w.tv > 0) loss = loss + total_variation(x) * w.tv;
    if (w.laplacian > 0) loss = loss + laplacian_loss(x, content, opt.loss.laplacian_pool) * w.laplacian;
    return loss;
  };

  if (opt.optimizer == ImageOptimizer::LBFGS) {
    LBFGS lbfgs({x}, LBFGSOptions{.lr = opt.lr > 0 ? opt.lr : 1.0});
    for (int64_t step = 1; step <= opt.steps; ++step) {
      const double l = lbfgs.step([&] {
        const Tensor loss = loss_fn();
        backward(loss);
        return loss;
      });
      if (progress) progress(step, l);
    }
  } else {
    Adam adam({x}, AdamOptions{.lr = opt.lr > 0 ? opt.lr : 0.02});
    for (int64_t step = 1; step <= opt.steps; ++step) {
      adam.zero_grad();
      const Tensor loss = loss_fn();
      backward(loss);
      adam.step();
      if (progress) progress(step, loss.item());
    }
  }
  NoGradGuard ng;
  Tensor result = clamp(x.detach(), 0.0, 1.0);
  if (opt.preserve_color) result = transfer_luminance(result, content);
  return result;
}

}  // namespace sn
