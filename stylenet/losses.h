// Differentiable losses of style transfer, on VGG16 feature maps [N, c, h, w] (Vgg16::features:
// RGB input in [0, 1], ImageNet mean/std normalisation applied inside the encoder) and on images.
// Every function is built from autograd ops and returns a 0-d tensor.
//
// The style target may have batch 1 against a batch of N outputs (one style for all): targets
// broadcast over the batch. Spatial sizes of output and style features may differ (the statistics
// are per channel).
#pragma once
#include <map>
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

// Lapstyle's structure loss (Li et al. 2017, "Laplacian-Steered Neural Style Transfer"):
// mean((L(P(y(img))) - L(P(y(photo))))^2) over [N, 1, h', w'], where y is Rec. 601 luma, P an
// average pool of `pool` x `pool` (1 = none) and L the 3x3 Laplacian [0 1 0; 1 -4 1; 0 1 0]
// without padding. Feature losses let a decoder blur: relu3_1 barely changes when an edge is
// softened, this loss does (an edge blurred or moved and an edge added cost alike). Luma
// because structure lives in brightness while a style may change every colour (and it is what
// edge SSIM compares); pooling leaves texture finer than the pool free for the style.
// img and photo [N, 3, H, W] with H, W >= 3 * pool; photo may have batch 1.
Tensor laplacian_loss(const Tensor& img, const Tensor& photo, int64_t pool = 1);

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
  // content_loss between the output's features and the *photo's* own at the content tap (the
  // content term above compares with the fused target t, which W is free to move away from the
  // photo): keeps the photo's structure when fine-tuning for a strong style.
  double photo = 0.0;
  // laplacian_loss between the output image and the photo (pool StyleLossConfig::laplacian_pool):
  // keeps its edges where they were, at the pixel level the feature losses do not see.
  double laplacian = 0.0;
};

struct StyleLossConfig {
  LossWeights weights;
  // The tap whose features the content loss compares (the decoder output's features vs the fused
  // target t): the fusion tap.
  std::string content_tap = "relu4_1";
  // The default style taps: one per VGG16 block up to block 4, the last ReLU of each (Johnson et
  // al. 2016's choice for VGG16).
  std::vector<std::string> style_taps = {"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
  int64_t laplacian_pool = 2;  // Lapstyle pools before its Laplacian so fine brushwork stays free
};

// Every tap the loss reads (the style taps, then the content tap if not among them), in the
// order to ask Vgg16::features for them in one pass.
std::vector<std::string> loss_taps(const StyleLossConfig& config);

// The terms of one training step, each unweighted (for logging), and their weighted sum.
struct LossTerms {
  Tensor total;    // content*w.content + style*w.style + gram*w.gram + tv*w.tv + photo*w.photo
                   //   + laplacian*w.laplacian
  Tensor content;  // content_loss at the content tap
  Tensor style;    // sum over style taps of mean_std_loss
  Tensor gram;     // sum over style taps of gram_loss (computed only when its weight is nonzero)
  Tensor tv;       // total_variation(image) (computed only when its weight is nonzero)
  Tensor photo;    // content_loss at the content tap vs the photo's features (likewise)
  Tensor laplacian;  // laplacian_loss(image, photo_image, config.laplacian_pool) (likewise)
};

// The style-transfer objective. `out` holds the features of the decoded image (loss_taps(config)
// of it), `content_target` the fused features t the decoder was given (at the content tap),
// `style` the style image's features at the style taps (batch 1 or N), `image` the decoded image
// (for TV), `photo_target` the photo's own features at the content tap (needed only when the
// photo weight is nonzero), `photo_image` the photo itself (needed only when the Laplacian weight
// is nonzero). Terms whose weight is 0 are left undefined and cost nothing.
LossTerms style_transfer_loss(const std::map<std::string, Tensor>& out, const Tensor& content_target,
                              const std::map<std::string, Tensor>& style, const Tensor& image,
                              const StyleLossConfig& config = {}, const Tensor& photo_target = Tensor(),
                              const Tensor& photo_image = Tensor());

}  // namespace sn
