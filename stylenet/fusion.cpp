#include "stylenet/fusion.h"

#include "autograd/ops.h"
#include "stylenet/fusion_impl.h"
#include "tensor/error.h"

namespace sn {

std::unique_ptr<Fusion> Fusion::make(FusionMethod method, const LearnedFusion* learned, double eps) {
  SN_CHECK(eps > 0, "fusion: eps must be positive (it regularises rank-deficient statistics)");
  switch (method) {
    case FusionMethod::AdaIN: return make_adain_fusion(eps);
    case FusionMethod::WCT: return make_wct_fusion(eps);
    case FusionMethod::Learned:
      SN_CHECK(learned, "fusion: the learned method needs a LearnedFusion (a model's W)");
      return make_learned_fusion(*learned, eps);
  }
  throw Error("fusion: unknown method");
}

void Fusion::check_features(const Tensor& F, const char* what, bool style) const {
  SN_CHECK(F.defined() && F.dim() == 4, "fusion: expected ", what, " features [N, c, h, w], got ",
           F.defined() ? shape_str(F.shape()) : "none");
  if (channels_ < 0) return;
  SN_CHECK(F.size(1) == channels_, "fusion: content has ", channels_, " channels, ", what, " ", F.size(1));
  SN_CHECK(F.size(0) == batch_ || (style && F.size(0) == 1), "fusion: ", what, " batch ", F.size(0),
           " does not match content batch ", batch_, style ? " (nor is it 1)" : "");
}

void Fusion::add_content(const Tensor& features, const Window& own) {
  SN_CHECK(!content_done(), "fusion: the content was already complete (", content_passes(), " passes)");
  check_features(features, "content", false);
  batch_ = features.size(0);
  channels_ = features.size(1);
  accumulate(pass_, features, window_of(features, own), own);
}

void Fusion::end_pass() {
  SN_CHECK(!content_done(), "fusion: end_pass after the last content pass");
  SN_CHECK(batch_ >= 0, "fusion: a content pass with no tiles");
  finish_pass(pass_++);
  if (!content_done()) return;
  for (Style& s : styles_) {
    check_features(s.stats.mean, "style", true);
    s.bound = bind(s.stats);
  }
}

void Fusion::set_content(const Tensor& features) {
  while (!content_done()) {
    add_content(features);
    end_pass();
  }
}

void Fusion::add_style(const Tensor& S, double weight) { add_style(style_statistics(S), weight); }

void Fusion::add_style(StyleStatistics statistics, double weight) {
  SN_CHECK(weight >= 0, "fusion: style weights must be >= 0, got ", weight);
  Style s{std::move(statistics), weight, {}};
  if (content_done()) {
    check_features(s.stats.mean, "style", true);
    s.bound = bind(s.stats);
  }
  styles_.push_back(std::move(s));
}

Tensor Fusion::apply(const Tensor& C, double alpha) const {
  SN_CHECK(content_done(), "fusion: apply before the content's statistics are complete");
  SN_CHECK(!styles_.empty(), "fusion: no style");
  SN_CHECK(alpha >= 0 && alpha <= 1, "fusion: alpha must be in [0, 1], got ", alpha);
  check_features(C, "content", false);
  double weight_sum = 0;
  for (const Style& s : styles_) weight_sum += s.weight;
  SN_CHECK(weight_sum > 0, "fusion: style weights sum to zero");
  const Tensor prepared = prepare(C);
  Tensor t;
  for (const Style& s : styles_) {
    const Tensor ti = transfer(C, prepared, s);
    if (styles_.size() == 1) t = ti;
    else t = t.defined() ? t + ti * (s.weight / weight_sum) : ti * (s.weight / weight_sum);
  }
  return alpha < 1 ? t * alpha + C * (1 - alpha) : t;
}

Tensor fuse(FusionMethod method, const Tensor& C, const Tensor& S, const LearnedFusion* learned, double eps) {
  const std::unique_ptr<Fusion> f = Fusion::make(method, learned, eps);
  SN_CHECK(C.defined() && S.defined() && C.dtype() == S.dtype(), "fusion: content and style dtypes differ");
  f->set_content(C);
  f->add_style(S);
  return f->apply(C);
}

std::pair<Tensor, Tensor> channel_mean_std(const Tensor& F, double eps) {
  SN_CHECK(F.defined() && F.dim() == 4, "channel_mean_std: expected [N, c, h, w]");
  SN_CHECK(F.size(2) * F.size(3) >= 2, "channel_mean_std: the unbiased std needs at least 2 pixels, got ",
           F.size(2), "x", F.size(3));
  const Tensor m = mean(F, {2, 3}, true);
  const Tensor s = sqrt(add_scalar(var(F, {2, 3}, 1, true), eps));
  return {m, s};
}

Tensor window_of(const Tensor& F, const Window& w) {
  const int64_t h = F.size(2), wd = F.size(3);
  const int64_t y1 = w.y1 < 0 ? h : w.y1, x1 = w.x1 < 0 ? wd : w.x1;
  SN_CHECK(0 <= w.y0 && w.y0 < y1 && y1 <= h && 0 <= w.x0 && w.x0 < x1 && x1 <= wd, "fusion: window [", w.y0, ", ",
           y1, ") x [", w.x0, ", ", x1, ") is not inside a ", h, "x", wd, " feature map");
  if (w.y0 == 0 && y1 == h && w.x0 == 0 && x1 == wd) return F;
  return slice(slice(F, 2, w.y0, y1), 3, w.x0, x1);
}

}  // namespace sn
