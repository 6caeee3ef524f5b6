// Differentiable losses of style transfer, on VGG16 feature maps [N, c, h, w] (Vgg16::features:
// RGB input in [0, 1], ImageNet mean/std normalisation applied inside the encoder) and on images.
// Every function is built from autograd ops and returns a 0-d tensor.
//
// The style target may have batch 1 against a batch of N outputs (one style for all): targets
// broadcast over the batch. Spatial sizes of output and style features may differ (the statistics
// are per channel).
#pragma once
#include <string>
#include <vector>

#include "autograd/nn_ops.h"

namespace sn {

// Gram matrix G[n] = F[n] F[n]^T / (c * h * w), F[n] reshaped to [c, h*w]; shape [N, c, c].
// Dividing by c*h*w (not h*w) is Johnson et al.'s and LST's normalisation: it makes the Gram
// loss of different taps comparable even though deeper taps have more channels.
Tensor gram(const Tensor& F);

// mean((mu(F) - mu(Fs))^2) + mean((sigma(F) - sigma(Fs))^2) over (n, channel), with mu and sigma
// from channel_mean_std (stylenet/fusion.h: unbiased variance, eps = 1e-5): AdaIN's style loss.
Tensor mean_std_loss(const Tensor& F, const Tensor& Fs);

// mean((gram(F) - gram(Fs))^2) over (n, i, j).
Tensor gram_loss(const Tensor& F, const Tensor& Fs);

// mean((F - Ft)^2): the content (feature reconstruction) loss.
Tensor content_loss(const Tensor& F, const Tensor& Ft);

// Squared total variation: mean of the squared vertical neighbour differences plus mean of the
// squared horizontal ones, of img [N, C, H, W] (H, W >= 2). The squared form is smooth (no kink
// at equal neighbours) and penalises the high-frequency noise decoders make early in training.
Tensor total_variation(const Tensor& img);

// Loss weights. The defaults are AdaIN's (Huang & Belongie 2017, naoto0804/pytorch-AdaIN:
// content 1, mean/std style 10 summed over four taps, each term a mean-reduced MSE exactly as
// here). Both encoders take [0, 1] RGB and normalise inside, but AdaIN's VGG19 weights were
// rescaled (Gatys et al.) to a mean activation of 1 per filter, while torchvision's VGG16 ones
// are not, so deeper taps here carry larger values and dominate the sum more. The weights have
// not been re-tuned for this encoder: trainers should log each weighted term and rebalance if
// one dominates by orders of magnitude.
struct LossWeights {
  double content = 1.0;  // content_loss at the content tap
  double style = 10.0;   // mean_std_loss, summed over the style taps
  double gram = 0.0;     // gram_loss, summed over the style taps (off by default: AdaIN/LST style)
  double tv = 0.0;       // total_variation of the output image (off: the decoder is smooth)
};

struct StyleLossConfig {
  LossWeights weights;
  // The tap whose features the content loss compares (the decoder output's features vs the fused
  // target t): the fusion tap.
  std::string content_tap = "relu4_1";
  // The default style taps: one per VGG16 block up to block 4, the last ReLU of each (Johnson et
  // al. 2016's choice for VGG16).
  std::vector<std::string> style_taps = {"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
};

}  // namespace sn
