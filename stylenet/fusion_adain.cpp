// AdaIN (Huang & Belongie 2017): t = (C - mean_C) / std_C * std_S + mean_S per (image, channel),
// with channel_mean_std's statistics. The content's mean and variance are combined over tiles
// with Chan et al.'s pairwise update (each tile's own centred sum of squares, then a correction
// for the difference of means), which is exact in real arithmetic and, unlike sum-of-squares
// minus squared sum, does not cancel in float32. Built from autograd ops: gradients reach C and S.
#include "autograd/ops.h"
#include "stylenet/fusion_impl.h"
#include "tensor/error.h"

namespace sn {

namespace {

class AdaINFusion : public Fusion {
 public:
  explicit AdaINFusion(double eps) : eps_(eps) {}

  StyleStatistics style_statistics(const Tensor& S) const override {
    const auto [m, s] = channel_mean_std(S, eps_);
    return {.mean = m, .std = s};
  }

 protected:
  void accumulate(int, const Tensor&, const Tensor& own, const Window&) override {
    const double n = static_cast<double>(own.size(2) * own.size(3));
    const Tensor m = mean(own, {2, 3}, true);
    const Tensor m2 = var(own, {2, 3}, 0, true) * n;  // the tile's centred sum of squares
    if (n_ == 0) {
      mean_ = m, m2_ = m2, n_ = n;
      return;
    }
    const Tensor delta = m - mean_;
    const double total = n_ + n;
    mean_ = mean_ + delta * (n / total);
    m2_ = m2_ + m2 + square(delta) * (n_ * n / total);
    n_ = total;
  }

  void finish_pass(int) override {
    SN_CHECK(n_ >= 2, "adain: the unbiased std needs at least 2 pixels of content features");
    std_ = sqrt(add_scalar(m2_ / (n_ - 1), eps_));
  }

  Tensor prepare(const Tensor& C) const override { return (C - mean_) / std_; }

  Tensor transfer(const Tensor&, const Tensor& normalised, const Style& s) const override {
    return normalised * s.stats.std + s.stats.mean;
  }

 private:
  double eps_;
  double n_ = 0;
  Tensor mean_, m2_, std_;
};

}  // namespace

std::unique_ptr<Fusion> make_adain_fusion(double eps) { return std::make_unique<AdaINFusion>(eps); }

}  // namespace sn
