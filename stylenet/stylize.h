// Stylizing a content image with one or more style images: encode, fuse, decode.
//
// Large images run with bounded memory: the convolution passes (encoder and decoder) go over
// overlapping tiles (stylenet/tiling.h), while everything the fusion needs from the whole content
// image (channel means, variances or covariances, the learned fusion's content matrix T_c) is
// accumulated over all tiles first (stylenet/fusion.h). Because fusion statistics are global and
// each tile's margin covers the networks' receptive fields, tiled and untiled results agree to
// float rounding: no seams. Untiled, the result is exactly decode(fuse(C, S)).
#pragma once
#include <vector>

#include "stylenet/fusion.h"
#include "stylenet/style_cache.h"
#include "stylenet/style_model.h"
#include "vision/vgg16.h"

namespace sn {

struct StyleImage {
  Tensor image;         // [1, 3, h, w] RGB in [0, 1]
  double weight = 1.0;  // relative weight among several styles (normalised to sum to 1)
};

struct StylizeOptions {
  FusionMethod method = FusionMethod::Learned;  // at the model's tap
  // Then, with style images, at each shallower level the model has (StyleModel::levels), deepest
  // first: encode the result so far at the level's tap, fuse with `level_method`, decode with the
  // level's decoder. alpha applies at every level.
  bool multi_level = false;
  FusionMethod level_method = FusionMethod::WCT;
  double alpha = 1.0;           // style strength: fused features alpha * t + (1 - alpha) * C
  // The strength at each shallower level, deepest first (relu2_1, relu1_1 for the default
  // model); a level without an entry takes alpha. Lower values keep more of the photo's edges
  // where the shallow levels would add the style's fine texture.
  std::vector<double> level_alpha;
  bool preserve_color = false;  // keep the content's colours (luminance-only transfer)
  int64_t tile = 512;           // tile side in pixels for the convolution passes; 0 = no tiling
  int64_t border = 16;          // reflection padding around the photo while stylizing (edge artefacts)
  // Encoder features of tiles kept between the passes (else recomputed per pass): 256 MB holds a
  // 1024 px photo's whole at relu3_1 (about 90 MB) and bounds what a 4K photo adds to its peak.
  int64_t feature_cache_bytes = int64_t{256} << 20;
  // Where each style's statistics are looked up before encoding it, and kept after (null: encoded
  // on every call). The caller's StyleCache must be for `model` (its identity names the model).
  const StyleCache* style_cache = nullptr;
};

// content [1, 3, H, W] in [0, 1] -> stylized [1, 3, H, W] in [0, 1]. `model` gives the decoder
// (every method), the learned fusion (method Learned) and the levels (multi_level). With no style images, a collection
// model paints in its built-in style (StyleModel::collection). Inference only (no autograd graph).
Tensor stylize(const Vgg16& encoder, const StyleModel& model, const Tensor& content,
               const std::vector<StyleImage>& styles, const StylizeOptions& options = {});

// Luminance transfer: the Y (BT.601) of `stylized` with the chroma of `content`.
Tensor transfer_luminance(const Tensor& stylized, const Tensor& content);

}  // namespace sn
