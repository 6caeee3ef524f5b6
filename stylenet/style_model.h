// The trained part of StyleNet: a decoder G and a learned fusion W on top of a frozen VGG16
// encoder F, saved together in one safetensors file with everything needed to use it again.
//
// A model only makes sense with the encoder it was trained on (the decoder inverts *those*
// features), so the file records the encoder's identity (Vgg16::identity().str()) and
// check_encoder() refuses any other with a clear message.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stylenet/decoder.h"
#include "stylenet/fusion.h"
#include "stylenet/learned_fusion.h"
#include "vision/vgg16.h"
#include "weights/safetensors.h"

namespace sn {

struct StyleModelConfig {
  std::string tap = "relu3_1";  // encoder tap the fusion works on ("relu3_1" or "relu4_1")
  double decoder_width = 0.5;   // Decoder hidden-channel multiplier
  int64_t k = 32;               // LearnedFusion's compressed channels
  FusionStart fusion_start = FusionStart::Identity;  // where W starts (a fresh model)
};

// A collection model's built-in style (`stylenet stylize --model vangogh` needs no style image):
// the average, over every artwork of a collection, of what the learned fusion takes from a style
// image: its mean features at the tap and its k x k transform T_s. T_s is linear in the style's
// feature covariance (snet's fc), so the average T_s is the T_s of the collection's average
// covariance: the style of the collection as a whole rather than of one painting.
struct CollectionStyle {
  std::string name;  // e.g. "vangogh"
  Tensor mean;       // [1, c, 1, 1]
  Tensor matrix;     // [1, k, k]
  // What the learned fusion takes from a style image, for Fusion::add_style.
  StyleStatistics statistics() const { return {.mean = mean, .transform = matrix}; }
};

// A shallower level of multi-level transfer (Li et al. 2017, Universal Style Transfer): a decoder
// that inverts the encoder at `tap`. Stylizing with levels fuses at the model's tap and decodes,
// then encodes that result at each level's tap, fuses again and decodes with the level's decoder:
// the shallow levels restore the low-level statistics (colour, fine texture) the deep decoder loses.
struct StyleLevel {
  std::string tap;  // shallower than the model's tap, e.g. "relu2_1"
  std::shared_ptr<Decoder> decoder;
};

class StyleModel {
 public:
  StyleModel(const StyleModelConfig& config, std::string encoder_identity, Generator* gen = nullptr);

  // Reads a file written by save(); throws sn::Error naming the file for anything else.
  static StyleModel load(const std::filesystem::path& path);
  // The same from a file's bytes; `source` names it in error messages.
  static StyleModel decode(std::string_view bytes, const std::string& source);
  // Atomic write; F16 halves the file (the shipped default model), Native keeps it exact.
  void save(const std::filesystem::path& path, StoredDType stored = StoredDType::Native,
            const Metadata& extra = {}) const;

  // What identifies the model's shape and encoder, as strings: "tap", "decoder_width", "k",
  // "encoder", "fusion_start" when W started at WCT (files without it started at the identity),
  // and "levels" ("relu2_1:1,relu1_1:1", tap:width) when it has levels. Model files and training checkpoints both carry it in their metadata.
  Metadata describe() const;
  // A model (freshly initialised) of the shape and encoder `m` describes; throws sn::Error naming
  // `source` for a missing, malformed or out-of-range entry.
  static StyleModel from_description(const Metadata& m, const std::string& source, Generator* gen = nullptr);

  // Adds `other`'s decoder as a level, then each of other's own levels (other.config().tap must be
  // shallower than this model's tap and than every level it has; same encoder). Levels are kept
  // deepest first: a model at relu4_1 takes a whole relu3_1 model with its levels below it.
  void add_level(const StyleModel& other);

  // `donor`'s W (and where it started) in place of this model's: a fusion stage that starts W
  // afresh on a decoder stage's model. Same tap and k.
  void take_fusion(const StyleModel& donor);

  // Throws unless `encoder` is the one this model was trained with.
  void check_encoder(const Vgg16& encoder) const;
  // Moves every network and the collection's statistics to `device` (stylize runs where the photo
  // is; save() writes the same bytes from either device).
  void to(Device device);

  // "decoder.*" and "fusion.*" keys, "level.<tap>.*" for each level, and
  // "collection.style_mean" / "collection.style_matrix" when the model has a built-in style.
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

  const StyleModelConfig& config() const { return config_; }
  const std::string& encoder_identity() const { return encoder_identity_; }
  const Metadata& metadata() const { return metadata_; }  // as read by load()

  std::shared_ptr<Decoder> decoder;
  std::shared_ptr<LearnedFusion> fusion;
  std::optional<CollectionStyle> collection;
  std::vector<StyleLevel> levels;  // deepest first; empty for a single-level model

 private:
  static StyleModel from_contents(SafetensorsContents contents, const std::filesystem::path& path);
  // A fresh W at config_.fusion_start.
  void make_fusion(Generator* gen);
  // Appends a level after checking it is shallower than the deepest part so far; `where` starts
  // the error message.
  void push_level(StyleLevel level, const std::string& where);

  StyleModelConfig config_;
  std::string encoder_identity_;
  Metadata metadata_;
};

// The built-in style of a collection of artworks (each [1, 3, h, w] in [0, 1]) for `model`.
CollectionStyle collection_style(const Vgg16& encoder, const StyleModel& model, const std::vector<Tensor>& artworks,
                                 const std::string& name);

// The shipped models: <prefix>/share/stylenet/models when StyleNet is installed there, else the
// source tree's models/.
std::filesystem::path models_dir();

// `--model` as a user gives it: a path to a model file, or the name of one shipped in models/
// ("vangogh" -> models/vangogh.safetensors).
std::filesystem::path resolve_model_path(const std::string& name_or_path);

// Where `stylenet stylize` looks for its model when none is given: $STYLENET_MODEL, else the
// default model shipped in the repository (models/default.safetensors, path compiled in).
std::filesystem::path default_model_path();

}  // namespace sn
