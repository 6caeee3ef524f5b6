#include "training/evaluate.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <utility>

#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "vision/data.h"
#include "vision/image.h"

namespace sn {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Timed {
  Tensor image;
  double seconds;
};

// One grid of pairs, its targets computed once, painted and scored by any method.
class Evaluation {
 public:
  Evaluation(const Vgg16& encoder, const StyleModel& model, const std::vector<Tensor>& contents,
             const std::vector<Tensor>& styles, const EvalOptions& opt)
      : encoder_(encoder), model_(model), opt_(opt) {
    for (const Tensor& c : contents) contents_.push_back(resize_image(c, opt.size, opt.size));
    for (const Tensor& s : styles) styles_.push_back(resize_image(s, opt.size, opt.size));
    cfg_ = opt.loss;
    cfg_.content_tap = model.config().tap;
    NoGradGuard ng;
    for (const Tensor& c : contents_) content_feats_.push_back(encoder.features(c, {cfg_.content_tap}).at(cfg_.content_tap));
    for (const Tensor& s : styles_) {
      style_feats_.push_back(encoder.features(s, cfg_.style_taps));
      style_grams_.emplace_back();
      for (const auto& t : cfg_.style_taps) style_grams_.back().push_back(gram(style_feats_.back().at(t)));
    }
  }

  EvalMethod run(Method method, const std::function<void(const std::string&)>& progress) {
    EvalMethod m{method, {}, {}, {}};
    for (size_t i = 0; i < contents_.size(); ++i) {
      m.results.emplace_back();
      m.scores.emplace_back();
      for (size_t j = 0; j < styles_.size(); ++j) {
        const Timed r = paint(method, i, j);
        PairScores s = score(r.image, i, j);
        s.seconds = r.seconds;
        m.results.back().push_back(r.image);
        m.scores.back().push_back(s);
        if (progress) progress(std::string(method_name(method)) + " " + std::to_string(i + 1) + "/" +
                               std::to_string(contents_.size()) + " x " + std::to_string(j + 1) + "/" +
                               std::to_string(styles_.size()));
      }
    }
    m.mean = average(m.scores);
    return m;
  }

 private:
  Timed paint(Method method, size_t i, size_t j) {
    const auto t0 = std::chrono::steady_clock::now();
    switch (method) {
      case Method::Optimize: return optimum(i, j);
      case Method::DecodedOptimize: {
        const Tensor& x = optimum(i, j).image;
        const auto t1 = std::chrono::steady_clock::now();  // the optimisation itself is not counted
        return {through_model(x, j), seconds_since(t1)};
      }
      case Method::Reconstruct: return {through_model(contents_[i], j), seconds_since(t0)};
      case Method::Refine: {
        OptimizeOptions oo = optimize_options(opt_.refine_steps);
        oo.init = feed_forward(method_info(Method::Learned), i, j);
        return {optimize_image(encoder_, contents_[i], {{styles_[j], 1.0}}, oo), seconds_since(t0)};
      }
      default: return {feed_forward(method_info(method), i, j), seconds_since(t0)};
    }
  }

  // The model lives on opt_.device (the caller moved it there); scores are computed on the host.
  Tensor stylize_on_device(const Tensor& image, size_t j, const StylizeOptions& so) const {
    return stylize(encoder_, model_, image.to(opt_.device), {{styles_[j].to(opt_.device), 1.0}}, so).to(Device{});
  }

  Tensor feed_forward(const MethodInfo& method, size_t i, size_t j) const {
    StylizeOptions so;
    so.method = *method.fusion;
    so.multi_level = method.multi_level;
    so.alpha = opt_.alpha;
    if (method.multi_level) so.level_alpha = opt_.level_alpha;
    so.tile = 0;
    return finish(stylize_on_device(contents_[i], j, so), contents_[i], {{styles_[j], 1.0}}, opt_.finish);
  }

  // The model's encoder and decoder alone (alpha 0: no fusion).
  Tensor through_model(const Tensor& image, size_t j) const {
    StylizeOptions so;
    so.alpha = 0;
    so.tile = 0;
    return stylize_on_device(image, j, so);
  }

  OptimizeOptions optimize_options(int64_t steps) const {
    OptimizeOptions oo;
    oo.steps = steps;
    oo.loss = cfg_;
    return oo;
  }

  // The optimisation's result for a pair, made once (Optimize and DecodedOptimize share it).
  const Timed& optimum(size_t i, size_t j) {
    const auto it = optima_.find({i, j});
    if (it != optima_.end()) return it->second;
    const auto t0 = std::chrono::steady_clock::now();
    OptimizeOptions oo = optimize_options(opt_.optimize_steps);
    if (opt_.optimize_coarse_to_fine)
      oo.coarse_sides = default_coarse_sides(std::min(contents_[i].size(2), contents_[i].size(3)));
    oo.max_seconds = opt_.optimize_max_seconds;
    const Tensor x = optimize_image(encoder_, contents_[i], {{styles_[j], 1.0}}, oo);
    return optima_[{i, j}] = {x, seconds_since(t0)};
  }

  PairScores score(const Tensor& y, size_t i, size_t j) const {
    NoGradGuard ng;
    const auto f = encoder_.features(y, loss_taps(cfg_));
    PairScores s;
    s.content = content_loss(f.at(cfg_.content_tap), content_feats_[i]).item();
    std::vector<Tensor> grams;
    for (const auto& t : cfg_.style_taps) {
      s.style_per_tap.push_back(mean_std_loss(f.at(t), style_feats_[j].at(t)).item());
      s.style += s.style_per_tap.back();
      grams.push_back(gram(f.at(t)));
    }
    // Gram distance to every style of the grid; the used one must be the nearest.
    size_t nearest = 0;
    double best = 0;
    for (size_t k = 0; k < styles_.size(); ++k) {
      double d = 0;
      for (size_t t = 0; t < grams.size(); ++t) d += mean(square(grams[t] - style_grams_[k][t])).item();
      if (k == j) s.gram = d;
      if (k == 0 || d < best) best = d, nearest = k;
    }
    s.identity = nearest == j ? 1.0 : 0.0;
    s.edge_ssim = edge_ssim(y, contents_[i]);
    return s;
  }

  static PairScores average(const std::vector<std::vector<PairScores>>& grid) {
    PairScores mean;
    double n = 0;
    for (const auto& row : grid)
      for (const PairScores& s : row) {
        mean.content += s.content;
        mean.style += s.style;
        mean.gram += s.gram;
        mean.identity += s.identity;
        mean.style_per_tap.resize(s.style_per_tap.size());
        for (size_t t = 0; t < s.style_per_tap.size(); ++t) mean.style_per_tap[t] += s.style_per_tap[t];
        mean.edge_ssim += s.edge_ssim;
        mean.seconds += s.seconds;
        ++n;
      }
    mean.content /= n, mean.style /= n, mean.gram /= n, mean.identity /= n, mean.edge_ssim /= n, mean.seconds /= n;
    for (double& v : mean.style_per_tap) v /= n;
    return mean;
  }

  const Vgg16& encoder_;
  const StyleModel& model_;
  const EvalOptions& opt_;
  StyleLossConfig cfg_;
  std::vector<Tensor> contents_, styles_, content_feats_;
  std::vector<std::map<std::string, Tensor>> style_feats_;
  std::vector<std::vector<Tensor>> style_grams_;  // [style][tap]
  std::map<std::pair<size_t, size_t>, Timed> optima_;
};

}  // namespace

HeldOutSet held_out_set(int64_t count) {
  const std::string root = data_root() + "/data/";
  return {evenly_spaced(holdout_split(list_images(root + "content"), kEvalHoldout, true), count),
          evenly_spaced(holdout_split(list_images(root + "style"), kEvalHoldout, true), count)};
}

std::vector<EvalMethod> evaluate_methods(const Vgg16& encoder, const StyleModel& model,
                                         const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                                         const EvalOptions& opt, const std::function<void(const std::string&)>& progress) {
  Evaluation evaluation(encoder, model, contents, styles, opt);
  std::vector<EvalMethod> out;
  for (Method m : opt.methods) out.push_back(evaluation.run(m, progress));
  return out;
}

std::string eval_table(const std::vector<EvalMethod>& methods, const std::vector<std::string>& style_taps) {
  std::ostringstream os;
  os << "| method | content loss | style loss |";
  for (const auto& t : style_taps) os << " " << t << " |";
  os << " Gram loss | edge SSIM | identity | s / image |\n|---|---:|---:|";
  for (size_t t = 0; t < style_taps.size(); ++t) os << "---:|";
  os << "---:|---:|---:|---:|\n";
  char buf[128];
  for (const auto& m : methods) {
    std::snprintf(buf, sizeof buf, "| %s | %.4f | %.4f |", method_name(m.method), m.mean.content, m.mean.style);
    os << buf;
    for (size_t t = 0; t < style_taps.size(); ++t) {
      std::snprintf(buf, sizeof buf, " %.5f |", t < m.mean.style_per_tap.size() ? m.mean.style_per_tap[t] : 0.0);
      os << buf;
    }
    std::snprintf(buf, sizeof buf, " %.3g | %.3f | %.0f %% | %.2f |\n", m.mean.gram, m.mean.edge_ssim,
                  100 * m.mean.identity, m.mean.seconds);
    os << buf;
  }
  return os.str();
}

Tensor contact_sheet(const std::vector<Tensor>& contents, const std::vector<Tensor>& styles,
                     const std::vector<std::vector<Tensor>>& results) {
  SN_CHECK(!contents.empty() && !styles.empty() && results.size() == contents.size(), "contact_sheet: empty or mismatched grid");
  const int64_t h = results[0][0].size(2), w = results[0][0].size(3);
  std::vector<Tensor> cells;
  cells.push_back(Tensor::ones({1, 3, h, w}));
  for (const Tensor& s : styles) cells.push_back(resize_image(s, h, w));
  for (size_t i = 0; i < contents.size(); ++i) {
    cells.push_back(resize_image(contents[i], h, w));
    for (const Tensor& r : results[i]) cells.push_back(r);
  }
  return image_grid(cells, static_cast<int64_t>(styles.size()) + 1);
}

}  // namespace sn
