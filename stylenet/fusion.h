// Feature fusion for arbitrary style transfer: given content features C [N, c, h, w] and style
// features S [N or 1, c, h', w'] from the same encoder tap, produce target features t [N, c, h, w]
// that keep C's layout and take on S's statistics. A decoder turns t back into an image.
//
//   AdaIN   (Huang & Belongie 2017)  per-channel mean/std matching; no parameters; differentiable.
//   WCT     (Li et al. 2017)         whitening and colouring with the full c x c covariances; no
//                                    parameters; inference only (the eigendecomposition's gradient
//                                    is ill-conditioned at repeated eigenvalues).
//   Learned (Li et al. 2019, "LST")  a small network predicts a k x k transform from both inputs;
//                                    trainable and differentiable (stylenet/learned_fusion.h).
//                                    Started at WCT (FusionStart::WCT), it is WCT plus that
//                                    network's learned correction.
//
// Every method has exactly one implementation, the Fusion below, in two phases:
//   1. statistics: the content's whole-image statistics, accumulated over tiles (their own regions
//      only) in content_passes() passes, and each style's statistics;
//   2. apply: t for any tile of the content (margins included) from those statistics.
// A photo too large for memory goes through in tiles (stylenet/stylize.h) and gets the result of
// the whole image; the plain case is one tile (fuse()). Training, `stylize`, `eval` and the
// optimiser's feed-forward start all run this code, and the PyTorch twin checks it.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "stylenet/methods.h"
#include "tensor/tensor.h"

namespace sn {

class LearnedFusion;

// Regularises the statistics: std = sqrt(var + eps); covariances get eps on their diagonal and
// eigenvalues clamped to at least eps, so rank-deficient ones stay finite.
constexpr double kFusionEps = 1e-5;

// A rectangle [y0, y1) x [x0, x1) of a feature map; the default (y1 = x1 = -1) is all of it.
struct Window {
  int64_t y0 = 0, y1 = -1, x0 = 0, x1 = -1;
};

// What a fusion keeps of one style image: enough to fuse any content with it.
struct StyleStatistics {
  Tensor mean{};       // [N, c, 1, 1], every method
  Tensor std{};        // [N, c, 1, 1], AdaIN
  Tensor transform{};  // LST's T_s [N, k, k]: learned
  Tensor colouring{};  // cov^1/2 [N, c, c], float64: WCT, and the learned fusion started at WCT
};

// A style's transform bound to this content's statistics (Fusion::bind), one part per family.
struct BoundTransform {
  Tensor wct;      // [N, c, c + 1]: [colour_s whiten_c | mean_s - colour_s whiten_c mean_c]
  Tensor learned;  // [N, k, k]: T_s T_c
};

class Fusion {
 public:
  // `learned` is the trained module the Learned method runs (and only it needs one).
  static std::unique_ptr<Fusion> make(FusionMethod method, const LearnedFusion* learned = nullptr,
                                      double eps = kFusionEps);
  virtual ~Fusion() = default;

  // Phase 1, the content: in each of content_passes() passes, add every tile's features once
  // ([N, c, h, w] and the window of them that is the tile's own region), then end_pass().
  virtual int content_passes() const { return 1; }
  void add_content(const Tensor& features, const Window& own = {});
  void end_pass();
  // All passes over features that are the whole image.
  void set_content(const Tensor& features);

  // Phase 1, the styles, in any order with the content: a style's whole features, or statistics
  // made before (a collection model's built-in style), with a weight (weights are normalised).
  void add_style(const Tensor& S, double weight = 1.0);
  void add_style(StyleStatistics statistics, double weight = 1.0);
  virtual StyleStatistics style_statistics(const Tensor& S) const = 0;

  // Phase 2: t = alpha * sum_i w_i t_i(C) + (1 - alpha) * C for features C of any tile.
  Tensor apply(const Tensor& C, double alpha = 1.0) const;

 protected:
  struct Style {
    StyleStatistics stats;
    double weight;
    BoundTransform bound;  // from this content's statistics to this style (bind())
  };
  // One tile of a content pass: `own` is the tile's own region, cut from `features`.
  virtual void accumulate(int pass, const Tensor& features, const Tensor& own, const Window& window) = 0;
  // After pass `pass` has seen every tile.
  virtual void finish_pass(int pass) = 0;
  // The style's per-content transform, once both the content and the style are known.
  virtual BoundTransform bind(const StyleStatistics& style) const { return {}; }
  // Per-tile work that every style shares (centring; the learned compression).
  virtual Tensor prepare(const Tensor& C) const = 0;
  // One style's t for the tile whose features are C.
  virtual Tensor transfer(const Tensor& C, const Tensor& prepared, const Style& style) const = 0;

  int pass_ = 0;
  int64_t batch_ = -1, channels_ = -1;  // of the content (checked on every call)

 private:
  void check_features(const Tensor& F, const char* what, bool style) const;
  bool content_done() const { return pass_ == content_passes(); }
  std::vector<Style> styles_;
};

// The plain fusion of one content with one style: one tile, every pass.
Tensor fuse(FusionMethod method, const Tensor& C, const Tensor& S, const LearnedFusion* learned = nullptr,
            double eps = kFusionEps);
inline Tensor adain(const Tensor& C, const Tensor& S, double eps = kFusionEps) {
  return fuse(FusionMethod::AdaIN, C, S, nullptr, eps);
}
inline Tensor wct(const Tensor& C, const Tensor& S, double eps = kFusionEps) {
  return fuse(FusionMethod::WCT, C, S, nullptr, eps);
}

// Per-channel mean and standard deviation over H, W of F [N, c, h, w], each [N, c, 1, 1].
// std = sqrt(var + eps) with the unbiased variance (correction 1), as the reference AdaIN code
// (naoto0804/pytorch-AdaIN calc_mean_std) computes it, so needs h * w >= 2. Differentiable; the
// eps keeps the gradient of sqrt finite on a constant channel. What AdaIN's style side and the
// mean/std style loss use.
std::pair<Tensor, Tensor> channel_mean_std(const Tensor& F, double eps = kFusionEps);

// The part of F [N, c, h, w] inside `window` (all of F for the default window).
Tensor window_of(const Tensor& F, const Window& window);

}  // namespace sn
