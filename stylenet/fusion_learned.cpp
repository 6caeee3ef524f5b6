// The learned fusion (LST, stylenet/learned_fusion.h) as a two-phase Fusion. The content side
// needs two passes: the mean first, then cnet's k x k covariance of the centred content's conv
// features (its convs are local, so each tile's margin covers them; only the covariance is
// global). The style side is LST's snet on the whole style. Differentiable throughout, except
// for the WCT part of a fusion started at WCT (no parameters; the encoder's features need no
// gradient).
#include <optional>

#include "autograd/ops.h"
#include "stylenet/fusion_impl.h"
#include "stylenet/learned_fusion.h"
#include "tensor/error.h"

namespace sn {

namespace {

class LearnedFusionImpl : public Fusion {
 public:
  explicit LearnedFusionImpl(const LearnedFusion& module, double eps) : m_(module) {
    if (module.start() == FusionStart::WCT) wct_.emplace(eps);
  }

  int content_passes() const override { return 2; }

  StyleStatistics style_statistics(const Tensor& S) const override {
    SN_CHECK(S.defined() && S.dim() == 4 && S.size(1) == m_.channels(), "LearnedFusion: built for ", m_.channels(),
             " channels, got style features ", S.defined() ? shape_str(S.shape()) : "none");
    const Tensor s_mean = mean(S, {2, 3}, true);
    StyleStatistics stats = wct_ ? wct_style_statistics(S, wct_->eps()) : StyleStatistics{.mean = s_mean};
    stats.transform = reshape(m_.snet->forward(S - s_mean), {S.size(0), m_.k(), m_.k()});
    return stats;
  }

 protected:
  void accumulate(int pass, const Tensor& features, const Tensor& own, const Window& window) override {
    SN_CHECK(features.size(1) == m_.channels(), "LearnedFusion: built for ", m_.channels(), " channels, got ",
             features.size(1));
    if (pass == 0) {  // the mean, weighted by each tile's pixels
      if (wct_) wct_->add(own);
      const double n = static_cast<double>(own.size(2) * own.size(3));
      const Tensor m = mean(own, {2, 3}, true);
      means_.emplace_back(m, n);
      n_ += n;
      return;
    }
    const Tensor f = window_of(m_.cnet->convs->forward(features - mean_), window);
    const Tensor moments = LstBranch::second_moments(f);
    moments_ = moments_.defined() ? moments_ + moments : moments;
  }

  void finish_pass(int pass) override {
    if (pass == 0) {
      if (wct_) wct_->finish();
      mean_ = means_[0].first;
      if (means_.size() > 1) {
        mean_ = mean_ * (means_[0].second / n_);
        for (size_t i = 1; i < means_.size(); ++i) mean_ = mean_ + means_[i].first * (means_[i].second / n_);
      }
      means_.clear();
      return;
    }
    Tc_ = reshape(m_.cnet->from_covariance(moments_ / n_), {batch_, m_.k(), m_.k()});
  }

  BoundTransform bind(const StyleStatistics& style) const override {
    SN_CHECK(!wct_ || style.colouring.defined(),
             "LearnedFusion: this W starts at WCT and needs the style's covariance (a collection style has none)");
    return {wct_ ? wct_->bind(style) : Tensor(), matmul(style.transform, Tc_)};
  }

  Tensor prepare(const Tensor& C) const override {
    return reshape(m_.compress->forward(C - mean_), {C.size(0), m_.k(), C.size(2) * C.size(3)});
  }

  Tensor transfer(const Tensor& C, const Tensor& z, const Style& s) const override {
    const Tensor learned = m_.unzip->forward(reshape(matmul(s.bound.learned, z), {C.size(0), m_.k(), C.size(2), C.size(3)}));
    if (!wct_) return learned + s.stats.mean;
    return wct_transfer(C, reshape(C, {C.size(0), C.size(1), C.size(2) * C.size(3)}), s.bound.wct) + learned;
  }

 private:
  const LearnedFusion& m_;
  std::optional<WctContent> wct_;  // started at WCT
  std::vector<std::pair<Tensor, double>> means_;  // pass 0: each tile's mean and pixel count
  double n_ = 0;
  Tensor mean_, moments_, Tc_;
};

}  // namespace

std::unique_ptr<Fusion> make_learned_fusion(const LearnedFusion& module, double eps) {
  return std::make_unique<LearnedFusionImpl>(module, eps);
}

}  // namespace sn
