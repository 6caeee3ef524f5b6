// The discriminator D of adversarial style transfer: pix2pix's PatchGAN (Isola et al. 2017,
// NLayerDiscriminator), which scores every overlapping patch of an image as real or fake instead
// of the whole image, optionally with spectral normalisation (Miyato et al. 2018) on every conv and
// at several scales (pix2pixHD, Wang et al. 2018).
//
// PatchDiscriminator (layers = n, c(k) = base * min(2^k, 8)):
//   Conv(3 -> c(0), 4x4, stride 2, pad 1), LeakyReLU(0.2)
//   for k = 1 .. n-1:  Conv(c(k-1) -> c(k), 4x4, stride 2, pad 1), InstanceNorm2d, LeakyReLU(0.2)
//   Conv(c(n-1) -> c(n), 4x4, stride 1, pad 1), InstanceNorm2d, LeakyReLU(0.2)
//   Conv(c(n) -> 1, 4x4, stride 1, pad 1)                       -> one logit per patch
// Zero padding; every conv has a bias (pix2pix drops it only before BatchNorm); InstanceNorm2d
// without affine parameters (pix2pix's 'instance' norm). With n = 3 each logit sees a 70x70 patch.
// With spectral_norm every conv is a SpectralNormConv2d (layers/spectral_norm.h).
//
// Layout: one Sequential registered as "model", so state_dict keys are model.<i>.weight /
// model.<i>.bias (model.<i>.bias, .weight_orig, .weight_u, .weight_v with spectral norm), i
// counting convs, norms and activations, exactly as torch.nn.Sequential names pix2pix's list.
//
// Discriminator holds `scales` PatchDiscriminators "d0", "d1", ... (keys d<s>.model.<i>...).
// Scale s sees the image average-pooled s times by pix2pixHD's downsampler: AvgPool2d(kernel 3,
// stride 2, padding 1, count_include_pad=false), which halves each side (rounding up).
//
// Input convention: Discriminator takes RGB images in [0, 1], [N, 3, H, W], and maps them to
// [-1, 1] (x * 2 - 1) itself, the range pix2pix's discriminators are trained on. A
// PatchDiscriminator used on its own takes its input as is.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/layers.h"

namespace sn {

struct DiscriminatorConfig {
  int64_t base = 64;           // channels of the first conv, >= 1
  int64_t layers = 3;          // pix2pix's n_layers (stride-2 convs), >= 1
  bool spectral_norm = false;  // SpectralNormConv2d for every conv
  int64_t scales = 1;          // PatchDiscriminators at 1, 1/2, 1/4, ... resolution, >= 1
};

class PatchDiscriminator : public Module {
 public:
  // `config.scales` is not used here (Discriminator's business).
  explicit PatchDiscriminator(const DiscriminatorConfig& config = {}, Generator* gen = nullptr);

  // x [N, 3, H, W] (any range) -> logits [N, 1, output_size(H), output_size(W)].
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const DiscriminatorConfig& config() const { return config_; }

  // The side of the input patch each logit sees: 70 for layers = 3 (34 for 2, 142 for 4).
  static int64_t receptive_field(int64_t layers);
  // The logit map's side for an input side; < 1 means the input is too small.
  static int64_t output_size(int64_t input_size, int64_t layers);
  // The smallest input side giving a logit map of side >= 1.
  static int64_t min_input_size(int64_t layers);

  std::shared_ptr<Sequential> model;

 private:
  DiscriminatorConfig config_;
};

class Discriminator : public Module {
 public:
  explicit Discriminator(const DiscriminatorConfig& config = {}, Generator* gen = nullptr);

  // images [N, 3, H, W] in [0, 1] -> one logit map per scale, [N, 1, h_s, w_s] (scale 0 first).
  std::vector<Tensor> forward_scales(const Tensor& images);
  // The first scale's logits only (the other scales are not run).
  Tensor forward(const Tensor& images) override;
  std::string extra_repr() const override;

  const DiscriminatorConfig& config() const { return config_; }
  PatchDiscriminator& scale(int64_t s) const;

  // pix2pixHD's downsampler between scales (see the header comment); differentiable.
  static Tensor downsample(const Tensor& x);
  // The logit map's side at scale s for an input side.
  static int64_t output_size(int64_t input_size, int64_t layers, int64_t scale);

 private:
  // Checks images [N, 3, H, W] and maps [0, 1] to [-1, 1].
  static Tensor to_signed(const Tensor& images);

  DiscriminatorConfig config_;
  std::vector<std::shared_ptr<PatchDiscriminator>> scales_;
};

}  // namespace sn
