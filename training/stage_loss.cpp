// The loss each training stage minimises (train.h, stage_loss).
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "training/train.h"

namespace sn {

namespace {

// G inverts F: pixel MSE and the perceptual loss at the tap; optionally the texture statistics of
// the reconstruction vs the photo's at the style taps, and the Laplacian (edge) loss.
StageLoss decoder_stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& opt,
                             const Tensor& content) {
  const std::string& tap = model.config().tap;
  StyleLossConfig cfg = opt.loss;
  cfg.content_tap = tap;
  // One encoder pass over photo and reconstruction each: the tap, and the style taps if needed.
  const std::vector<std::string> taps = opt.stats_weight != 0 ? loss_taps(cfg) : std::vector<std::string>{tap};
  std::map<std::string, Tensor> target;
  {
    NoGradGuard ng;
    target = encoder.features(content, taps);
  }
  const Tensor& c = target.at(tap);
  StageLoss out;
  out.image = model.decoder->forward(c);
  const Tensor pix = mse_loss(out.image, content);
  const auto f = encoder.features(out.image, taps);
  const Tensor perc = content_loss(f.at(tap), c);
  out.total = pix * opt.pixel_weight + perc * opt.perceptual_weight;
  out.terms = {{"pixel", pix.item()}, {"perceptual", perc.item()}};
  if (opt.stats_weight != 0) {
    Tensor stats = Tensor::scalar(0.0, DType::Float32, content.device());
    for (const auto& t : cfg.style_taps) stats = stats + mean_std_loss(f.at(t), target.at(t));
    out.total = out.total + stats * opt.stats_weight;
    out.terms["stats"] = stats.item();
  }
  if (opt.loss.weights.laplacian != 0) {
    const Tensor lap = laplacian_loss(out.image, content, opt.loss.laplacian_pool);
    out.total = out.total + lap * opt.loss.weights.laplacian;
    out.terms["laplacian"] = lap.item();
  }
  return out;
}

// W (and in the joint stage G): the style-transfer objective on decode(fuse(F(photo), F(artwork))).
StageLoss styled_stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& opt,
                            const Tensor& content, const Tensor& style) {
  SN_CHECK(style.defined(), "stage_loss: the ", train_stage_name(opt.stage), " stage needs style images");
  StyleLossConfig cfg = opt.loss;
  cfg.content_tap = model.config().tap;
  Tensor c;
  std::map<std::string, Tensor> sf;
  {
    NoGradGuard ng;
    c = encoder.features(content, {cfg.content_tap}).at(cfg.content_tap);
    sf = encoder.features(style, loss_taps(cfg));
  }
  const Tensor t = model.fusion->fuse(c, sf.at(cfg.content_tap));
  StageLoss out;
  out.image = model.decoder->forward(t);
  // The fused features are the content target, not something W may move to ease the decoder.
  const LossTerms lt =
      style_transfer_loss(encoder.features(out.image, loss_taps(cfg)), t.detach(), sf, out.image, cfg, c, content);
  out.total = lt.total;
  out.terms = {{"content", lt.content.item()}, {"style", lt.style.item()}};
  const std::pair<const char*, const Tensor*> optional_terms[] = {
      {"gram", &lt.gram}, {"tv", &lt.tv}, {"photo", &lt.photo}, {"laplacian", &lt.laplacian}};
  for (const auto& [name, term] : optional_terms)
    if (term->defined()) out.terms[name] = term->item();
  return out;
}

}  // namespace

StageLoss stage_loss(const Vgg16& encoder, const StyleModel& model, const TrainOptions& opt, const Tensor& content,
                     const Tensor& style) {
  StageLoss out = opt.stage == TrainStage::Decoder ? decoder_stage_loss(encoder, model, opt, content)
                                                   : styled_stage_loss(encoder, model, opt, content, style);
  out.terms["loss"] = out.total.item();
  return out;
}

}  // namespace sn
