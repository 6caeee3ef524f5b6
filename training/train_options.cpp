#include "training/train_options.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "tensor/error.h"

namespace sn {

TrainStage parse_train_stage(const std::string& name) {
  if (name == "decoder") return TrainStage::Decoder;
  if (name == "fusion") return TrainStage::Fusion;
  if (name == "joint") return TrainStage::Joint;
  throw Error("unknown training stage '" + name + "' (choose decoder, fusion or joint)");
}

std::string train_stage_name(TrainStage stage) {
  return stage == TrainStage::Decoder ? "decoder" : stage == TrainStage::Fusion ? "fusion" : "joint";
}

namespace {

using S = TrainSetting;
using Scope = SettingScope;
constexpr int64_t kMany = 10000000;
// Learning rates: any positive rate a float holds. A rate that makes a run diverge is caught at the
// step where a loss or gradient stops being finite, which names the step and the layer.
constexpr double kMinRate = 1e-30, kMaxRate = 1e30;

void set_fusion_start(TrainOptions& o, const std::string& name) {
  o.model.fusion_start = parse_fusion_start(name);
  o.restart_fusion = true;
}

void set_tap(TrainOptions& o, const std::string& tap) {
  const auto& taps = decoder_taps();
  SN_CHECK(std::find(taps.begin(), taps.end(), tap) != taps.end(), "unknown tap '", tap,
           "' (choose relu1_1, relu2_1, relu3_1 or relu4_1)");
  o.model.tap = tap;
}

}  // namespace

// clang-format off
const std::vector<TrainSetting>& train_settings() {
  static const std::vector<TrainSetting> table = {
    {"stage", "S", "what learns: the decoder G, the fusion W (G frozen), or both", "stage",
     Scope::Any, S::Choice{[](const TrainOptions& o) { return train_stage_name(o.stage); },
                           [](TrainOptions& o, const std::string& v) { o.stage = parse_train_stage(v); },
                           "decoder|fusion|joint"}},
    {"content", "DIR", "photos (empty: $STYLENET_DATA/data/content)", "content_dir",
     Scope::Any, S::Text{[](TrainOptions& o) -> auto& { return o.content_dir; }}},
    {"style", "DIR", "artworks (empty: $STYLENET_DATA/data/style)", "style_dir",
     Scope::StyledStages, S::Text{[](TrainOptions& o) -> auto& { return o.style_dir; }}},
    {"steps", "N", "training steps", "steps",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.steps; }, 1, kMany}},
    {"batch", "N", "crops per step", "batch",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.batch; }, 1, 1024}},
    {"crop", "N", "side of the square training crops", "crop",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.crop; }, 32, 2048}},
    {"lr", "X", "Adam's peak rate: linear warm-up, then cosine decay to a twentieth", "lr",
     Scope::Any, S::Real{[](TrainOptions& o) -> auto& { return o.lr; }, kMinRate, kMaxRate}},
    {"clip-grad", "X", "largest norm of the generator's gradients, rescaled above it (0: off)", "clip_grad",
     Scope::Any, S::Real{[](TrainOptions& o) -> auto& { return o.clip_grad; }, 0, 1e9}},
    {"warmup", "N", "warm-up steps", "warmup",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.warmup; }, 0, kMany}},
    {"seed", "N", "initialisation, batches and noise are functions of (seed, step)", "seed",
     Scope::Any, S::Unsigned{[](TrainOptions& o) -> auto& { return o.seed; }}},
    {"checkpoint-every", "N", "steps between checkpoints (and at the end)", nullptr,
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.checkpoint_every; }, 1, kMany}},
    {"sample-every", "N", "steps between sample sheets (0: only at the end)", nullptr,
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.sample_every; }, 0, kMany}},
    {"max-images", "N", "use at most N images of each folder, evenly spaced (0: all)", "max_images",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.max_images; }, 0, kMany}},
    {"holdout", "N", "leave every N-th image of each folder out (for `stylenet judge`)", "holdout",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.holdout; }, 0, 1000}},
    {"tap", "T", "encoder tap the fusion works on", nullptr,
     Scope::NewModel, S::Choice{[](const TrainOptions& o) { return o.model.tap; }, set_tap, "relu1_1|relu2_1|relu3_1|relu4_1"}},
    {"decoder-width", "X", "decoder hidden-channel multiplier", nullptr,
     Scope::NewModel, S::Real{[](TrainOptions& o) -> auto& { return o.model.decoder_width; }, 0.05, 4.0}},
    {"k", "N", "the learned fusion's compressed channels", nullptr,
     Scope::NewModel, S::Integer{[](TrainOptions& o) -> auto& { return o.model.k; }, 1, 512}},
    {"fusion-start", "S", "start W afresh at LST's near-identity or exactly at WCT (learning a correction)", nullptr,
     Scope::FreshFusion, S::Choice{[](const TrainOptions& o) -> std::string { return fusion_start_name(o.model.fusion_start); },
                                   set_fusion_start, "identity|wct"}},
    {"content-weight", "X", "content loss to the fused target t", "w_content",
     Scope::StyledStages, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.content; }, 0, 1e9}},
    {"style-weight", "X", "mean/std style loss, summed over the style taps", "w_style",
     Scope::StyledStages, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.style; }, 0, 1e9}},
    {"gram-weight", "X", "Gram style loss, summed over the style taps", "w_gram",
     Scope::StyledStages, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.gram; }, 0, 1e9}},
    {"tv-weight", "X", "total variation of the output", "w_tv",
     Scope::StyledStages, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.tv; }, 0, 1e9}},
    {"photo-weight", "X", "content loss to the photo itself (keeps its structure)", "w_photo",
     Scope::StyledStages, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.photo; }, 0, 1e9}},
    {"pixel-weight", "X", "pixel MSE of the reconstruction", "w_pixel",
     Scope::DecoderStage, S::Real{[](TrainOptions& o) -> auto& { return o.pixel_weight; }, 0, 1e9}},
    {"perceptual-weight", "X", "feature MSE of the reconstruction at the tap", "w_perceptual",
     Scope::DecoderStage, S::Real{[](TrainOptions& o) -> auto& { return o.perceptual_weight; }, 0, 1e9}},
    {"stats-weight", "X", "mean/std loss of the reconstruction vs the photo at the style taps", "w_stats",
     Scope::DecoderStage, S::Real{[](TrainOptions& o) -> auto& { return o.stats_weight; }, 0, 1e9}},
    {"laplacian-weight", "X", "Laplacian (edge) loss to the photo, after a P x P average pool", "w_laplacian",
     Scope::Any, S::Real{[](TrainOptions& o) -> auto& { return o.loss.weights.laplacian; }, 0, 1e9}},
    {"laplacian-pool", "P", "the Laplacian loss's pool (1 for a sharp decoder)", "laplacian_pool",
     Scope::Any, S::Integer{[](TrainOptions& o) -> auto& { return o.loss.laplacian_pool; }, 1, 16}},
    {"adversarial", "DIR", "add a PatchGAN discriminator trained on the artworks in DIR", "adversarial",
     Scope::StyledStages, S::Text{[](TrainOptions& o) -> auto& { return o.adversarial.real_dir; }}},
    {"gan-loss", "L", "the GAN loss", "gan_loss",
     Scope::Adversarial, S::Choice{[](const TrainOptions& o) { return gan_loss_name(o.adversarial.loss); },
                                   [](TrainOptions& o, const std::string& v) { o.adversarial.loss = parse_gan_loss(v); },
                                   "lsgan|hinge"}},
    {"adv-weight", "X", "weight of the generator's GAN loss", "adv_weight",
     Scope::Adversarial, S::Real{[](TrainOptions& o) -> auto& { return o.adversarial.weight; }, 0, 1e6}},
    {"d-ratio", "N", "D updates per generator update", "d_ratio",
     Scope::Adversarial, S::Integer{[](TrainOptions& o) -> auto& { return o.adversarial.d_ratio; }, 1, 100}},
    {"d-lr", "X", "D's peak rate (same warm-up and decay as the generator's)", "d_lr",
     Scope::Adversarial, S::Real{[](TrainOptions& o) -> auto& { return o.adversarial.d_lr; }, kMinRate, kMaxRate}},
    {"d-base", "N", "channels of D's first conv", "d_base",
     Scope::Adversarial, S::Integer{[](TrainOptions& o) -> auto& { return o.adversarial.d.base; }, 1, 1024}},
    {"d-layers", "N", "D's stride-2 convs (3: 70x70 patches)", "d_layers",
     Scope::Adversarial, S::Integer{[](TrainOptions& o) -> auto& { return o.adversarial.d.layers; }, 1, 6}},
    {"d-scales", "N", "D's scales (1, 1/2, 1/4, ...)", "d_scales",
     Scope::Adversarial, S::Integer{[](TrainOptions& o) -> auto& { return o.adversarial.d.scales; }, 1, 4}},
    {"spectral-norm", nullptr, "spectral normalisation of D's convs", "d_spectral_norm",
     Scope::Adversarial, S::Switch{[](TrainOptions& o) -> auto& { return o.adversarial.d.spectral_norm; }}},
    {"pool", "N", "past outputs D draws its fakes from (0: only the newest)", "pool",
     Scope::Adversarial, S::Integer{[](TrainOptions& o) -> auto& { return o.adversarial.pool; }, 0, 100000}},
  };
  return table;
}
// clang-format on

namespace {

// The shortest text that reads back exactly: fixed notation where it is short ("0.0002"), else
// scientific ("1e-09").
std::string number_text(double v) {
  char fixed[400], sci[32];
  const auto f = std::to_chars(fixed, fixed + sizeof fixed, v, std::chars_format::fixed);
  const auto e = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  if (f.ec == std::errc() && f.ptr - fixed <= 8) return std::string(fixed, f.ptr);
  return std::string(sci, e.ptr);
}

[[noreturn]] void bad_number(const TrainSetting& s, const char* what, double lo, double hi, const std::string& text) {
  throw Error(std::string("expects ") + what + " from " + number_text(lo) + " to " + number_text(hi) +
              ", got '" + text + "'");
}

int64_t parse_integer(const TrainSetting& s, const std::string& text, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    bad_number(s, "an integer", static_cast<double>(lo), static_cast<double>(hi), text);
  return v;
}

double parse_real(const TrainSetting& s, const std::string& text, double lo, double hi) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < lo || v > hi)
    bad_number(s, "a number", lo, hi, text);
  return v;
}

// The setting's field in `o` as a number (nullopt for text, switches and choices).
std::optional<double> number_of(const TrainSetting& s, const TrainOptions& o) {
  auto& m = const_cast<TrainOptions&>(o);  // the accessors are shared by reads and writes
  if (auto* f = std::get_if<S::Integer>(&s.field)) return static_cast<double>(f->field(m));
  if (auto* f = std::get_if<S::Real>(&s.field)) return f->field(m);
  return std::nullopt;
}

}  // namespace

bool is_switch(const TrainSetting& s) { return std::holds_alternative<S::Switch>(s.field); }

std::string setting_text(const TrainSetting& s, const TrainOptions& o) {
  auto& m = const_cast<TrainOptions&>(o);
  if (auto* f = std::get_if<S::Integer>(&s.field)) return std::to_string(f->field(m));
  if (auto* f = std::get_if<S::Unsigned>(&s.field)) return std::to_string(f->field(m));
  if (auto* f = std::get_if<S::Real>(&s.field)) return number_text(f->field(m));
  if (auto* f = std::get_if<S::Text>(&s.field)) return f->field(m);
  if (auto* f = std::get_if<S::Switch>(&s.field)) return f->field(m) ? "1" : "0";
  return std::get<S::Choice>(s.field).get(o);
}

void set_setting(const TrainSetting& s, TrainOptions& o, const std::string& text) {
  if (auto* f = std::get_if<S::Integer>(&s.field)) f->field(o) = parse_integer(s, text, f->lo, f->hi);
  else if (auto* f = std::get_if<S::Unsigned>(&s.field)) f->field(o) = static_cast<uint64_t>(parse_integer(s, text, 0, INT64_MAX));
  else if (auto* f = std::get_if<S::Real>(&s.field)) f->field(o) = parse_real(s, text, f->lo, f->hi);
  else if (auto* f = std::get_if<S::Text>(&s.field)) f->field(o) = text;
  else if (auto* f = std::get_if<S::Switch>(&s.field)) f->field(o) = text == "1";
  else std::get<S::Choice>(s.field).set(o, text);
}

Metadata settings_metadata(const TrainOptions& o) {
  Metadata m;
  for (const TrainSetting& s : train_settings())
    if (s.key) m[s.key] = setting_text(s, o);
  return m;
}

void restore_settings(TrainOptions& o, const Metadata& m) {
  for (const TrainSetting& s : train_settings()) {
    if (!s.key || !m.count(s.key)) continue;
    try {
      set_setting(s, o, m.at(s.key));
    } catch (const Error& e) {
      throw Error(std::string("checkpoint: bad '") + s.key + "' (" + e.what() + ")");
    }
  }
}

void check_settings(const TrainOptions& o) {
  for (const TrainSetting& s : train_settings()) {
    const std::optional<double> v = number_of(s, o);
    if (!v) continue;
    double lo = 0, hi = 0;
    if (auto* f = std::get_if<S::Integer>(&s.field)) lo = static_cast<double>(f->lo), hi = static_cast<double>(f->hi);
    if (auto* f = std::get_if<S::Real>(&s.field)) lo = f->lo, hi = f->hi;
    SN_CHECK(*v >= lo && *v <= hi, "train: ", s.flag, " is ", number_text(*v), ", outside [", number_text(lo), ", ",
             number_text(hi), "]");
  }
  SN_CHECK(!o.adversarial.enabled() || o.stage != TrainStage::Decoder,
           "train: the adversarial term needs the fusion or joint stage");
}

std::string settings_help() {
  const TrainOptions defaults;
  std::string out;
  for (const TrainSetting& s : train_settings()) {
    std::string head = std::string("  --") + s.flag;
    if (auto* c = std::get_if<S::Choice>(&s.field)) head += std::string(" ") + c->choices;
    else if (s.value) head += std::string(" ") + s.value;
    head.resize(std::max<size_t>(head.size() + 2, 26), ' ');
    const std::string def = setting_text(s, defaults);
    out += head + s.help;
    if (!is_switch(s) && !def.empty()) out += " (" + def + ")";
    out += "\n";
  }
  return out;
}

}  // namespace sn
