// Feature fusion for arbitrary style transfer: given content features C [N, c, h, w] and style
// features S [N, c, h', w'] from the same encoder tap (spatial sizes may differ), produce target
// features t [N, c, h, w] that keep C's layout and take on S's statistics. A decoder turns t back
// into an image. Three methods:
//
//   AdaIN   (Huang & Belongie 2017)  per-channel mean/std matching; no parameters; differentiable.
//   WCT     (Li et al. 2017)         whitening and colouring with the full c x c covariances;
//                                    no parameters; inference only (see wct()).
//   Learned (Li et al. 2019, "LST")  a small network predicts a k x k transformation from both
//                                    inputs; trainable, differentiable (LearnedFusion).
//
// Content/style strength is blended by callers: t' = alpha * t + (1 - alpha) * C.
// S may have batch 1 with C's batch N > 1 (one style for every content image) for AdaIN and WCT.
#pragma once
#include <memory>
#include <string>
#include <utility>

#include "layers/layers.h"

namespace sn {

enum class FusionMethod { Learned, AdaIN, WCT };

// "learned" | "lst", "adain", "wct" (case-insensitive); throws sn::Error naming the choices.
FusionMethod parse_fusion_method(const std::string& name);
// "learned", "adain", "wct": what parse_fusion_method accepts and checkpoints record.
std::string fusion_method_name(FusionMethod method);

// Per-channel mean and standard deviation over H, W of F [N, c, h, w], each [N, c, 1, 1].
// std = sqrt(var + eps) with the unbiased variance (correction 1), as the reference AdaIN code
// (naoto0804/pytorch-AdaIN calc_mean_std) computes it, so needs h * w >= 2. Differentiable; the
// eps keeps the gradient of sqrt finite on a constant channel.
std::pair<Tensor, Tensor> channel_mean_std(const Tensor& F, double eps = 1e-5);

// AdaIN: (C - mean(C)) / std(C) * std(S) + mean(S), per (n, channel), with channel_mean_std's
// definition of std. Built from autograd ops: gradients reach C and S.
Tensor adain(const Tensor& C, const Tensor& S, double eps = 1e-5);

// WCT: for each image, whitens the centred content features with the content covariance
// (E_c D_c^-1/2 E_c^T), colours them with the style covariance (E_s D_s^1/2 E_s^T) and adds the
// style mean. Covariances are the unbiased ones (divided by h*w - 1), computed in float64 with
// Eigen's SelfAdjointEigenSolver.
//
// Rank deficiency (fewer pixels than channels, dead ReLU channels): eps is added to both
// covariances' diagonals and eigenvalues are clamped to at least eps, so D^-1/2 stays finite;
// directions with no content variance are left at ~0 instead of being blown up. With eps much
// smaller than the eigenvalues the output covariance equals the style covariance.
//
// Inference only: the result is a new tensor with no autograd history (the eigendecomposition's
// gradient is ill-conditioned at repeated eigenvalues; training uses AdaIN or LearnedFusion).
// Output dtype is C's.
Tensor wct(const Tensor& C, const Tensor& S, double eps = 1e-5);

// The LST compressor branch ("CNN" in LST's libs/Matrix.py): three 3x3 convs with zero padding 1
// (c -> c/2 -> c/4 -> k, ReLU between), then the k x k covariance of the result divided by h*w,
// flattened, through Linear(k*k, k*k). Output [N, k*k]. Keys: convs.{0,2,4}.{weight,bias},
// fc.{weight,bias}, as LST's.
class LstBranch : public Module {
 public:
  LstBranch(int64_t channels, int64_t k, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  std::shared_ptr<Sequential> convs;
  std::shared_ptr<Linear> fc;

 private:
  int64_t channels_, k_;
};

// LST's MulLayer (Li et al. 2019, "Learning Linear Transformations for Fast Arbitrary Style
// Transfer"), parameter for parameter:
//   Cc = C - mean_hw(C),  Sc = S - mean_hw(S)
//   T_c = cnet(Cc), T_s = snet(Sc)        each [N, k, k] (LstBranch, reshaped)
//   z = compress(Cc)                      1x1 conv c -> k, [N, k, h*w]
//   t = unzip(T_s T_c z) + mean_hw(S)     1x1 conv k -> c
// LST compresses only the content (the style enters through T_s alone). Submodule keys, in this
// order: snet, cnet, compress, unzip, as LST's state_dict. Fully differentiable. S needs the same
// batch size as C. Channels must be >= 4 (the branches use c/2 and c/4 channels).
class LearnedFusion : public Module {
 public:
  static constexpr int64_t kDefaultK = 32;

  explicit LearnedFusion(int64_t channels, int64_t k = kDefaultK, Generator* gen = nullptr);

  // The fused features t [N, c, h, w].
  Tensor fuse(const Tensor& C, const Tensor& S);
  // The k x k transformation T_s T_c [N, k, k] that fuse() applies (what LST calls transmatrix).
  Tensor transform(const Tensor& C, const Tensor& S);
  // Module::forward has one input; fusion needs two. Throws, pointing at fuse().
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t channels() const { return channels_; }
  int64_t k() const { return k_; }

  std::shared_ptr<LstBranch> snet, cnet;
  std::shared_ptr<Conv2d> compress, unzip;

 private:
  Tensor transform_centred(const Tensor& Cc, const Tensor& Sc);
  int64_t channels_, k_;
};

}  // namespace sn
