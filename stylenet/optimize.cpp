#include "stylenet/optimize.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "optim/optim.h"
#include "tensor/error.h"
#include "vision/image.h"

namespace sn {

namespace {

using Clock = std::chrono::steady_clock;

// What the styles ask for, the same at every scale: each style's features at the style taps and
// its weight, normalised to sum to 1.
struct StyleTargets {
  std::vector<std::map<std::string, Tensor>> features;
  std::vector<double> weights;
};

StyleTargets style_targets(const Vgg16& encoder, const std::vector<StyleImage>& styles, const StyleLossConfig& loss) {
  NoGradGuard ng;
  StyleTargets t;
  double weight_sum = 0;
  for (const StyleImage& s : styles) {
    t.features.push_back(encoder.features(s.image, loss.style_taps));
    t.weights.push_back(s.weight);
    weight_sum += s.weight;
  }
  SN_CHECK(weight_sum > 0, "optimize: style weights sum to zero");
  for (double& w : t.weights) w /= weight_sum;
  return t;
}

// One scale: the objective against `content`, from `start`, for opt.steps iterations or until
// `deadline`. Returns the unclamped image.
Tensor optimize_scale(const Vgg16& encoder, const Tensor& content, const StyleTargets& styles,
                      const OptimizeOptions& opt, const Tensor& start, std::optional<Clock::time_point> deadline,
                      const std::function<void(int64_t, double)>& progress) {
  const std::vector<std::string> taps = loss_taps(opt.loss);
  Tensor content_target;
  {
    NoGradGuard ng;
    content_target = encoder.features(content, {opt.loss.content_tap}).at(opt.loss.content_tap);
  }

  Tensor x = start.contiguous().clone_data();
  x.set_requires_grad(true);
  const LossWeights& w = opt.loss.weights;
  auto loss_fn = [&]() {
    const auto f = encoder.features(x, taps);
    Tensor loss = content_loss(f.at(opt.loss.content_tap), content_target) * w.content;
    for (size_t i = 0; i < styles.features.size(); ++i) {
      const double sw = styles.weights[i];
      for (const auto& tap : opt.loss.style_taps) {
        loss = loss + mean_std_loss(f.at(tap), styles.features[i].at(tap)) * (w.style * sw);
        if (w.gram > 0) loss = loss + gram_loss(f.at(tap), styles.features[i].at(tap)) * (w.gram * sw);
      }
    }
    if (w.tv > 0) loss = loss + total_variation(x) * w.tv;
    if (w.laplacian > 0) loss = loss + laplacian_loss(x, content, opt.loss.laplacian_pool) * w.laplacian;
    return loss;
  };
  const auto out_of_time = [&] { return deadline && Clock::now() >= *deadline; };

  if (opt.optimizer == ImageOptimizer::LBFGS) {
    LBFGS lbfgs({x}, LBFGSOptions{.lr = opt.lr > 0 ? opt.lr : 1.0});
    for (int64_t step = 1; step <= opt.steps && !out_of_time(); ++step) {
      const double l = lbfgs.step([&] {
        const Tensor loss = loss_fn();
        backward(loss);
        return loss;
      });
      if (progress) progress(step, l);
    }
  } else {
    Adam adam({x}, AdamOptions{.lr = opt.lr > 0 ? opt.lr : 0.02});
    for (int64_t step = 1; step <= opt.steps && !out_of_time(); ++step) {
      adam.zero_grad();
      const Tensor loss = loss_fn();
      backward(loss);
      adam.step();
      if (progress) progress(step, loss.item());
    }
  }
  return x.detach();
}

}  // namespace

std::vector<int64_t> default_coarse_sides(int64_t side) {
  std::vector<int64_t> sides;
  for (int64_t s = side / 2; s >= 128; s /= 2) sides.insert(sides.begin(), s);
  return sides;
}

Tensor optimize_image(const Vgg16& encoder, const Tensor& content, const std::vector<StyleImage>& styles,
                      const OptimizeOptions& opt_in, const OptimizeProgress& progress) {
  OptimizeOptions opt = opt_in;
  if (opt.loss.content_tap == StyleLossConfig{}.content_tap) opt.loss.content_tap = "relu3_1";
  SN_CHECK(!styles.empty(), "optimize: no style image");
  SN_CHECK(!opt.init.defined() || opt.init.shape() == content.shape(), "optimize: the start image is ",
           shape_str(opt.init.shape()), ", the content ", shape_str(content.shape()));
  SN_CHECK(opt.max_seconds >= 0, "optimize: max_seconds must be >= 0");
  const int64_t H = content.size(2), W = content.size(3), side = std::min(H, W);
  // Every scale's content: the coarse ones (smaller than the photo, increasing), then the photo.
  std::vector<Tensor> contents;
  for (int64_t s : opt.coarse_sides) {
    SN_CHECK(s > 0, "optimize: coarse sides must be positive");
    if (s < side && (contents.empty() || s > std::min(contents.back().size(2), contents.back().size(3))))
      contents.push_back(resize_short_side(content, s));
  }
  contents.push_back(content);
  double pixels_left = 0;
  for (const Tensor& c : contents) pixels_left += static_cast<double>(c.size(2) * c.size(3));

  const StyleTargets targets = style_targets(encoder, styles, opt.loss);
  const Clock::time_point t0 = Clock::now();
  const Tensor start = opt.init.defined() ? opt.init : content;
  Tensor x;
  for (size_t i = 0; i < contents.size(); ++i) {
    const Tensor& c = contents[i];
    const Tensor from = x.defined() ? resize_image(x, c.size(2), c.size(3))
                                    : (i + 1 == contents.size() ? start : resize_image(start, c.size(2), c.size(3)));
    std::optional<Clock::time_point> deadline;
    const double pixels = static_cast<double>(c.size(2) * c.size(3));
    if (opt.max_seconds > 0) {
      const double left = opt.max_seconds - std::chrono::duration<double>(Clock::now() - t0).count();
      deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(std::max(0.0, left) * pixels / pixels_left));
    }
    pixels_left -= pixels;
    const int64_t offset = static_cast<int64_t>(i) * opt.steps, total = static_cast<int64_t>(contents.size()) * opt.steps;
    x = optimize_scale(encoder, c, targets, opt, from, deadline,
                       progress ? [&](int64_t step, double l) { progress(offset + step, total, l); }
                                : std::function<void(int64_t, double)>());
  }
  NoGradGuard ng;
  Tensor result = clamp(x, 0.0, 1.0);
  if (opt.preserve_color) result = transfer_luminance(result, content);
  return result;
}

}  // namespace sn
