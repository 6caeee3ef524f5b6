// The learned fusion's parameters: LST's MulLayer (Li et al. 2019, "Learning Linear
// Transformations for Fast Arbitrary Style Transfer"), parameter for parameter:
//   Cc = C - mean_hw(C),  Sc = S - mean_hw(S)
//   T_c = cnet(Cc), T_s = snet(Sc)        each [N, k, k] (LstBranch, reshaped)
//   z = compress(Cc)                      1x1 conv c -> k, [N, k, h*w]
//   t = unzip(T_s T_c z) + mean_hw(S)     1x1 conv k -> c
// LST compresses only the content (the style enters through T_s alone). The computation itself
// is the Learned Fusion (stylenet/fusion_learned.cpp), which splits cnet's covariance over tiles.
//
// Started at WCT (FusionStart::WCT) the same network is a correction on top of closed-form WCT:
//   t = WCT(C, S) + unzip(T_s T_c z)
// with unzip starting at zero, so that at step 0 the fusion is exactly WCT and training can only
// move it to where the objective is lower. WCT works on all c channels: a WCT of the k
// compressed channels would start from a projection that drops c - k of them (224 of relu3_1's
// 256), below plain WCT. The correction ranges over the k-dimensional subspace compress/unzip
// learn. (For this start the style's mean comes in through WCT, not added to unzip's output.)
#pragma once
#include <memory>
#include <string>

#include "layers/layers.h"

namespace sn {

// How W starts: LST's near-identity (StyleModel's constructor explains it) or exactly WCT.
enum class FusionStart { Identity, WCT };
const char* fusion_start_name(FusionStart start);  // "identity", "wct"
FusionStart parse_fusion_start(const std::string& name);  // throws sn::Error naming the choices

// The LST compressor branch ("CNN" in LST's libs/Matrix.py): three 3x3 convs with zero padding 1
// (c -> c/2 -> c/4 -> k, ReLU between), then the k x k covariance of the result divided by h*w,
// flattened, through Linear(k*k, k*k). Output [N, k*k]. Keys: convs.{0,2,4}.{weight,bias},
// fc.{weight,bias}, as LST's.
class LstBranch : public Module {
 public:
  LstBranch(int64_t channels, int64_t k, Generator* gen = nullptr);
  // from_covariance(second_moments(convs(x)) / (h * w)).
  Tensor forward(const Tensor& x) override;
  // The k x k sums f f^T over the pixels of feature maps f [N, k, h, w]: [N, k, k].
  static Tensor second_moments(const Tensor& f);
  // fc of a flattened covariance [N, k, k] -> [N, k * k].
  Tensor from_covariance(const Tensor& cov);
  std::string extra_repr() const override;

  std::shared_ptr<Sequential> convs;
  std::shared_ptr<Linear> fc;

 private:
  int64_t channels_, k_;
};

// Submodule keys, in this order: snet, cnet, compress, unzip, as LST's state_dict. Channels must
// be >= 4 (the branches use c/2 and c/4 channels).
class LearnedFusion : public Module {
 public:
  static constexpr int64_t kDefaultK = 32;

  // Parameters drawn as PyTorch's MulLayer draws them; StyleModel then sets where W starts (the
  // fc biases for the identity start, unzip at zero for WCT's).
  explicit LearnedFusion(int64_t channels, int64_t k = kDefaultK, Generator* gen = nullptr,
                         FusionStart start = FusionStart::Identity);

  // The fused features t [N, c, h, w]: fuse(FusionMethod::Learned, C, S, this). Differentiable
  // with respect to C, S and every parameter. S has batch N or 1.
  Tensor fuse(const Tensor& C, const Tensor& S) const;
  // Module::forward has one input; fusion needs two. Throws, pointing at fuse().
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t channels() const { return channels_; }
  int64_t k() const { return k_; }
  FusionStart start() const { return start_; }

  std::shared_ptr<LstBranch> snet, cnet;
  std::shared_ptr<Conv2d> compress, unzip;

 private:
  int64_t channels_, k_;
  FusionStart start_;
};

}  // namespace sn
