#include "stylenet/stylize.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/nn_ops.h"
#include "stylenet/methods.h"
#include "stylenet/tiling.h"
#include "tensor/error.h"
#include "vision/image.h"

namespace sn {

namespace {

void check_arguments(const StyleModel& model, const Tensor& content, const std::vector<StyleImage>& styles,
                     const StylizeOptions& opt) {
  SN_CHECK(content.dim() == 4 && content.size(0) == 1 && content.size(1) == 3,
           "stylize: content must be [1, 3, H, W], got ", shape_str(content.shape()));
  SN_CHECK(!styles.empty() || (model.collection && opt.method == FusionMethod::Learned),
           "stylize: no style image given (only a collection model, with the learned fusion, has a built-in style)");
  SN_CHECK(opt.level_method != FusionMethod::Learned || !opt.multi_level || model.levels.empty(),
           "stylize: the shallower levels fuse with adain or wct (the learned fusion exists at the model's tap only)");
  SN_CHECK(opt.alpha >= 0 && opt.alpha <= 1, "stylize: alpha must be in [0, 1], got ", opt.alpha);
  SN_CHECK(opt.level_alpha.empty() || (opt.multi_level && opt.level_alpha.size() <= model.levels.size()),
           "stylize: ", opt.level_alpha.size(), " level strengths for a model with ", model.levels.size(),
           " shallower levels", opt.multi_level ? "" : " (and a single-level method)");
  for (double a : opt.level_alpha) SN_CHECK(a >= 0 && a <= 1, "stylize: level strengths must be in [0, 1], got ", a);
  for (const StyleImage& s : styles) {
    SN_CHECK(s.image.dim() == 4 && s.image.size(0) == 1 && s.image.size(1) == 3,
             "stylize: style must be [1, 3, h, w], got ", shape_str(s.image.shape()));
    SN_CHECK(s.weight >= 0, "stylize: style weights must be >= 0");
  }
  const int64_t ds = Decoder::tap_downsampling(model.config().tap);
  SN_CHECK(content.size(2) >= 2 * ds && content.size(3) >= 2 * ds, "stylize: content image ", content.size(3), "x",
           content.size(2), " is too small (at least ", 2 * ds, " pixels a side)");
}

// Whether statistics from the style cache have the channels of each tap (and the model's k).
bool fit_taps(const std::vector<StyleStatistics>& stats, const std::vector<std::string>& taps, const StyleModel& model) {
  if (stats.size() != taps.size()) return false;
  for (size_t i = 0; i < taps.size(); ++i) {
    if (stats[i].mean.size(1) != Decoder::tap_channels(taps[i])) return false;
    if (stats[i].transform.defined() && stats[i].transform.size(1) != model.config().k) return false;
  }
  return true;
}

// One fusion per tap (the model's, then each level's), each holding every style's statistics at
// its tap: each style image is encoded once, down to the deepest tap, and its features dropped as
// soon as the statistics are taken. With no style images, the model's built-in style at its tap.
std::vector<std::unique_ptr<Fusion>> fusions_with_styles(const Vgg16& encoder, const StyleModel& model,
                                                        const std::vector<std::string>& taps,
                                                        const std::vector<StyleImage>& styles,
                                                        const StylizeOptions& opt) {
  std::vector<std::unique_ptr<Fusion>> fusions;
  std::string request = "encoder " + encoder.identity().str() + "; eps " + std::to_string(kFusionEps);
  for (size_t i = 0; i < taps.size(); ++i) {
    const FusionMethod method = i == 0 ? opt.method : opt.level_method;
    fusions.push_back(Fusion::make(method, model.fusion.get()));
    request += "; " + taps[i] + " " + fusion_method_name(method);
  }
  if (styles.empty()) fusions[0]->add_style(model.collection->statistics());
  for (const StyleImage& s : styles) {
    const StyleCache* cache = s.image.device() == Device{} ? opt.style_cache : nullptr;
    const std::string key = cache ? cache->key(s.image, request) : std::string();
    std::optional<std::vector<StyleStatistics>> stats = cache ? cache->find(key) : std::nullopt;
    if (stats && !fit_taps(*stats, taps, model)) stats.reset();  // a file of other shapes: encode again
    if (!stats) {
      const std::map<std::string, Tensor> S = encoder.features(s.image, taps);
      stats.emplace();
      for (size_t i = 0; i < taps.size(); ++i) {
        const Tensor& F = S.at(taps[i]);
        SN_CHECK(F.size(2) * F.size(3) >= 2, "stylize: style image too small");
        stats->push_back(fusions[i]->style_statistics(F));
      }
      if (cache) cache->keep(key, *stats);
    }
    for (size_t i = 0; i < taps.size(); ++i) fusions[i]->add_style(std::move((*stats)[i]), s.weight);
  }
  return fusions;
}

// One level: encode `image` at `tap`, fuse, decode with `decoder`; tiled, with whole-image
// fusion statistics. Returns the decoded image, unclamped, cropped to the input's size.
Tensor stylize_level(const Vgg16& encoder, const std::string& tap, Decoder& decoder, Fusion& fusion,
                     const Tensor& image, double alpha, const StylizeOptions& opt) {
  const TileGrid grid(image, opt.tile, opt.border, Decoder::tap_downsampling(tap), tile_margin(tap));
  TileFeatures features(encoder, grid, tap, opt.feature_cache_bytes);
  // Phase 1: the content's whole-image statistics, over every tile's own region.
  for (int pass = 0; pass < fusion.content_passes(); ++pass) {
    for (size_t i = 0; i < grid.tiles().size(); ++i) fusion.add_content(features.get(i), grid.own_features(i));
    fusion.end_pass();
  }
  // Phase 2: fuse and decode each tile; keep its own region.
  Tensor out = Tensor::empty(grid.padded().shape(), DType::Float32, image.device());
  for (size_t i = 0; i < grid.tiles().size(); ++i)
    grid.paste(i, decoder.forward(fusion.apply(features.take(i), alpha)), out);
  return grid.unpad(out);
}

}  // namespace

Tensor transfer_luminance(const Tensor& stylized, const Tensor& content) {
  SN_CHECK(stylized.shape() == content.shape(), "transfer_luminance: shapes differ, ", shape_str(stylized.shape()),
           " vs ", shape_str(content.shape()));
  // RGB = content RGB + (Y_stylized - Y_content) keeps the content's chroma exactly (BT.601 YUV is
  // linear, and adding a grey offset changes only Y).
  return clamp(content + (luma(stylized) - luma(content)), 0.0, 1.0);
}

Tensor stylize(const Vgg16& encoder, const StyleModel& model, const Tensor& content,
               const std::vector<StyleImage>& styles, const StylizeOptions& opt) {
  NoGradGuard no_grad;
  check_arguments(model, content, styles, opt);
  model.check_encoder(encoder);
  // The model's tap, then (with style images) each shallower level's.
  std::vector<std::string> taps = {model.config().tap};
  if (opt.multi_level && !styles.empty())
    for (const StyleLevel& level : model.levels) taps.push_back(level.tap);
  const auto fusions = fusions_with_styles(encoder, model, taps, styles, opt);
  Tensor result = content;
  for (size_t i = 0; i < taps.size(); ++i) {
    Decoder& decoder = i == 0 ? *model.decoder : *model.levels[i - 1].decoder;
    const double alpha = i == 0 || i > opt.level_alpha.size() ? opt.alpha : opt.level_alpha[i - 1];
    result = clamp(stylize_level(encoder, taps[i], decoder, *fusions[i], result, alpha, opt), 0.0, 1.0);
  }
  if (opt.preserve_color) result = transfer_luminance(result, content);
  return result;
}

}  // namespace sn
