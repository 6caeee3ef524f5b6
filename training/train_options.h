// What a training run is told: the stage, the data, the schedule, the loss weights, the
// discriminator. Each setting's default is declared here, in the struct; everything else about
// it (its flag, valid range, help line and checkpoint key) is one row of the table in
// train_options.cpp, from which `stylenet train`'s options, parser and help, the checkpoint's
// metadata and --resume are all derived. Adding a setting is a field here, a row there, and its use.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "stylenet/losses.h"
#include "stylenet/style_model.h"
#include "training/discriminator.h"
#include "training/gan.h"
#include "weights/safetensors.h"

namespace sn {

enum class TrainStage { Decoder, Fusion, Joint };
TrainStage parse_train_stage(const std::string& name);
std::string train_stage_name(TrainStage stage);

struct AdversarialOptions {
  std::string real_dir;       // artworks D learns as "real"; empty = no adversarial term
  DiscriminatorConfig d{.base = 32, .layers = 3, .spectral_norm = false, .scales = 1};  // 70x70 patches
  GanLoss loss = GanLoss::LSGAN;
  double weight = 0.1;        // of the generator's GAN loss in the stage loss. Measured (models/README.md):
                              // with the Laplacian term (the shipped vangogh recipe) 0.1 gave the best
                              // judge score with edge SSIM >= 0.5; 1 painted over the photo's edges
                              // (SSIM 0.36). D's accuracy with the Laplacian term: ~0.98 at 0.1 and
                              // 0.95 at 1 (a 2-layer D stays near 0.6); without it 0.67-0.75 at 0.1
                              // (5000 steps) and 0.58-0.75 at 1 (500 steps)
  int64_t d_ratio = 1;        // D updates per generator update
  double d_lr = 2e-4;         // D's Adam (beta1 0.5, as pix2pix/CycleGAN) peak rate; it follows the
                              // generator's warm-up and cosine decay, so that D does not outpace a
                              // generator whose rate has decayed (D's accuracy then runs to ~1)
  int64_t pool = 50;          // ImagePool capacity (CycleGAN's 50); 0 = D sees only the newest outputs
  bool enabled() const { return !real_dir.empty(); }
};

struct TrainOptions {
  TrainStage stage = TrainStage::Decoder;
  std::string content_dir, style_dir;   // default: $STYLENET_DATA/data/{content,style}
  std::string run_dir;                  // required
  std::string init_model;               // start from this model file (e.g. the decoder stage's)
  bool resume = false;                  // continue run_dir/checkpoint.safetensors
  Device device;                        // where the model trains (not recorded: a run resumes anywhere)
  StyleModelConfig model;               // for a fresh model
  bool restart_fusion = false;          // --fusion-start given: W starts afresh at model.fusion_start
  int64_t steps = 1000;
  int64_t batch = 4;
  int64_t crop = 128;
  double lr = 1e-3;
  double clip_grad = 0.0;               // > 0: the generator's gradients rescaled to at most this norm
  int64_t warmup = 50;                  // linear warm-up steps, then cosine decay to lr / 20
  uint64_t seed = 1;
  int64_t checkpoint_every = 100;
  int64_t sample_every = 200;           // 0 = only at the end
  int64_t max_images = 0;               // use at most this many files per folder (0 = all)
  int64_t holdout = 0;                  // > 1: leave every holdout-th file of each folder out (holdout_split)
  double pixel_weight = 1.0;            // decoder stage
  double perceptual_weight = 1.0;       // decoder stage
  // Decoder stage: mean/std loss of the reconstruction's features vs the photo's at the style taps
  // (loss.style_taps). Pixel and perceptual MSE reward the average of what a feature map allows, a
  // blur; the style loss at inference then lacks the fine texture's statistics, which this
  // term asks the decoder to render (`stylenet eval --methods decoded-optimize` measures it).
  double stats_weight = 0.0;
  StyleLossConfig loss;                 // fusion and joint stages (content_tap is set to the model's tap)
  AdversarialOptions adversarial;       // fusion and joint stages
};

// ---- The settings table ----

// Where a setting applies; `stylenet train` refuses it elsewhere.
enum class SettingScope {
  Any,
  DecoderStage,   // --stage decoder only
  StyledStages,   // --stage fusion or joint
  Adversarial,    // needs --adversarial DIR
  NewModel,       // the shape of a fresh model (a model from --init or a checkpoint has its own)
  FreshFusion,    // where W starts afresh: --stage fusion or joint, not --resume
};

struct TrainSetting {
  // How the setting reads and writes its field of TrainOptions, by kind.
  struct Integer { int64_t& (*field)(TrainOptions&); int64_t lo, hi; };
  struct Unsigned { uint64_t& (*field)(TrainOptions&); };
  struct Real { double& (*field)(TrainOptions&); double lo, hi; };
  struct Text { std::string& (*field)(TrainOptions&); };
  struct Switch { bool& (*field)(TrainOptions&); };
  struct Choice {
    std::string (*get)(const TrainOptions&);
    void (*set)(TrainOptions&, const std::string&);  // throws sn::Error naming the choices
    const char* choices;                            // "decoder|fusion|joint"
  };
  using Field = std::variant<Integer, Unsigned, Real, Text, Switch, Choice>;

  const char* flag;   // --flag
  const char* value;  // the value's name in the help ("N", "X", "DIR"); nullptr for a switch
  const char* help;   // one line
  const char* key;    // checkpoint metadata key; nullptr: not part of the run (may change on resume)
  SettingScope scope;
  Field field;
};

const std::vector<TrainSetting>& train_settings();

// The setting's value in `options`, as written in checkpoints and help texts.
std::string setting_text(const TrainSetting& setting, const TrainOptions& options);
// Parses `text` into `options` (range-checked); throws sn::Error naming the flag and the range.
void set_setting(const TrainSetting& setting, TrainOptions& options, const std::string& text);
bool is_switch(const TrainSetting& setting);

// Every keyed setting of `options`, for a checkpoint's metadata.
Metadata settings_metadata(const TrainOptions& options);
// The keyed settings a checkpoint's metadata has, into `options` (older checkpoints lack some:
// those keep the value they have).
void restore_settings(TrainOptions& options, const Metadata& metadata);
// Throws sn::Error naming the first setting out of its range.
void check_settings(const TrainOptions& options);

// The help lines of every setting, "  --flag VALUE   help (default D)", one per line.
std::string settings_help();

}  // namespace sn
